package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHashFilesPatterns(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.sum":             "a",
		"sub/go.sum":         "b",
		"sub/deep/go.sum":    "c",
		"sub/other.txt":      "d",
		"src/x.go":           "e",
		"src/gen/y.go":       "f",
		".hidden/go.sum":     "g",
		"node_modules/m.txt": "h",
	}
	for p, s := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "src"), filepath.Join(dir, "srclink")); err != nil {
		t.Fatal(err)
	}
	// expected hashes the files' contents in sorted path order.
	expected := func(paths ...string) string {
		if len(paths) == 0 {
			return ""
		}
		all := sha256.New()
		for _, p := range paths {
			sum := sha256.Sum256([]byte(files[p]))
			all.Write(sum[:])
		}
		return hex.EncodeToString(all.Sum(nil))
	}
	tests := []struct {
		patterns []string
		want     string
	}{
		{[]string{"go.sum"}, expected("go.sum")},
		{[]string{"./go.sum"}, expected("go.sum")},
		{[]string{filepath.Join(dir, "go.sum")}, expected("go.sum")},
		{[]string{"**/go.sum"}, expected(".hidden/go.sum", "go.sum", "sub/deep/go.sum", "sub/go.sum")},
		{[]string{"**/go.sum", "!sub/**"}, expected(".hidden/go.sum", "go.sum")},
		{[]string{"**/go.sum", "!sub"}, expected(".hidden/go.sum", "go.sum")}, // excluding a directory excludes below it
		{[]string{"**/go.sum", "!sub/**", "sub/deep/*"}, expected(".hidden/go.sum", "go.sum", "sub/deep/go.sum")},
		{[]string{"sub/*.sum"}, expected("sub/go.sum")},
		{[]string{"sub/*"}, expected("sub/deep/go.sum", "sub/go.sum", "sub/other.txt")}, // sub/deep matches: its files are included
		{[]string{"src"}, expected("src/gen/y.go", "src/x.go")},
		{[]string{"src/**/*.go"}, expected("src/gen/y.go", "src/x.go")},
		{[]string{"s?b/go.[s]um"}, expected("sub/go.sum")},
		{[]string{"go.sum\n# comment\n  sub/go.sum  "}, expected("go.sum", "sub/go.sum")},
		{[]string{"go.sum", "sub/go.sum"}, expected("go.sum", "sub/go.sum")},
		{[]string{"*.nothing"}, ""},
		{[]string{"!go.sum"}, ""},
		{[]string{"srclink"}, ""}, // a link to a directory is not followed
	}
	for _, tt := range tests {
		got, err := HashFiles(dir, tt.patterns)
		if err != nil || got != tt.want {
			t.Errorf("HashFiles(%q) = %q, %v; want %q", tt.patterns, got, err, tt.want)
		}
	}
	for _, bad := range []string{"../x", "/etc/passwd", "[", "a/[b"} {
		if _, err := HashFiles(dir, []string{bad}); err == nil || !strings.Contains(err.Error(), "hashFiles") {
			t.Errorf("HashFiles(%q) error = %v, want a hashFiles error", bad, err)
		}
	}
	// Through an expression, with Env.HashFiles bound to the workspace.
	env := &Env{HashFiles: func(p []string) (string, error) { return HashFiles(dir, p) }}
	e, err := Parse("hashFiles('go.sum', 'sub/go.sum')")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.Eval(env); err != nil || v != expected("go.sum", "sub/go.sum") {
		t.Errorf("hashFiles() = %v, %v", v, err)
	}
	e, _ = Parse("hashFiles('[')")
	if _, err := e.Eval(env); err == nil || err.(*Error).Kind != "evaluation" {
		t.Errorf("bad pattern error = %v", err)
	}
}
