package gocode

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A relative root (the action's `path`, e.g. services/api) keeps every
// finding's file and finds what the same tree scanned absolutely finds.
func TestRelativeRootKeepsFiles(t *testing.T) {
	ws := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "monorepo"))
	if out, err := exec.Command("cp", "-r", src+"/.", ws).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	abs, err := Scan(filepath.Join(ws, "services", "api"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(ws)
	rel, err := Scan("services/api", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rel) == 0 || len(rel) != len(abs) {
		t.Fatalf("relative root found %d, absolute %d", len(rel), len(abs))
	}
	for i, f := range rel {
		if f.File == "" || strings.HasPrefix(f.File, "..") || f.File != abs[i].File || f.Line != abs[i].Line {
			t.Errorf("finding %d: %s:%d, absolute scan %s:%d", i, f.File, f.Line, abs[i].File, abs[i].Line)
		}
	}
}
