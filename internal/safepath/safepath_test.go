package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSegmentsAndRef(t *testing.T) {
	for _, ok := range []string{"v4", "releases/v1", "feature/a.b", "0123456789abcdef0123456789abcdef01234567", "ünï"} {
		if err := CheckRef(ok); err != nil {
			t.Errorf("CheckRef(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../x", "a/../b", "a/./b", "/abs", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "-x", "a..b"} {
		if err := CheckRef(bad); err == nil {
			t.Errorf("CheckRef(%q) accepted", bad)
		}
	}
}

func TestWithinFollowsSymlinks(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	out := filepath.Join(root, "out")
	for _, d := range []string{filepath.Join(in, "a"), out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(out, filepath.Join(in, "esc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(in, "ok")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{in, filepath.Join(in, "a"), filepath.Join(in, "ok"), filepath.Join(in, "not", "yet")} {
		if _, err := Within(in, p); err != nil {
			t.Errorf("Within(%s): %v", p, err)
		}
	}
	for _, p := range []string{out, filepath.Join(in, "esc"), filepath.Join(in, "esc", "new"), filepath.Join(in, "..", "out"), root} {
		if _, err := Within(in, p); !errors.Is(err, ErrOutside) {
			t.Errorf("Within(%s) = %v, want ErrOutside", p, err)
		}
	}
	// A root reached through a symlink still contains its own children.
	link := filepath.Join(root, "rootlink")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Within(link, filepath.Join(link, "a")); err != nil {
		t.Errorf("through a linked root: %v", err)
	}
}

// FuzzCheckSegments: whatever CheckSegments accepts, joined to a root,
// stays under the root.
func FuzzCheckSegments(f *testing.F) {
	for _, s := range []string{"v1", "a/b", "../x", "a/../../b", "/etc", "a\\..\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckSegments("x", s) != nil {
			return
		}
		root := "/cache/root"
		j := filepath.Join(root, filepath.FromSlash(s))
		if j != root && !strings.HasPrefix(j, root+"/") {
			t.Fatalf("%q accepted but joins to %s", s, j)
		}
	})
}
