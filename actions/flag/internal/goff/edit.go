package goff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"gopkg.in/yaml.v3"
)

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// editor collects the splices of one Edit.
type editor struct {
	s       *source
	f       flagNode
	flow    bool // the flag is a flow mapping: {variations: ..., ...}
	indent  int  // column of the flag's keys, from 0
	unit    int  // one indentation step
	splices []splice
	added   []string // new entries: key and rendered value
}

func newEditor(src []byte, f flagNode) *editor {
	e := &editor{s: newSource(src), f: f, flow: f.val.Style&yaml.FlowStyle != 0, unit: 2}
	e.indent = indentOf(f.key) + e.unit
	if len(f.val.Content) > 0 && !e.flow {
		e.indent = indentOf(f.val.Content[0])
		if u := e.indent - indentOf(f.key); u > 0 {
			e.unit = u
		}
	}
	return e
}

// Edit implements flags.Document.
func (Document) Edit(src []byte, name string, c flags.Change) ([]byte, error) {
	_, f, err := findFlag(src, name)
	if err != nil {
		return nil, err
	}
	st, err := readFlag(f)
	if err != nil {
		return nil, err
	}
	e := newEditor(src, f)
	if c.Enabled != nil {
		if err := e.setDisable(!*c.Enabled); err != nil {
			return nil, err
		}
	}
	if c.DefaultVariant != nil || c.Rollout != nil {
		r, err := wantedRule(st, c)
		if err != nil {
			return nil, err
		}
		if err := e.setDefaultRule(r); err != nil {
			return nil, err
		}
	}
	if c.Targeting != nil {
		if err := e.setTargeting(c.Targeting, st.Targeting); err != nil {
			return nil, err
		}
	}
	if len(e.splices) == 0 && len(e.added) == 0 {
		return src, nil
	}
	if err := e.insertAdded(); err != nil {
		return nil, err
	}
	out := apply(src, e.splices)
	if err := checkEdit(out, name, c); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *editor) replace(n *yaml.Node, owner int, text string) error {
	end, err := e.s.end(n, owner)
	if err != nil {
		return err
	}
	e.splices = append(e.splices, splice{e.s.start(n), end, text})
	return nil
}

// replaceValue rewrites everything after key k's colon; text starts with
// " " for inline values or "\n" for block ones.
func (e *editor) replaceValue(k, v *yaml.Node, text string) error {
	from, err := e.s.colonEnd(k)
	if err != nil {
		return err
	}
	to, err := e.s.pairEnd(k, v)
	if err != nil {
		return err
	}
	e.splices = append(e.splices, splice{from, to, text})
	return nil
}

func (e *editor) setDisable(disable bool) error {
	if (e.f.dto.Disable != nil && *e.f.dto.Disable) == disable {
		return nil
	}
	text := strconv.FormatBool(disable)
	k, v := lookup(e.f.val, "disable")
	switch {
	case k == nil:
		e.added = append(e.added, "disable: "+text)
		return nil
	case v.Kind == yaml.ScalarNode && !isEmptyValue(v):
		return e.replace(v, indentOf(k), text)
	default:
		return e.replaceValue(k, v, " "+text)
	}
}

// rule is the default rule a change asks for: one variation, or a
// two-way percentage split.
type rule struct {
	variation string
	split     []string // rolled-out variation first
	percent   int
}

func wantedRule(st flags.State, c flags.Change) (rule, error) {
	def := st.DefaultVariant
	if c.DefaultVariant != nil {
		if _, ok := st.Variants[*c.DefaultVariant]; !ok {
			return rule{}, unknownVariant(st.Key, *c.DefaultVariant, st.Variants)
		}
		def = *c.DefaultVariant
	}
	if c.Rollout == nil {
		return rule{variation: def}, nil
	}
	r := *c.Rollout
	if r.Percent < 0 || r.Percent > 100 {
		return rule{}, fmt.Errorf("rollout percentage %d is out of range: give 0 to 100", r.Percent)
	}
	if _, ok := st.Variants[r.Variant]; !ok {
		return rule{}, unknownVariant(st.Key, r.Variant, st.Variants)
	}
	other := def
	if isBoolean(st.Variants) {
		for v := range st.Variants {
			if v != r.Variant {
				other = v
			}
		}
	}
	switch {
	case other == "":
		return rule{}, fmt.Errorf("flag %q has no default variation for the users outside the %d%% rollout of %q: set default-variant too", st.Key, r.Percent, r.Variant)
	case other == r.Variant:
		return rule{}, fmt.Errorf("flag %q: %q is already the default variation, so a rollout of it would change nothing: set default-variant to the variation the other users should get", st.Key, r.Variant)
	}
	return rule{split: []string{r.Variant, other}, percent: r.Percent}, nil
}

