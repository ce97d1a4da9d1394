// Package tarball writes directory trees as tar streams, in a stable order,
// for Docker build contexts and image imports.
package tarball

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Options shape an archive.
type Options struct {
	// Prefix is put before every entry name ("go" gives go/...).
	Prefix string
	// Skip leaves out a slash-separated relative path (and, for a directory,
	// everything below it).
	Skip func(rel string, isDir bool) bool
}

// Write streams dir as a complete tar archive.
func Write(w io.Writer, dir string, opts Options) error {
	tw := tar.NewWriter(w)
	if err := Add(tw, dir, opts); err != nil {
		return err
	}
	return tw.Close()
}

// Add writes dir's entries into an archive being written. Regular files,
// directories and symbolic links are kept; devices and sockets are not part
// of a build context or an image.
func Add(tw *tar.Writer, dir string, opts Options) error {
	return Walk(dir, opts.Skip, func(_, p string) error { return addOne(tw, dir, p, opts.Prefix) })
}

// Walk calls fn for every entry below dir (not dir itself) in sorted order,
// with its slash-separated relative path, leaving out what skip says.
// Sorted, so archives and hashes of a tree do not depend on the file system.
func Walk(dir string, skip func(rel string, isDir bool) bool, fn func(rel, path string) error) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if skip != nil && skip(filepath.ToSlash(rel), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		if err := fn(filepath.ToSlash(rel), p); err != nil {
			return err
		}
	}
	return nil
}

func addOne(tw *tar.Writer, dir, p, prefix string) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	} else if !info.Mode().IsRegular() && !info.IsDir() {
		return nil
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(dir, p)
	hdr.Name = filepath.ToSlash(rel)
	if prefix != "" {
		hdr.Name = prefix + "/" + hdr.Name
	}
	if info.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
