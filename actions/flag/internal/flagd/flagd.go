// Package flagd reads, edits, validates and evaluates flagd (OpenFeature)
// JSON flag definition files. Edits splice bytes into the original file so a
// flip changes only the values it must.
package flagd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

const (
	stateEnabled  = "ENABLED"
	stateDisabled = "DISABLED"
)

// DisabledKey is the count key Evaluate uses for users served nothing
// because the flag is disabled (flagd then answers with the caller's default).
const DisabledKey = "(disabled)"

// Document is the flagd JSON flag file format.
type Document struct{}

var _ flags.Document = Document{}

// Format implements flags.Document.
func (Document) Format() string { return "flagd" }

// flagNode is one flag's object inside a parsed file.
type flagNode struct {
	key string
	obj *node
}

// findFlag parses src and locates the flag object for key.
func findFlag(src []byte, key string) (*node, flagNode, error) {
	root, err := parseJSON(src)
	if err != nil {
		return nil, flagNode{}, jsonError(src, err)
	}
	fm, ok := root.get("flags")
	if !ok || fm.val.kind != '{' {
		return nil, flagNode{}, errors.New(`not a flagd flag file: no "flags" object at the top level`)
	}
	m, ok := fm.val.get(key)
	if !ok {
		return nil, flagNode{}, fmt.Errorf("flag %q is not in the file; its flags are: %s", key, strings.Join(flagKeys(fm.val), ", "))
	}
	if m.val.kind != '{' {
		return nil, flagNode{}, fmt.Errorf("%s: flag %q is not a JSON object", pos(src, m.val.start), key)
	}
	return root, flagNode{key: key, obj: m.val}, nil
}

func flagKeys(obj *node) []string {
	keys := make([]string, 0, len(obj.members))
	for _, m := range obj.members {
		if !slices.Contains(keys, m.key) {
			keys = append(keys, m.key)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return []string{"(none)"}
	}
	return keys
}

func pos(src []byte, off int) string {
	l, c := lineCol(src, off)
	return fmt.Sprintf("%d:%d", l, c)
}

func jsonError(src []byte, err error) error {
	var se *syntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s: invalid JSON: %s", pos(src, se.off), se.msg)
	}
	return err
}

// Read implements flags.Document.
func (Document) Read(src []byte, key string) (flags.State, error) {
	_, f, err := findFlag(src, key)
	if err != nil {
		return flags.State{}, err
	}
	return readFlag(src, f)
}

func readFlag(src []byte, f flagNode) (flags.State, error) {
	st := flags.State{Key: f.key, Rollout: -1}
	if m, ok := f.obj.get("state"); ok {
		if m.val.kind != '"' {
			return st, fmt.Errorf("%s: flag %q: \"state\" must be \"ENABLED\" or \"DISABLED\"", pos(src, m.val.start), f.key)
		}
		st.Enabled = m.val.str == stateEnabled
	}
	if m, ok := f.obj.get("variants"); ok {
		if m.val.kind != '{' {
			return st, fmt.Errorf("%s: flag %q: \"variants\" must be an object", pos(src, m.val.start), f.key)
		}
		if err := json.Unmarshal(m.val.raw(src), &st.Variants); err != nil {
			return st, fmt.Errorf("%s: flag %q: variants: %w", pos(src, m.val.start), f.key, err)
		}
	}
	if m, ok := f.obj.get("defaultVariant"); ok && m.val.kind == '"' {
		st.DefaultVariant = m.val.str
	}
	if m, ok := f.obj.get("targeting"); ok {
		var buf bytes.Buffer
		if err := json.Compact(&buf, m.val.raw(src)); err != nil {
			return st, fmt.Errorf("%s: flag %q: targeting: %w", pos(src, m.val.start), f.key, err)
		}
		st.Targeting = buf.Bytes()
		if fr, ok := parseFractional(src, m.val); ok {
			st.RolloutVariant, st.Rollout = fr.rollout(st.Variants, st.DefaultVariant)
		}
	}
	return st, nil
}

// fractional is a targeting that is nothing but a fractional split.
type fractional struct {
	bucketBy []byte // optional custom bucketing expression, raw
	variants []string
	weights  []float64
}

func parseFractional(src []byte, t *node) (fractional, bool) {
	var fr fractional
	if t.kind != '{' || len(t.members) != 1 || t.members[0].key != "fractional" {
		return fr, false
	}
	args := t.members[0].val
	if args.kind != '[' {
		return fr, false
	}
	elems := args.elems
	if len(elems) > 0 && elems[0].kind != '[' {
		fr.bucketBy = elems[0].raw(src)
		elems = elems[1:]
	}
	if len(elems) == 0 {
		return fr, false
	}
	for _, e := range elems {
		if e.kind != '[' || len(e.elems) == 0 || len(e.elems) > 2 || e.elems[0].kind != '"' {
			return fr, false
		}
		w := 1.0 // flagd's weight when none is given
		if len(e.elems) == 2 {
			if e.elems[1].kind != '0' {
				return fr, false
			}
			v, err := strconv.ParseFloat(string(e.elems[1].raw(src)), 64)
			if err != nil || v < 0 {
				return fr, false
			}
			w = math.Trunc(v) // flagd truncates weights to integers
		}
		fr.variants = append(fr.variants, e.elems[0].str)
		fr.weights = append(fr.weights, w)
	}
	return fr, true
}

// rollout names the variant being rolled out and its share: a one-way split
// is 100%; of a two-way split it is the first variant, except that a
// non-boolean flag whose split starts with its default variant rolls out the
// other one. Edit writes the rolled-out variant first, so it reads back.
func (fr fractional) rollout(variants map[string]any, defaultVariant string) (string, int) {
	var total float64
	for _, w := range fr.weights {
		total += w
	}
	if total == 0 || len(fr.variants) > 2 {
		return "", -1
	}
	i := 0
	if len(fr.variants) == 2 && !isBoolean(variants) &&
		fr.variants[0] == defaultVariant && fr.variants[1] != defaultVariant {
		i = 1
	}
	return fr.variants[i], int(math.Round(100 * fr.weights[i] / total))
}

func isBoolean(variants map[string]any) bool {
	if len(variants) != 2 {
		return false
	}
	for _, v := range variants {
		if _, ok := v.(bool); !ok {
			return false
		}
	}
	return true
}
