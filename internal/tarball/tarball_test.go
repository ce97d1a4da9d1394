package tarball

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteSortedWithPrefixSkipAndLinks(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"b.txt": "b", "a/z.txt": "z", ".git/HEAD": "ref", "a/y.txt": "y"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("b.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := Write(&buf, dir, Options{Prefix: "ctx", Skip: func(rel string, isDir bool) bool { return rel == ".git" }})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "ctx/link" && h.Linkname != "b.txt" {
			t.Errorf("link target %q", h.Linkname)
		}
	}
	if got := strings.Join(names, " "); got != "ctx/a/ ctx/a/y.txt ctx/a/z.txt ctx/b.txt ctx/link" {
		t.Errorf("entries %s", got)
	}
}
