package toolcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/workspace"
)

// Toolchain is a tool found on this machine, ready to be put in the cache.
type Toolchain struct {
	Tool    string // the tool-cache name: go, node, Python
	Version string // explicit semantic version
	Root    string // its installation folder (GOROOT, Node's prefix, Python's prefix)
	// Bins, when set, are the only files put in the cache (as bin/NAME):
	// for toolchains installed into a system prefix such as /usr, which
	// cannot be taken whole.
	Bins map[string]string
}

// probeTimeout bounds `node --version` and the python probe.
const probeTimeout = 10 * time.Second

// Detect finds Go, Node and Python on pathEnv, and the toolchains in
// roots (folders named in the configuration: a GOROOT, a Node or Python
// installation). Tools it cannot identify are reported in the error, the
// others are returned. What interpreters say about themselves is
// remembered in the cache, so an unchanged machine is detected without
// starting any.
func (c *Cache) Detect(ctx context.Context, pathEnv string, roots []string) ([]Toolchain, error) {
	pr := c.probes()
	defer pr.save()
	var (
		mu   sync.Mutex
		out  []Toolchain
		errs []error
		wg   sync.WaitGroup
	)
	add := func(t *Toolchain, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else if t != nil {
			out = append(out, *t)
		}
	}
	probe := func(f func() (*Toolchain, error)) {
		wg.Add(1)
		go func() { defer wg.Done(); add(f()) }()
	}
	probe(func() (*Toolchain, error) {
		p, err := lookPath("go", pathEnv)
		if err != nil {
			return nil, nil
		}
		return goAt(filepath.Dir(filepath.Dir(p)))
	})
	probe(func() (*Toolchain, error) {
		p, err := lookPath("node", pathEnv)
		if err != nil {
			return nil, nil
		}
		return nodeAt(ctx, pr, p)
	})
	probe(func() (*Toolchain, error) {
		p, err := lookPath("python3", pathEnv)
		if err != nil {
			return nil, nil
		}
		return pythonAt(ctx, pr, p, pathEnv)
	})
	for _, r := range roots {
		probe(func() (*Toolchain, error) { return rootAt(ctx, pr, r, pathEnv) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// rootAt identifies the toolchain installed in a configured folder.
func rootAt(ctx context.Context, pr *probes, root, pathEnv string) (*Toolchain, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	switch {
	case isFile(filepath.Join(abs, "VERSION")) && isFile(filepath.Join(abs, "bin", "go")):
		return goAt(abs)
	case isFile(filepath.Join(abs, "bin", "node")):
		return nodeAt(ctx, pr, filepath.Join(abs, "bin", "node"))
	case isFile(filepath.Join(abs, "bin", "python3")):
		return pythonAt(ctx, pr, filepath.Join(abs, "bin", "python3"), pathEnv)
	}
	return nil, fmt.Errorf("toolchain %s: not a Go, Node or Python installation (expected VERSION and bin/go, bin/node or bin/python3)", root)
}

// goAt reads a GOROOT's VERSION file ("go1.26.8" on its first line).
func goAt(root string) (*Toolchain, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("go toolchain %s: %w", root, err)
	}
	data, err := os.ReadFile(filepath.Join(real, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("go toolchain %s: %w", real, err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	v, ok := GoSemver(strings.TrimSpace(first))
	if !ok {
		return nil, fmt.Errorf("go toolchain %s: unexpected VERSION %q", real, first)
	}
	return &Toolchain{Tool: "go", Version: v, Root: real}, nil
}

// GoSemver turns a Go release name (go1.26.8, go1.21rc2, 1.24) into the
// semantic version setup-go names its cache folders by.
func GoSemver(name string) (string, bool) {
	s := strings.TrimPrefix(name, "go")
	pre := ""
	for _, tag := range []string{"rc", "beta"} {
		if i := strings.Index(s, tag); i > 0 {
			s, pre = s[:i], tag+"."+s[i+len(tag):]
		}
	}
	parts := strings.Split(s, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	v := strings.Join(parts, ".")
	if pre != "" {
		v += "-" + pre
	}
	if _, ok := parseVersion(v); !ok {
		return "", false
	}
	return v, true
}

func nodeAt(ctx context.Context, pr *probes, bin string) (*Toolchain, error) {
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", bin, err)
	}
	out, err := pr.run(ctx, "", real, "--version")
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", real, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(out), "v")
	if _, ok := parseVersion(v); !ok {
		return nil, fmt.Errorf("node %s: unexpected version %q", real, out)
	}
	t := &Toolchain{Tool: "node", Version: v, Root: filepath.Dir(filepath.Dir(real))}
	if systemPrefix(t.Root) {
		t.Bins = map[string]string{"node": real}
	}
	return t, nil
}

// pythonAt asks the interpreter itself where it lives: a pyenv shim or a
// symlink says nothing about that.
func pythonAt(ctx context.Context, pr *probes, bin, pathEnv string) (*Toolchain, error) {
	if exe := throughPyenv(bin, "python3"); exe != "" {
		bin = exe
	} else if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	out, err := pr.run(ctx, pathEnv, bin, "-c", "import sys,platform,os;print(sys.base_prefix);print(platform.python_version());print(os.path.realpath(sys.executable))")
	if err != nil {
		return nil, fmt.Errorf("python %s: %w", bin, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		return nil, fmt.Errorf("python %s: unexpected answer %q", bin, out)
	}
	prefix, v, exe := strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]), strings.TrimSpace(lines[2])
	if _, ok := parseVersion(v); !ok {
		return nil, fmt.Errorf("python %s: unexpected version %q", bin, v)
	}
	// Links to the interpreter's own path (a Python installation can hold
	// tens of thousands of files); setup-python puts bin/ on PATH. Inside a
	// job container the link resolves where the image has the same
	// interpreter (Debian's /usr/bin/python3.11), and is skipped on PATH
	// where it does not.
	return &Toolchain{Tool: "Python", Version: v, Root: prefix, Bins: map[string]string{"python3": exe, "python": exe}}, nil
}

func probeCmd(ctx context.Context, pathEnv, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if pathEnv != "" {
		cmd.Env = append(os.Environ(), "PATH="+pathEnv)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func systemPrefix(p string) bool {
	switch filepath.Clean(p) {
	case "/", "/usr", "/usr/local", "/opt", "/bin":
		return true
	}
	return false
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func lookPath(name, pathEnv string) (string, error) {
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// Seed puts the toolchains in the cache, keeping entries already there.
// It returns the entries it added.
func (c *Cache) Seed(tcs []Toolchain) ([]Entry, error) {
	var added []Entry
	var errs []error
	for _, t := range tcs {
		if c.Has(t.Tool, t.Version) {
			continue
		}
		e, err := c.Add(t.Tool, t.Version, false, func(dir string) error { return t.fill(dir) })
		if err != nil {
			errs = append(errs, err)
			continue
		}
		added = append(added, e)
	}
	return added, errors.Join(errs...)
}

func (t Toolchain) fill(dir string) error {
	if t.Bins != nil {
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return err
		}
		for name, target := range t.Bins {
			if t.Tool == "Python" {
				// The interpreter finds its library from its real path.
				if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
					return err
				}
				continue
			}
			if err := linkOrCopy(target, filepath.Join(bin, name)); err != nil {
				return err
			}
		}
		return nil
	}
	return LinkTree(t.Root, dir)
}

// LinkTree fills dst with src's files as hard links (no copying, no space),
// copying instead where links are not possible (another file system).
// Symlinks are kept as they are. Hard links are the reason the cache works
// inside job containers too: a symlink to the host's GOROOT would point at
// nothing there.
func LinkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
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
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return linkOrCopy(p, target)
		}
		return nil
	})
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	return workspace.CopyFile(src, dst, fi.Mode().Perm())
}
