// Package archive writes reproducible tar.gz and zip archives: sorted
// entries, fixed modification times, owners and modes.
package archive

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// File is one entry: the path inside the archive and the file on disk.
type File struct {
	Name string
	Path string
}

func sorted(files []File) []File {
	out := append([]File(nil), files...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func mode(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	if fi.Mode()&0o111 != 0 {
		return 0o755, nil
	}
	return 0o644, nil
}

// TarGz writes files to dest with every timestamp set to mtime.
func TarGz(dest string, files []File, mtime time.Time) error {
	f, err := os.Create(dest)
	if err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	gz, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	gz.ModTime = mtime // the gzip header carries a time too
	tw := tar.NewWriter(gz)
	for _, e := range sorted(files) {
		m, err := mode(e.Path)
		if err != nil {
			f.Close()
			return err
		}
		fi, err := os.Stat(e.Path)
		if err != nil {
			f.Close()
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(e.Name), Mode: m, Size: fi.Size(), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if err := tw.WriteHeader(hdr); err != nil {
			f.Close()
			return err
		}
		if err := copyInto(tw, e.Path); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := gz.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Zip writes files to dest with every timestamp set to mtime.
func Zip(dest string, files []File, mtime time.Time) error {
	f, err := os.Create(dest)
	if err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	zw := zip.NewWriter(f)
	for _, e := range sorted(files) {
		m, err := mode(e.Path)
		if err != nil {
			f.Close()
			return err
		}
		hdr := &zip.FileHeader{Name: filepath.ToSlash(e.Name), Method: zip.Deflate, Modified: mtime.UTC()}
		hdr.SetMode(os.FileMode(m))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			f.Close()
			return err
		}
		if err := copyInto(w, e.Path); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyInto(w io.Writer, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}
