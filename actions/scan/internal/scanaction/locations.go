package scanaction

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
)

// locator turns the scanners' root-relative paths into paths relative to
// the repository root (GITHUB_WORKSPACE): annotations and code scanning
// resolve every location from there, whatever folder `path` names.
type locator struct {
	workspace string // absolute
	root      string // absolute scanned tree
	prefix    string // root relative to workspace, slash-separated; "" when they are the same
	outside   bool   // root is not inside the workspace: paths stay root-relative
}

// newLocator resolves root against the workspace (a relative `path` names a
// folder of the repository, as every other input does).
func newLocator(workspace, root string) (*locator, error) {
	if workspace == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		workspace = wd
	}
	ws, err := filepath.Abs(workspace)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(root) {
		root = filepath.Join(ws, root)
	}
	root = filepath.Clean(root)
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("input 'path': %s is not a folder of the repository (GITHUB_WORKSPACE %s); give a folder relative to the repository root", root, ws)
	}
	l := &locator{workspace: ws, root: root}
	rel, err := filepath.Rel(ws, root)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		l.outside = true
		return l, nil
	}
	if rel != "." {
		l.prefix = filepath.ToSlash(rel)
	}
	return l, nil
}

// fromRoot is a root-relative path as the repository sees it.
func (l *locator) fromRoot(rel string) string {
	if l.outside || l.prefix == "" || rel == "" {
		return rel
	}
	return path.Join(l.prefix, rel)
}

// skip wraps the excluder (patterns relative to the repository root) for
// scanners that ask with root-relative paths.
func (l *locator) skip(skip func(string) bool) func(string) bool {
	if skip == nil {
		return nil
	}
	return func(rel string) bool { return skip(l.fromRoot(rel)) }
}

// rebase rewrites findings' files from root-relative to repository-relative
// and recomputes their fingerprints, so a baseline names the same place the
// annotation does.
func (l *locator) rebase(fs []finding.Finding, from func(string) string) {
	for i := range fs {
		f := &fs[i]
		nf := from(f.File)
		if nf == f.File {
			continue
		}
		f.File = nf
		id := f.Identity
		if id == "" {
			id = f.Message
		}
		f.Fingerprint = finding.Fingerprint(f.Scanner, f.Rule.ID, f.File, id)
	}
}

// gitToRoot maps paths of git's history (relative to the top of the
// repository holding root) to root-relative paths.
func (l *locator) gitToRoot() func(string) string {
	out, err := exec.Command("git", "-C", l.root, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return func(p string) string { return p }
	}
	top := strings.TrimSpace(string(out))
	return func(p string) string {
		if p == "" {
			return p
		}
		rel, err := filepath.Rel(l.root, filepath.Join(top, filepath.FromSlash(p)))
		if err != nil {
			return p
		}
		return filepath.ToSlash(rel)
	}
}

// rootOfFiles is the folder findings' files are relative to.
func (l *locator) rootOfFiles() string {
	if l.outside {
		return l.root
	}
	return l.workspace
}
