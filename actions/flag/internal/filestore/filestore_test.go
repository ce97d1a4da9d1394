package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/gitops"
)

// lineDoc is a tiny format for these tests: one "key=on|off" a line.
type lineDoc struct{}

func (lineDoc) Format() string { return "lines" }
func (lineDoc) Read(src []byte, key string) (flags.State, error) {
	for _, l := range strings.Split(string(src), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && k == key {
			return flags.State{Key: key, Enabled: v == "on", Rollout: -1}, nil
		}
	}
	return flags.State{}, fmt.Errorf("flag %s not found", key)
}
func (d lineDoc) Edit(src []byte, key string, c flags.Change) ([]byte, error) {
	if _, err := d.Read(src, key); err != nil {
		return nil, err
	}
	if c.Targeting != nil {
		return []byte(string(src) + string(c.Targeting)), nil // yields an invalid file
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		if k, _, ok := strings.Cut(l, "="); ok && k == key && c.Enabled != nil {
			lines[i] = key + "=" + map[bool]string{true: "on", false: "off"}[*c.Enabled]
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}
func (lineDoc) Validate(src []byte) error {
	for i, l := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
		if !strings.HasSuffix(l, "=on") && !strings.HasSuffix(l, "=off") {
			return fmt.Errorf("line %d: want key=on or key=off", i+1)
		}
	}
	return nil
}
func (lineDoc) Evaluate([]byte, string, int) (map[string]int, error) { return nil, errors.New("no") }

func setup(t *testing.T, content string) (*Provider, string) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "flags", "f.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Provider{Doc: lineDoc{}, Path: "flags/f.txt", Target: &gitops.Checkout{Dir: dir}}, dir
}

func TestSetReturnsEditedFileAndDiffWithoutWriting(t *testing.T) {
	p, dir := setup(t, "a=off\nb=on\n")
	on := true
	o, err := p.Set(context.Background(), "a", flags.Change{Enabled: &on}, false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Before.Enabled || !o.After.Enabled || !o.Changed || string(o.Files["flags/f.txt"]) != "a=on\nb=on\n" {
		t.Fatalf("outcome %+v", o)
	}
	if !strings.Contains(o.Diff, "--- a/flags/f.txt\n+++ b/flags/f.txt\n") || !strings.Contains(o.Diff, "-a=off\n+a=on\n") {
		t.Errorf("diff:\n%s", o.Diff)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "flags", "f.txt")); string(b) != "a=off\nb=on\n" {
		t.Errorf("Set wrote the file: %q", b)
	}
	st, err := p.Get(context.Background(), "b")
	if err != nil || !st.Enabled {
		t.Fatalf("get b: %+v %v", st, err)
	}
	// Already on: no change, no files, no diff.
	o, err = p.Set(context.Background(), "b", flags.Change{Enabled: &on}, false)
	if err != nil || o.Changed || o.Files != nil || o.Diff != "" {
		t.Fatalf("no-op: %+v %v", o, err)
	}
}

func TestSetRefusesInvalidResultAndNamesMissingFile(t *testing.T) {
	p, _ := setup(t, "a=off\n")
	_, err := p.Set(context.Background(), "a", flags.Change{Targeting: json.RawMessage("junk")}, false)
	if err == nil || !strings.Contains(err.Error(), "not a valid lines file") || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("got %v", err)
	}
	if _, err := p.Get(context.Background(), "zzz"); err == nil || !strings.Contains(err.Error(), "flags/f.txt: flag zzz not found") {
		t.Fatalf("missing flag: %v", err)
	}
	p.Path = "flags/nope.txt"
	if _, err := p.Get(context.Background(), "a"); err == nil || !strings.Contains(err.Error(), "check the file input") || !gitops.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestRestore(t *testing.T) {
	p, dir := setup(t, "a=off\nb=on\n")
	on, off := true, false
	o, err := p.Set(context.Background(), "a", flags.Change{Enabled: &on}, false)
	if err != nil {
		t.Fatal(err)
	}
	written := o.Files[p.Path]
	if _, err := p.Target.Write(context.Background(), gitops.Change{Files: o.Files}); err != nil {
		t.Fatal(err)
	}
	// Untouched since the flip: the original bytes come back exactly.
	r, err := p.Restore(context.Background(), "a", []byte("a=off\nb=on\n"), written, flags.Change{Enabled: &off})
	if err != nil || string(r.Files[p.Path]) != "a=off\nb=on\n" || r.After.Enabled {
		t.Fatalf("restore: %+v %v", r, err)
	}
	// Someone changed b meanwhile: only a is flipped back.
	if err := os.WriteFile(filepath.Join(dir, "flags", "f.txt"), []byte("a=on\nb=off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err = p.Restore(context.Background(), "a", []byte("a=off\nb=on\n"), written, flags.Change{Enabled: &off})
	if err != nil || string(r.Files[p.Path]) != "a=off\nb=off\n" {
		t.Fatalf("restore after a concurrent edit: %q %v", r.Files[p.Path], err)
	}
}
