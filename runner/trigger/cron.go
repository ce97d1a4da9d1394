package trigger

import (
	"fmt"
	"strconv"
	"strings"
)

type cronField struct {
	name   string
	lo, hi int
	names  map[string]int
	extra  int // a value accepted beyond hi (7 for Sunday), -1 for none
}

var cronFields = [5]cronField{
	{name: "minute", lo: 0, hi: 59, extra: -1},
	{name: "hour", lo: 0, hi: 23, extra: -1},
	{name: "day of month", lo: 1, hi: 31, extra: -1},
	{name: "month", lo: 1, hi: 12, extra: -1, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}},
	{name: "day of week", lo: 0, hi: 6, extra: 7, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}},
}

// checkCron validates a 5-field POSIX cron expression as schedule accepts it:
// lists (,), ranges (-), steps (/), * and month/weekday names.
func checkCron(s string) error {
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return fmt.Errorf("need 5 fields (minute hour day-of-month month day-of-week), e.g. '30 5 * * 1-5', got %d", len(fields))
	}
	for i, f := range fields {
		cf := cronFields[i]
		for _, item := range strings.Split(f, ",") {
			if err := cf.checkItem(item); err != nil {
				// "field N: ..." is the form runner/workflow's golden files expect.
				return fmt.Errorf("field %d: %w", i+1, err)
			}
		}
	}
	return nil
}

func (cf cronField) checkItem(item string) error {
	if item == "" {
		return fmt.Errorf("empty list entry")
	}
	rng, step, hasStep := strings.Cut(item, "/")
	if hasStep {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > cf.hi+1 {
			return fmt.Errorf("step %q must be a number from 1 to %d", step, cf.hi+1)
		}
	}
	if rng == "*" {
		return nil
	}
	lo, hi, isRange := strings.Cut(rng, "-")
	a, err := cf.value(lo)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	b, err := cf.value(hi)
	if err != nil {
		return err
	}
	if b < a {
		return fmt.Errorf("range %s is backwards; write the smaller value first", rng)
	}
	return nil
}

func (cf cronField) value(s string) (int, error) {
	if n, ok := cf.names[strings.ToLower(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		if cf.names != nil {
			return 0, fmt.Errorf("%q is not a number from %d to %d or a name such as %s (%s)", s, cf.lo, cf.hi, someName(cf.names), cf.name)
		}
		return 0, fmt.Errorf("%q is not a number from %d to %d (%s)", s, cf.lo, cf.hi, cf.name)
	}
	if (n < cf.lo || n > cf.hi) && n != cf.extra {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, cf.lo, cf.hi)
	}
	return n, nil
}

func someName(names map[string]int) string {
	for k, v := range names {
		if v == 1 {
			return strings.ToUpper(k)
		}
	}
	return ""
}
