package trigger

import "sort"

// EventNames lists the events GitHub documents, sorted.
func EventNames() []string {
	names := make([]string, 0, len(activityTypes))
	for k := range activityTypes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// KnownEvent reports whether GitHub has an event of this name.
func KnownEvent(name string) bool {
	_, ok := activityTypes[name]
	return ok
}
