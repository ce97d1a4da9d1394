package rollout

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Step is one entry of the steps input: a weight, or a pause.
type Step struct {
	Weight int           // canary share; 0 for pauses
	Pause  time.Duration // timed pause
	Manual bool          // pause until a later run promotes or resumes
}

func (s Step) String() string {
	switch {
	case s.Manual:
		return "pause"
	case s.Pause > 0:
		return "pause:" + s.Pause.String()
	}
	return strconv.Itoa(s.Weight) + "%"
}

// IsPause reports whether the step waits instead of shifting traffic.
func (s Step) IsPause() bool { return s.Manual || s.Pause > 0 }

// ParseSteps reads "10,25,pause:5m,50,pause,100": weights rise strictly and
// stay within 1-100; "pause" waits for a later run, "pause:DURATION" waits
// in this run. A rollout whose last weight is below 100 is promoted to 100
// after the last step.
func ParseSteps(s string) ([]Step, error) {
	var steps []Step
	last := 0
	for i, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		switch {
		case f == "pause":
			steps = append(steps, Step{Manual: true})
		case strings.HasPrefix(f, "pause:"):
			d, err := time.ParseDuration(strings.TrimPrefix(f, "pause:"))
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("step %d %q: a timed pause is pause:DURATION such as pause:30s or pause:5m", i+1, f)
			}
			steps = append(steps, Step{Pause: d})
		default:
			w, err := strconv.Atoi(strings.TrimSuffix(f, "%"))
			if err != nil {
				return nil, fmt.Errorf("step %d %q: use a weight 1-100, pause or pause:DURATION", i+1, f)
			}
			if w < 1 || w > 100 {
				return nil, fmt.Errorf("step %d: weight %d%% is outside 1-100", i+1, w)
			}
			if w <= last {
				return nil, fmt.Errorf("step %d: weight %d%% does not rise above the previous %d%%", i+1, w, last)
			}
			last = w
			steps = append(steps, Step{Weight: w})
		}
	}
	if last == 0 {
		return nil, fmt.Errorf("steps %q name no weight: use for example 10,25,50,100", s)
	}
	return steps, nil
}

// ParseWeights reads the rollback steps: weights falling strictly below the
// current one, e.g. "25,10" (0 is always the last).
func ParseWeights(s string) ([]int, error) {
	var out []int
	prev := 101
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
		w, err := strconv.Atoi(strings.TrimSuffix(f, "%"))
		if err != nil || w < 0 || w > 100 {
			return nil, fmt.Errorf("rollback step %q: use weights 0-100 such as 25,10", f)
		}
		if w >= prev {
			return nil, fmt.Errorf("rollback steps must fall: %d%% after %d%%", w, prev)
		}
		prev = w
		if w > 0 {
			out = append(out, w)
		}
	}
	return out, nil
}
