package goff

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// FuzzEdit checks that an edit reads back as asked, leaves the other flags
// and the text around the flag alone, and never panics on odd YAML. A
// refusal is fine; an edit that corrupts the file (caught by the editor as
// ErrEditBug, or by the checks here) is a failure.
func FuzzEdit(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for k := range uint8(4) {
			f.Add(b, k, k%2 == 0, 20+k*17, k)
		}
	}
	f.Add([]byte("x:\n  variations:\n    a: 1\n    b: 2\n  defaultRule:\n    variation: a\n"), uint8(0), true, uint8(3), uint8(1))
	f.Fuzz(func(t *testing.T, src []byte, keyIdx uint8, enabled bool, percent, variantIdx uint8) {
		root, err := parse(src)
		if err != nil || len(root.Content) == 0 {
			return
		}
		keys := flagNames(root)
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
		if errors.Is(err, ErrEditBug) {
			// The editor caught its own corruption: still a bug to fix.
			t.Fatalf("edit corrupted the file: %v\n%s", err, src)
		}
		if err != nil {
			// A documented refusal (ErrUnsupported) or a change the flag
			// cannot take: the file is left alone, which is correct.
			return
		}
		got, err := Document{}.Read(out, key)
		if err != nil {
			t.Fatalf("edited file does not read back: %v\n%s", err, out)
		}
		if got.Enabled != enabled || got.Rollout != r.Percent || got.RolloutVariant != r.Variant {
			t.Fatalf("read back %+v, want enabled %t rollout %+v\n%s", got, enabled, r, out)
		}
		assertPreserved(t, src, out, key)
	})
}
