package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// files writes the same two files with the given on-disk time, listed in
// reverse order.
func files(t *testing.T, onDisk time.Time) []File {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	doc := filepath.Join(dir, "README.md")
	if err := os.WriteFile(bin, []byte("\x7fELF binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("# app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bin, doc} {
		if err := os.Chtimes(p, onDisk, onDisk); err != nil {
			t.Fatal(err)
		}
	}
	return []File{{Name: "app", Path: bin}, {Name: "README.md", Path: doc}}
}

var fixed = time.Unix(1700000000, 0).UTC()

func TestTarGzIsReproducible(t *testing.T) {
	out := t.TempDir()
	a, b := filepath.Join(out, "a.tar.gz"), filepath.Join(out, "b.tar.gz")
	if err := TarGz(a, files(t, time.Now()), fixed); err != nil {
		t.Fatal(err)
	}
	if err := TarGz(b, files(t, time.Now().Add(-time.Hour)), fixed); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("same files, different archives")
	}
	gz, err := gzip.NewReader(bytes.NewReader(da))
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.Equal(fixed) {
		t.Errorf("gzip header time %v", gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if !h.ModTime.Equal(fixed) || h.Uid != 0 || h.Uname != "root" {
			t.Errorf("%s: time %v uid %d uname %q", h.Name, h.ModTime, h.Uid, h.Uname)
		}
		want := int64(0o644)
		if h.Name == "app" {
			want = 0o755
		}
		if h.Mode != want {
			t.Errorf("%s: mode %o, want %o", h.Name, h.Mode, want)
		}
	}
	if len(got) != 2 || got[0] != "README.md" || got[1] != "app" {
		t.Errorf("entries %v, want sorted", got)
	}
}

func TestZipIsReproducible(t *testing.T) {
	out := t.TempDir()
	a, b := filepath.Join(out, "a.zip"), filepath.Join(out, "b.zip")
	if err := Zip(a, files(t, time.Now()), fixed); err != nil {
		t.Fatal(err)
	}
	if err := Zip(b, files(t, time.Now().Add(-time.Hour)), fixed); err != nil {
		t.Fatal(err)
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Fatal("same files, different archives")
	}
	zr, err := zip.NewReader(bytes.NewReader(da), int64(len(da)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 2 || zr.File[0].Name != "README.md" || zr.File[1].Name != "app" {
		t.Fatalf("entries %v", zr.File)
	}
	if m := zr.File[1].Mode().Perm(); m != 0o755 {
		t.Errorf("app mode %o", m)
	}
	if !zr.File[0].Modified.Equal(fixed) {
		t.Errorf("time %v", zr.File[0].Modified)
	}
	rc, _ := zr.File[1].Open()
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "\x7fELF binary" {
		t.Errorf("content %q", body)
	}
}

func TestMissingFile(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := TarGz(dest, []File{{Name: "gone", Path: filepath.Join(t.TempDir(), "gone")}}, fixed); err == nil {
		t.Error("tar of a missing file succeeded")
	}
	if err := Zip(dest+".zip", []File{{Name: "gone", Path: "/nonexistent/gone"}}, fixed); err == nil {
		t.Error("zip of a missing file succeeded")
	}
}
