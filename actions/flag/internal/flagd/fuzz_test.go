package flagd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

func addSeeds(f *testing.F, add func(src []byte)) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
	add([]byte(`{"flags":{"x":{"state":"ENABLED","variants":{"a":1,"b":2,"c":3},"defaultVariant":"c","targeting":null}}}`))
	add([]byte(`{"flags":{"x":{}}}`))
}

// FuzzScan checks the span scanner against encoding/json.
func FuzzScan(f *testing.F) {
	addSeeds(f, func(src []byte) { f.Add(src) })
	f.Add([]byte(`["a\u00e9\n", -0.5e+3, {"k": [true, false, null]}]`))
	f.Fuzz(func(t *testing.T, src []byte) {
		root, err := parseJSON(src)
		if (err == nil) != json.Valid(src) {
			t.Fatalf("parseJSON err = %v, json.Valid = %t", err, json.Valid(src))
		}
		if err != nil {
			return
		}
		walk(root, func(n *node) {
			if !json.Valid(n.raw(src)) {
				t.Fatalf("span %d-%d is not a JSON value: %q", n.start, n.end, n.raw(src))
			}
			if n.kind == '"' {
				var s string
				if err := json.Unmarshal(n.raw(src), &s); err != nil || s != n.str {
					t.Fatalf("string %q decoded as %q", n.raw(src), n.str)
				}
			}
		})
	})
}

// FuzzEdit checks that an edit reads back as asked and leaves the rest of
// the file alone.
func FuzzEdit(f *testing.F) {
	addSeeds(f, func(src []byte) {
		for k := range uint8(4) {
			f.Add(src, k, k%2 == 0, 20+k*17, k)
		}
	})
	f.Fuzz(func(t *testing.T, src []byte, keyIdx uint8, enabled bool, percent, variantIdx uint8) {
		root, err := parseJSON(src)
		if err != nil {
			return
		}
		fm, ok := root.get("flags")
		if !ok || fm.val.kind != '{' || len(fm.val.members) == 0 {
			return
		}
		keys := flagKeys(fm.val)
		key := keys[int(keyIdx)%len(keys)]
		st, err := Document{}.Read(src, key)
		if err != nil || len(st.Variants) == 0 {
			return
		}
		variants := make([]string, 0, len(st.Variants))
		for v := range st.Variants {
			variants = append(variants, v)
		}
		sort.Strings(variants)
		r := flags.Rollout{Variant: variants[int(variantIdx)%len(variants)], Percent: int(percent) % 101}

		out, err := Document{}.Edit(src, key, flags.Change{Enabled: &enabled, Rollout: &r})
		if err != nil {
			return // refusals (other rules, no default variant) are covered by TestEditErrors
		}
		got, err := Document{}.Read(out, key)
		if err != nil {
			t.Fatalf("edited file does not read back: %v\n%s", err, out)
		}
		if got.Enabled != enabled || got.Rollout != r.Percent || got.RolloutVariant != r.Variant {
			t.Fatalf("read back %+v, want enabled %t rollout %+v\n%s", got, enabled, r, out)
		}
		if !json.Valid(out) {
			t.Fatalf("edit produced invalid JSON:\n%s", out)
		}
		assertPreserved(t, src, out, key)
	})
}
