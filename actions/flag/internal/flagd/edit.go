package flagd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
}

// layout is how a flag object is written, so inserted values look native.
type layout struct {
	multiline    bool
	memberIndent string // whitespace before the flag's member keys
	unit         string // one indentation step
	colon        string // between a key and its value, e.g. ": "
	comma        string // after a comma on one-line objects
}

func layoutOf(src []byte, obj *node) layout {
	l := layout{unit: "  ", colon: ": ", comma: " "}
	if len(obj.members) == 0 {
		return l
	}
	first := obj.members[0]
	l.multiline = bytes.IndexByte(src[obj.start:first.keyStart], '\n') >= 0
	if sep := src[first.keyEnd:first.val.start]; bytes.IndexByte(sep, '\n') < 0 {
		l.colon = string(sep)
	}
	if l.colon == ":" {
		l.comma = "" // a file without spaces after colons has none after commas
	}
	if l.multiline {
		l.memberIndent = indentAt(src, first.keyStart)
		if outer := indentAt(src, obj.start); strings.HasPrefix(l.memberIndent, outer) && len(l.memberIndent) > len(outer) {
			l.unit = l.memberIndent[len(outer):]
		}
	} else if len(obj.members) > 1 {
		between := src[first.val.end:obj.members[1].keyStart]
		if i := bytes.IndexByte(between, ','); i >= 0 {
			l.comma = string(between[i+1:])
		}
	}
	return l
}

// Edit implements flags.Document.
func (d Document) Edit(src []byte, key string, c flags.Change) ([]byte, error) {
	_, f, err := findFlag(src, key)
	if err != nil {
		return nil, err
	}
	st, err := readFlag(src, f)
	if err != nil {
		return nil, err
	}
	if c.Rollout != nil && c.Targeting != nil {
		return nil, errors.New("a rollout and new targeting both replace the flag's targeting: give one of them")
	}
	lay := layoutOf(src, f.obj)
	var (
		splices []splice
		added   []string // new members, rendered
	)
	set := func(name, value string) {
		if m, ok := f.obj.get(name); ok {
			splices = append(splices, splice{m.val.start, m.val.end, value})
			return
		}
		added = append(added, quote(name)+lay.colon+value)
	}
	current := func(name string) (*node, bool) {
		m, ok := f.obj.get(name)
		return m.val, ok
	}

	if c.Enabled != nil {
		want := stateDisabled
		if *c.Enabled {
			want = stateEnabled
		}
		if n, ok := current("state"); !ok || n.kind != '"' || n.str != want {
			set("state", quote(want))
		}
	}
	defaultVariant := st.DefaultVariant
	if c.DefaultVariant != nil {
		v := *c.DefaultVariant
		if _, ok := st.Variants[v]; !ok {
			return nil, unknownVariant(key, v, st.Variants)
		}
		if n, ok := current("defaultVariant"); !ok || n.kind != '"' || n.str != v {
			set("defaultVariant", quote(v))
		}
		defaultVariant = v
	}
	if c.Targeting != nil {
		text, err := lay.format(c.Targeting)
		if err != nil {
			return nil, fmt.Errorf("targeting for flag %q is not valid JSON: %w", key, err)
		}
		if !sameJSON(c.Targeting, st.Targeting) {
			set("targeting", text)
		}
	}
	if c.Rollout != nil {
		text, err := rolloutTargeting(src, f, st, defaultVariant, *c.Rollout, lay)
		if err != nil {
			return nil, err
		}
		if !sameJSON([]byte(text), st.Targeting) {
			set("targeting", text)
		}
	}

	if len(splices) == 0 && len(added) == 0 {
		return src, nil
	}
	if len(added) > 0 {
		splices = append(splices, lay.insertion(f.obj, added))
	}
	out := apply(src, splices)
	if err := checkEdit(out, key, c); err != nil {
		return nil, err
	}
	return out, nil
}

