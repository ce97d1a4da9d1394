package analysis

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	suggestpkg "github.com/gantry-ci/gantry/internal/suggest"

	"gopkg.in/yaml.v3"
)

// decoder walks a YAML node tree and collects errors that point at the
// offending line and column, so a user can fix every mistake in one go.
type decoder struct {
	source string
	errs   []error
}

func (d *decoder) at(n *yaml.Node) string {
	return fmt.Sprintf("%s:%d:%d", d.source, n.Line, n.Column)
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s: %s", d.at(n), fmt.Sprintf(format, args...)))
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line N: msg" into source:line:col;
// yaml.v3 does not report a column, so the column is where that line's
// text starts.
func syntaxError(source string, src []byte, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s:1:1: invalid YAML: %v", source, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	line, _ := strconv.Atoi(m[1])
	col := 1
	if lines := strings.Split(string(src), "\n"); line >= 1 && line <= len(lines) {
		col += len(lines[line-1]) - len(strings.TrimLeft(lines[line-1], " "))
	}
	return fmt.Errorf("%s:%d:%d: invalid YAML: %s (check the indentation and quote values holding ': ' or '#')", source, line, col, m[2])
}

// fields checks that n is a mapping with only known keys and returns the
// value node of each key.
func (d *decoder) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of %s", what, strings.Join(known, ", "))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: keys must be plain names", what)
			continue
		}
		if !contains(known, k.Value) {
			d.errorf(k, "%s: unknown key %q%s (known keys: %s)", what, k.Value, suggest(k.Value, known), strings.Join(known, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "%s: key %q is given twice", what, k.Value)
			continue
		}
		out[k.Value] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// suggest names the known key closest to a misspelt one.
func suggest(s string, known []string) string {
	if best := suggestpkg.Closest(s, known); best != "" {
		return fmt.Sprintf(", did you mean %q?", best)
	}
	return ""
}

func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not a list or mapping", key)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, key string) string {
	s, _ := d.scalar(n, key)
	return s
}

func (d *decoder) integer(n *yaml.Node, key string, minimum int) int {
	s, ok := d.scalar(n, key)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < minimum {
		d.errorf(n, "%s must be a whole number of at least %d, not %q", key, minimum, s)
		return 0
	}
	return v
}

func (d *decoder) number(n *yaml.Node, key string) float64 {
	s, ok := d.scalar(n, key)
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, "%s must be a number, not %q", key, s)
		return 0
	}
	return v
}

// duration reads "300ms", "2m" or a bare number of seconds.
func (d *decoder) duration(n *yaml.Node, key string) time.Duration {
	s, ok := d.scalar(n, key)
	if !ok {
		return 0
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second))
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		d.errorf(n, "%s must be a duration such as 300ms, 30s or 2m, not %q", key, s)
		return 0
	}
	return v
}

func (d *decoder) list(n *yaml.Node, key string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list (items start with '- ')", key)
		return nil
	}
	return n.Content
}

func (d *decoder) stringMap(n *yaml.Node, key string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of names to values", key)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
			d.errorf(k, "%s: each entry must be name: value", key)
			continue
		}
		out[k.Value] = v.Value
	}
	return out
}
