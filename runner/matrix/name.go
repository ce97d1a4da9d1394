package matrix

import (
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
)

// Values lists a cell's values as GitHub shows them in a job's default name:
// the keys in keys order (the dimensions as written), then any other keys of
// the cell (added by include) sorted. Objects and arrays contribute their
// leaf values in order (object keys sorted); empty strings and nulls are left
// out.
func Values(keys []string, cell map[string]any) []string {
	var out []string
	seen := make(map[string]bool, len(cell))
	add := func(k string) {
		if v, ok := cell[k]; ok && !seen[k] {
			seen[k] = true
			out = leaves(out, v)
		}
	}
	for _, k := range keys {
		add(k)
	}
	for _, k := range sortedKeys(cell) {
		add(k)
	}
	return out
}

func leaves(out []string, v any) []string {
	switch x := v.(type) {
	case nil:
		return out
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = leaves(out, x[k])
		}
		return out
	case []any:
		for _, e := range x {
			out = leaves(out, e)
		}
		return out
	}
	if s := expr.ToString(v); s != "" {
		out = append(out, s)
	}
	return out
}

// ID is the cell's values joined with ", " (e.g. "ubuntu-latest, 18"): the
// part GitHub puts in parentheses after the job name.
func ID(keys []string, cell map[string]any) string {
	return strings.Join(Values(keys, cell), ", ")
}

// Name is GitHub's default display name of a matrix job, e.g.
// "build (ubuntu-latest, 18)"; a cell without values gives jobName alone.
func Name(jobName string, keys []string, cell map[string]any) string {
	id := ID(keys, cell)
	if id == "" {
		return jobName
	}
	return jobName + " (" + id + ")"
}
