package flagaction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// expectation is what expect-current demands of the flag before a flip: a
// subset of the State's JSON.
type expectation struct {
	want map[string]any
	src  string
}

// parseExpect reads `on`, `off`, `rollout=10`, `default-variant=blue`
// (comma-separated terms) or a JSON object that is a subset of the State.
func parseExpect(s string) (*expectation, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	e := &expectation{want: map[string]any{}, src: s}
	if strings.HasPrefix(s, "{") {
		d := json.NewDecoder(strings.NewReader(s))
		if err := d.Decode(&e.want); err != nil {
			return nil, fmt.Errorf("%q is not a JSON object: %v", s, err)
		}
		fields := stateFields()
		for k := range e.want {
			if !fields[k] {
				return nil, fmt.Errorf("%q is not a field of the flag state (fields: %s)", k, strings.Join(sortedKeys(fields), ", "))
			}
		}
		return e, nil
	}
	for _, term := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		term = strings.TrimSpace(term)
		name, val, hasVal := strings.Cut(term, "=")
		name, val = strings.TrimSpace(strings.ToLower(name)), strings.TrimSpace(val)
		switch {
		case !hasVal && (name == "on" || name == "off"):
			e.want["enabled"] = name == "on"
		case hasVal && (name == "enabled" || name == "state"):
			b, ok := parseOnOff(val)
			if !ok {
				return nil, fmt.Errorf("%s=%s: want on or off", name, val)
			}
			e.want["enabled"] = b
		case hasVal && name == "rollout":
			n, err := strconv.Atoi(strings.TrimSuffix(val, "%"))
			if err != nil || n < -1 || n > 100 {
				return nil, fmt.Errorf("rollout=%s: want a percentage 0-100 (or -1 for no rollout)", val)
			}
			e.want["rollout"] = float64(n)
		case hasVal && (name == "default-variant" || name == "variant"):
			e.want["default-variant"] = val
		case hasVal && name == "rollout-variant":
			e.want["rollout-variant"] = val
		default:
			return nil, fmt.Errorf("%q: want on, off, rollout=N, default-variant=NAME, rollout-variant=NAME or a JSON object", term)
		}
	}
	return e, nil
}

func parseOnOff(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "on", "true", "enabled", "1", "yes":
		return true, true
	case "off", "false", "disabled", "0", "no":
		return false, true
	}
	return false, false
}

// mismatch returns why st is not as expected, or "".
func (e *expectation) mismatch(st flags.State) string {
	var have map[string]any
	b, _ := json.Marshal(st)
	_ = json.Unmarshal(b, &have)
	var diffs []string
	for _, k := range sortedKeys(e.want) {
		if !subset(e.want[k], have[k]) {
			got, _ := json.Marshal(have[k])
			want, _ := json.Marshal(e.want[k])
			if have[k] == nil {
				got = []byte("unset")
			}
			diffs = append(diffs, fmt.Sprintf("%s is %s, expected %s", k, got, want))
		}
	}
	return strings.Join(diffs, "; ")
}

// subset: every key of an expected object is there with a matching value;
// anything else must be equal.
func subset(want, have any) bool {
	if w, ok := want.(map[string]any); ok {
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !subset(v, h[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, have)
}

func stateFields() map[string]bool {
	out := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeOf(flags.State{})) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// stateJSON is the compact JSON of a state, for outputs.
func stateJSON(st flags.State) string {
	b, _ := json.Marshal(st)
	return string(b)
}

// compactJSON is raw as one line, for tables.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
