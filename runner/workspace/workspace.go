// Package workspace gives each job its GITHUB_WORKSPACE: the repository
// itself (bind), or a private view of it so that a job never sees another
// job's writes, as on GitHub where every job gets a fresh machine.
package workspace

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Provider makes a job's workspace at dir (…/work/<repo>/<repo>, GitHub's
// layout), using scratch (an empty folder outside dir that the job does not
// see) for its own bookkeeping, and returns a release func that takes it
// down again. scratch stays the caller's: it removes it after release.
type Provider interface {
	Prepare(ctx context.Context, dir, scratch string) (path string, release func() error, err error)
}

// Bind hands every job the repository itself: fastest, and a job's writes
// are seen by the next (act's --bind).
type Bind struct{ Repo string }

// Prepare returns the repository.
func (b Bind) Prepare(context.Context, string, string) (string, func() error, error) {
	return b.Repo, func() error { return nil }, nil
}

// Copy gives each job a full copy of the repository (modes and symlinks
// kept, gantry's own .gantry folder skipped).
type Copy struct{ Repo string }

// Prepare copies the repository into dir.
func (c Copy) Prepare(_ context.Context, dir, _ string) (string, func() error, error) {
	if err := CopyTree(c.Repo, dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("copy repository %s into the workspace: %w", c.Repo, err)
	}
	return dir, func() error { return os.RemoveAll(dir) }, nil
}

// CopyTree copies src into dst, keeping modes and symlinks; .gantry is skipped.
func CopyTree(src, dst string) error {
	return copyTree(src, dst, "")
}

// CopyTreeInto copies src into dst, a folder inside src, leaving dst itself
// out of the copy (actions/checkout with path: of the workspace's own repository).
func CopyTreeInto(src, dst string) error {
	if err := copyTree(src, dst, dst); err != nil {
		return err
	}
	// dst's own ancestors were copied too; left empty, they were only ever
	// the way to dst and are not part of the repository.
	rel, err := filepath.Rel(src, dst)
	if err != nil {
		return err
	}
	for d := filepath.Dir(rel); d != "." && d != string(filepath.Separator); d = filepath.Dir(d) {
		_ = os.Remove(filepath.Join(dst, d)) // fails, as it should, when not empty
	}
	return nil
}

func copyTree(src, dst, skip string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if skip != "" && d.IsDir() && p == skip {
			return filepath.SkipDir
		}
		if d.IsDir() && (rel == ".gantry" || strings.HasPrefix(rel, ".gantry"+string(filepath.Separator))) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return CopyFile(p, target, info.Mode().Perm())
		}
		return nil // sockets, devices: not part of a checkout
	})
}

// CopyFile copies one regular file.
func CopyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
