package goff

import (
	"errors"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// Issue 14.11: what the fuzzer found. Files the editor cannot edit safely
// are refused with ErrUnsupported and a position; nothing is corrupted.
func TestEditRefusesWhatItCannotEditSafely(t *testing.T) {
	off := false
	for _, tc := range []struct{ src, key, msg string }{
		{"e:\ne: {variations: {a: 1, b: 2}, defaultRule: {variation: a}}\n", "e", `2:1: flag "e" is defined twice (first at 1:1)`},
		{"f: {variations: {a: 1, b: 2}, defaultRule: {variation: a}, disable: &x}\n", "f", "editing anchored values (&x) is not supported"},
		{"f:\n  variations: {a: 1, b: 2}\n  defaultRule: {variation: a}\n  disable: !!bool false\n", "f", "editing explicitly tagged values is not supported"},
	} {
		_, err := Document{}.Edit([]byte(tc.src), tc.key, flags.Change{Enabled: &off})
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: got %v, want a refusal saying %q", tc.src, err, tc.msg)
		}
		if errors.Is(err, ErrEditBug) {
			t.Errorf("%q: a refusal reported as an editor bug: %v", tc.src, err)
		}
	}
}

// A quote inside a plain scalar of a flow collection is not a string start:
// the flag after it keeps its text and the edited one reads back.
func TestEditFlowWithQuoteInPlainScalar(t *testing.T) {
	src := "a: {variations: {x: it\"s, y: b'c}, defaultRule: {variation: x}}\nb: {variations: {p: 1, q: 2}, defaultRule: {variation: p}}\n"
	off := false
	out, err := Document{}.Edit([]byte(src), "a", flags.Change{Enabled: &off})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Document{}.Read(out, "a")
	if err != nil || st.Enabled {
		t.Fatalf("read back %+v, %v\n%s", st, err, out)
	}
	assertPreserved(t, []byte(src), out, "a")
}