func (e *editor) setDefaultRule(r rule) error {
	dk, dv := lookup(e.f.val, "defaultRule")
	if dk == nil {
		e.added = append(e.added, "defaultRule:"+e.renderRule(r, nil, e.indent, e.flow))
		return nil
	}
	if dv.Kind == yaml.MappingNode {
		vk, vv := lookup(dv, "variation")
		pk, pv := lookup(dv, "percentage")
		progress, _ := lookup(dv, "progressiveRollout")
		switch {
		case r.split == nil && vk != nil && pk == nil && progress == nil:
			if vv.Value == r.variation && vv.Kind == yaml.ScalarNode {
				return nil
			}
			return e.replace(vv, indentOf(vk), scalar(r.variation))
		case r.split != nil && pk != nil && vk == nil && progress == nil:
			names, shares := percentages(pv)
			if slices.Equal(names, r.split) && shares[0] == float64(r.percent) && shares[1] == float64(100-r.percent) {
				return nil
			}
			if slices.Equal(names, r.split) {
				// Same split, new numbers: touch only the numbers.
				for i, p := range []int{r.percent, 100 - r.percent} {
					if shares[i] != float64(p) {
						if err := e.replace(pv.Content[2*i+1], indentOf(pv.Content[2*i]), strconv.Itoa(p)); err != nil {
							return err
						}
					}
				}
				return nil
			}
			flow := pv.Style&yaml.FlowStyle != 0 || e.flow
			return e.replaceValue(pk, pv, e.renderSplit(r, indentOf(pk)+e.unit, flow))
		}
	}
	flow := dv.Style&yaml.FlowStyle != 0 || e.flow
	return e.replaceValue(dk, dv, e.renderRule(r, dv, indentOf(dk), flow))
}

// renderRule writes a default rule value for a key at indent, keeping the
// old rule's name (scheduled rollouts refer to rules by name).
func (e *editor) renderRule(r rule, old *yaml.Node, indent int, flow bool) string {
	var entries []string
	if _, name := lookup(old, "name"); name != nil && name.Kind == yaml.ScalarNode {
		entries = append(entries, "name: "+scalar(name.Value))
	}
	child := indent + e.unit
	if old != nil && old.Kind == yaml.MappingNode && !flow && len(old.Content) > 0 {
		child = indentOf(old.Content[0])
	}
	if r.split == nil {
		entries = append(entries, "variation: "+scalar(r.variation))
	} else {
		entries = append(entries, "percentage:"+e.renderSplit(r, child+e.unit, flow))
	}
	if flow {
		return " {" + strings.Join(entries, ", ") + "}"
	}
	pad := "\n" + strings.Repeat(" ", child)
	return pad + strings.Join(entries, pad)
}

func (e *editor) renderSplit(r rule, indent int, flow bool) string {
	entries := []string{
		scalar(r.split[0]) + ": " + strconv.Itoa(r.percent),
		scalar(r.split[1]) + ": " + strconv.Itoa(100-r.percent),
	}
	if flow {
		return " {" + strings.Join(entries, ", ") + "}"
	}
	pad := "\n" + strings.Repeat(" ", indent)
	return pad + strings.Join(entries, pad)
}

func (e *editor) setTargeting(raw, current json.RawMessage) error {
	var rules any
	if err := json.Unmarshal(raw, &rules); err != nil {
		return fmt.Errorf("targeting for flag %q is not valid JSON: %w", e.f.name, err)
	}
	if _, ok := rules.([]any); !ok && rules != nil {
		return fmt.Errorf("targeting for flag %q must be a JSON array of GO Feature Flag rules (query, variation or percentage)", e.f.name)
	}
	var cur any
	if current != nil && json.Unmarshal(current, &cur) == nil && reflect.DeepEqual(normalise(cur), normalise(rules)) {
		return nil
	}
	tk, tv := lookup(e.f.val, "targeting")
	indent := e.indent
	flow := e.flow
	if tk != nil {
		indent = indentOf(tk)
		flow = flow || tv.Style&yaml.FlowStyle != 0
	}
	text, err := e.renderJSON(raw, indent+e.unit, flow)
	if err != nil {
		return err
	}
	if tk == nil {
		e.added = append(e.added, "targeting:"+text)
		return nil
	}
	return e.replaceValue(tk, tv, text)
}

// normalise makes a nil rule list and an empty one compare equal.
func normalise(v any) any {
	if l, ok := v.([]any); ok && len(l) == 0 {
		return nil
	}
	return v
}

