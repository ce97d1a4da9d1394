// Package gitops puts a flag change where it takes effect: into the checkout
// (optionally committed with git for a later step to push), straight onto a
// GitHub branch, or onto a new branch with a pull request. Reads and writes go
// through one Target so a change is read, edited and written in one place.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// ErrConflict means the branch moved between the read and the write: read,
// edit and write again.
var ErrConflict = errors.New("the branch moved since the flag was read")

// Target is where the flag file and the audit log live.
type Target interface {
	// Read returns a repository-relative file; fs.ErrNotExist when missing.
	Read(ctx context.Context, path string) ([]byte, error)
	// Write stores files (path -> content) as one change.
	Write(ctx context.Context, c Change) (Result, error)
	// Refresh forgets what was read, after ErrConflict.
	Refresh()
	String() string
}

// Change is one write.
type Change struct {
	Files   map[string][]byte
	Message string // commit message
	// Title and Body describe the pull request (PullRequest targets only).
	Title, Body string
}

// Result is what a write made.
type Result struct {
	SHA            string // the commit, when one was made
	PullRequestURL string
}

// Author is who local commits are made as when the checkout has no identity.
type Author struct{ Name, Email string }

// Bot is the identity GitHub's own workflow commits use.
var Bot = Author{Name: "github-actions[bot]", Email: "41898282+github-actions[bot]@users.noreply.github.com"}

// CheckPath rejects paths that are not inside the repository.
func CheckPath(p string) error {
	if p == "" || !filepath.IsLocal(p) {
		return fmt.Errorf("%q is not a path inside the repository; use a relative path that stays inside it", p)
	}
	return nil
}

// Checkout writes into a working tree; with Commit it also commits there.
type Checkout struct {
	Dir    string
	Commit bool
	Author Author
}

func (c *Checkout) String() string {
	if c.Commit {
		return "a commit in the checkout " + c.Dir
	}
	return "the checkout " + c.Dir
}

// Refresh implements Target; the checkout has nothing cached.
func (c *Checkout) Refresh() {}

// Read implements Target.
func (c *Checkout) Read(_ context.Context, path string) ([]byte, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(c.Dir, path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// Write implements Target.
func (c *Checkout) Write(ctx context.Context, ch Change) (Result, error) {
	paths := sortedPaths(ch.Files)
	if c.Commit {
		// Fail before writing anything when there is no repository to commit to.
		if _, err := c.git(ctx, "rev-parse", "--git-dir"); err != nil {
			return Result{}, fmt.Errorf("commit: local needs a git checkout at %s (run actions/checkout first): %w", c.Dir, err)
		}
	}
	for _, p := range paths {
		if err := CheckPath(p); err != nil {
			return Result{}, err
		}
		full := filepath.Join(c.Dir, p)
		mode := os.FileMode(0o644)
		if fi, err := os.Stat(full); err == nil {
			mode = fi.Mode().Perm()
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return Result{}, fmt.Errorf("write %s: %w", p, err)
		}
		if err := writeAtomic(full, ch.Files[p], mode); err != nil {
			return Result{}, fmt.Errorf("write %s: %w", p, err)
		}
	}
	if !c.Commit {
		return Result{}, nil
	}
	if _, err := c.git(ctx, append([]string{"add", "--"}, paths...)...); err != nil {
		return Result{}, err
	}
	args := []string{}
	if out, err := c.git(ctx, "config", "user.email"); err != nil || strings.TrimSpace(out) == "" {
		args = append(args, "-c", "user.name="+c.Author.Name, "-c", "user.email="+c.Author.Email)
	}
	// Only the flag's files: anything else staged in the checkout stays out.
	args = append(args, "commit", "-q", "-m", ch.Message, "--")
	if _, err := c.git(ctx, append(args, paths...)...); err != nil {
		return Result{}, err
	}
	sha, err := c.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return Result{}, err
	}
	return Result{SHA: strings.TrimSpace(sha)}, nil
}

func (c *Checkout) git(ctx context.Context, args ...string) (string, error) {
	// The workspace is often owned by another user than the container's.
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "safe.directory=*"}, args...)...)
	cmd.Dir = c.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), c.Dir, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// IsNotExist reports whether err means a file is missing.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