// rolloutTargeting renders the fractional split for r, refusing to replace
// targeting that does more than split traffic.
func rolloutTargeting(src []byte, f flagNode, st flags.State, defaultVariant string, r flags.Rollout, lay layout) (string, error) {
	if r.Percent < 0 || r.Percent > 100 {
		return "", fmt.Errorf("rollout percentage %d is out of range: give 0 to 100", r.Percent)
	}
	if _, ok := st.Variants[r.Variant]; !ok {
		return "", unknownVariant(f.key, r.Variant, st.Variants)
	}
	other := defaultVariant
	if isBoolean(st.Variants) {
		for v := range st.Variants {
			if v != r.Variant {
				other = v
			}
		}
	}
	switch {
	case other == "":
		return "", fmt.Errorf("flag %q has no defaultVariant for the users outside the %d%% rollout of %q: set default-variant too", f.key, r.Percent, r.Variant)
	case other == r.Variant:
		return "", fmt.Errorf("flag %q: %q is already the default variant, so a rollout of it would change nothing: set default-variant to the variant the other users should get", f.key, r.Variant)
	}
	var bucketBy []byte
	if m, ok := f.obj.get("targeting"); ok && !isEmpty(m.val) {
		fr, ok := parseFractional(src, m.val)
		if !ok {
			l, c := lineCol(src, m.val.start)
			return "", fmt.Errorf("flag %q has targeting rules at line %d:%d that are more than a fractional split; a rollout would replace them: change them with the targeting input instead", f.key, l, c)
		}
		bucketBy = fr.bucketBy
	}
	indent := lay.memberIndent
	if m, ok := f.obj.get("targeting"); ok {
		indent = indentAt(src, m.keyStart)
	}
	parts := []string{}
	if bucketBy != nil {
		parts = append(parts, string(bucketBy))
	}
	parts = append(parts,
		"["+quote(r.Variant)+","+lay.comma+strconv.Itoa(r.Percent)+"]",
		"["+quote(other)+","+lay.comma+strconv.Itoa(100-r.Percent)+"]")
	if !lay.multiline {
		return "{" + quote("fractional") + lay.colon + "[" + strings.Join(parts, ","+lay.comma) + "]}", nil
	}
	in1, in2 := indent+lay.unit, indent+lay.unit+lay.unit
	return "{\n" + in1 + quote("fractional") + lay.colon + "[\n" +
		in2 + strings.Join(parts, ",\n"+in2) + "\n" +
		in1 + "]\n" + indent + "}", nil
}

func isEmpty(n *node) bool {
	return n.kind == 'n' || (n.kind == '{' && len(n.members) == 0)
}

// format lays user-given JSON out like the file: indented at the member's
// level on multi-line files, compact on one-line ones.
func (l layout) format(raw json.RawMessage) (string, error) {
	var buf bytes.Buffer
	var err error
	if l.multiline {
		err = json.Indent(&buf, raw, l.memberIndent, l.unit)
	} else {
		err = json.Compact(&buf, raw)
	}
	return strings.TrimSpace(buf.String()), err
}

// insertion adds members after the object's last one (or into an empty one).
func (l layout) insertion(obj *node, added []string) splice {
	if len(obj.members) == 0 {
		return splice{obj.start + 1, obj.start + 1, strings.Join(added, ","+l.comma)}
	}
	at := obj.members[len(obj.members)-1].val.end
	var b strings.Builder
	for _, a := range added {
		if l.multiline {
			b.WriteString(",\n" + l.memberIndent + a)
		} else {
			b.WriteString("," + l.comma + a)
		}
	}
	return splice{at, at, b.String()}
}

func apply(src []byte, splices []splice) []byte {
	sort.Slice(splices, func(i, j int) bool { return splices[i].start > splices[j].start })
	out := slices.Clone(src)
	for _, s := range splices {
		out = slices.Concat(out[:s.start], []byte(s.text), out[s.end:])
	}
	return out
}

// checkEdit reads the edited file back, so a bad splice is an error rather
// than a wrong commit.
func checkEdit(out []byte, key string, c flags.Change) error {
	got, err := Document{}.Read(out, key)
	if err == nil {
		switch {
		case c.Enabled != nil && got.Enabled != *c.Enabled:
			err = fmt.Errorf("enabled is %t", got.Enabled)
		case c.DefaultVariant != nil && got.DefaultVariant != *c.DefaultVariant:
			err = fmt.Errorf("default variant is %q", got.DefaultVariant)
		case c.Rollout != nil && (got.Rollout != c.Rollout.Percent || got.RolloutVariant != c.Rollout.Variant):
			err = fmt.Errorf("rollout is %q at %d%%", got.RolloutVariant, got.Rollout)
		case c.Targeting != nil && !sameJSON(got.Targeting, c.Targeting):
			err = errors.New("targeting differs")
		}
	}
	if err != nil {
		return fmt.Errorf("editing flag %q went wrong (please report this): after the edit %w", key, err)
	}
	return nil
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func unknownVariant(key, v string, variants map[string]any) error {
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("flag %q has no variant %q; its variants are: %s", key, v, strings.Join(names, ", "))
}

// quote writes s as a JSON string without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