// renderJSON writes JSON as YAML: flow style as JSON itself (valid YAML),
// block style through yaml.v3 with the key order kept.
func (e *editor) renderJSON(raw json.RawMessage, indent int, flow bool) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	if flow || buf.String() == "null" || buf.String() == "[]" {
		if buf.String() == "null" {
			return " []", nil
		}
		return " " + buf.String(), nil
	}
	n, err := jsonToNode(json.NewDecoder(bytes.NewReader(raw)))
	if err != nil {
		return "", fmt.Errorf("converting targeting to YAML: %w", err)
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(e.unit)
	if err := enc.Encode(n); err != nil {
		return "", fmt.Errorf("converting targeting to YAML: %w", err)
	}
	_ = enc.Close()
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		b.WriteString("\n")
		if line != "" {
			b.WriteString(pad + line)
		}
	}
	return b.String(), nil
}

// jsonToNode converts JSON to a yaml.Node, keeping object key order.
func jsonToNode(dec *json.Decoder) (*yaml.Node, error) {
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		kind, closing := yaml.MappingNode, json.Delim('}')
		if t == '[' {
			kind, closing = yaml.SequenceNode, ']'
		}
		n := &yaml.Node{Kind: kind}
		for dec.More() {
			if kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.(string)})
			}
			v, err := jsonToNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if end, err := dec.Token(); err != nil || end != closing {
			return nil, fmt.Errorf("unbalanced JSON")
		}
		return n, nil
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: t}, nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	default:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}

// insertAdded appends new entries after the flag's last entry.
func (e *editor) insertAdded() error {
	if len(e.added) == 0 {
		return nil
	}
	c := e.f.val.Content
	if len(c) == 0 {
		return fmt.Errorf("%s: flag %q is empty: write its variations and defaultRule first", e.s.nodePos(e.f.val), e.f.name)
	}
	at, err := e.s.pairEnd(c[len(c)-2], c[len(c)-1])
	if err != nil {
		return err
	}
	if !e.flow && at < len(e.s.src) && !strings.ContainsRune(" \t\r\n", rune(e.s.src[at])) {
		// Text glued to the flag's last value (`{variation: a}#`): a new
		// key spliced there would swallow it.
		return refuse("%s: flag %q ends with text right after its last value; put a space or a new line there first", e.s.nodePos(c[len(c)-1]), e.f.name)
	}
	var b strings.Builder
	for _, a := range e.added {
		if e.flow {
			b.WriteString(", " + a)
		} else {
			b.WriteString("\n" + strings.Repeat(" ", e.indent) + a)
		}
	}
	e.splices = append(e.splices, splice{at, at, b.String()})
	return nil
}

var plain = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$`)

// scalar writes s plainly when YAML reads it back as the same string, and
// double-quoted (JSON escapes are valid YAML) otherwise.
func scalar(s string) string {
	if plain.MatchString(s) {
		var back any
		if yaml.Unmarshal([]byte(s), &back) == nil && back == s {
			return s
		}
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func apply(src []byte, splices []splice) []byte {
	sort.Slice(splices, func(i, j int) bool { return splices[i].start > splices[j].start })
	out := slices.Clone(src)
	for _, s := range splices {
		out = slices.Concat(out[:s.start], []byte(s.text), out[s.end:])
	}
	return out
}

// checkEdit reads the edited file back and validates the flag with GO
// Feature Flag, so a bad splice or an invalid result is an error, not a
// commit.
func checkEdit(out []byte, name string, c flags.Change) error {
	_, f, err := findFlag(out, name)
	var got flags.State
	if err == nil {
		got, err = readFlag(f)
	}
	if err == nil {
		switch {
		case c.Enabled != nil && got.Enabled != *c.Enabled:
			err = fmt.Errorf("enabled is %t", got.Enabled)
		case c.Rollout != nil && (got.Rollout != c.Rollout.Percent || got.RolloutVariant != c.Rollout.Variant):
			err = fmt.Errorf("rollout is %q at %d%%", got.RolloutVariant, got.Rollout)
		case c.Rollout == nil && c.DefaultVariant != nil && got.DefaultVariant != *c.DefaultVariant:
			err = fmt.Errorf("default variation is %q", got.DefaultVariant)
		}
	}
	if err != nil {
		return fmt.Errorf("editing flag %q went wrong (please report this): %w: after the edit %w", name, ErrEditBug, err)
	}
	if err := f.libraryCheck(); err != nil {
		return fmt.Errorf("the change would make flag %q invalid: %w", name, err)
	}
	return nil
}
