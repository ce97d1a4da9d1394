// Package toolcache is gantry's persistent tool cache: the folder that jobs
// get as RUNNER_TOOL_CACHE (and at /opt/hostedtoolcache in job
// containers), laid out as @actions/tool-cache reads it, TOOL/VERSION/ARCH
// plus an ARCH.complete marker, so setup-go, setup-node, setup-python and
// any action that calls tc.find() resolve the versions it holds without a
// network. It is shared by runs and seeded from the machine's toolchains.
package toolcache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Cache is a tool cache folder.
type Cache struct {
	Dir string
}

// Entry is one complete TOOL/VERSION/ARCH folder.
type Entry struct {
	Tool, Version, Arch string
	Path                string // the ARCH folder
}

// DefaultDir is the tool cache under the user's cache folder.
func DefaultDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no user cache folder for the tool cache (%w); pass --tool-cache DIR", err)
	}
	return filepath.Join(dir, "gantry", "toolcache"), nil
}

// Open makes the cache folder when it is missing.
func Open(dir string) (*Cache, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("tool cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("make tool cache: %w", err)
	}
	return &Cache{Dir: abs}, nil
}

// Arch is this machine's architecture as Node's os.arch() names it, which
// is the ARCH folder name @actions/tool-cache uses by default.
func Arch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x64"
	case "386":
		return "ia32"
	default:
		return runtime.GOARCH // arm64, arm, ppc64, s390x, riscv64
	}
}

// List returns every complete entry, by tool and then by version, newest last.
func (c *Cache) List() ([]Entry, error) {
	tools, err := os.ReadDir(c.Dir)
	if err != nil {
		return nil, fmt.Errorf("read tool cache: %w", err)
	}
	var out []Entry
	for _, t := range tools {
		if !t.IsDir() || strings.HasPrefix(t.Name(), ".") {
			continue
		}
		out = append(out, c.versions(t.Name(), "")...)
	}
	return out, nil
}

// versions lists the complete entries of a tool for arch ("" means every arch).
func (c *Cache) versions(tool, arch string) []Entry {
	vs, _ := os.ReadDir(filepath.Join(c.Dir, tool))
	var out []Entry
	for _, v := range vs {
		if !v.IsDir() {
			continue
		}
		if _, ok := parseVersion(v.Name()); !ok {
			continue // tool-cache skips folders that are not explicit versions too
		}
		archs, _ := os.ReadDir(filepath.Join(c.Dir, tool, v.Name()))
		for _, a := range archs {
			name := a.Name()
			if strings.HasSuffix(name, ".complete") || (arch != "" && name != arch) {
				continue
			}
			p := filepath.Join(c.Dir, tool, v.Name(), name)
			if _, err := os.Stat(p + ".complete"); err != nil {
				continue
			}
			if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
				continue
			}
			out = append(out, Entry{Tool: tool, Version: v.Name(), Arch: name, Path: p})
		}
	}
	sort.Slice(out, func(i, k int) bool {
		if out[i].Tool != out[k].Tool {
			return out[i].Tool < out[k].Tool
		}
		a, _ := parseVersion(out[i].Version)
		b, _ := parseVersion(out[k].Version)
		if c := a.compare(b); c != 0 {
			return c < 0
		}
		return out[i].Arch < out[k].Arch
	})
	return out
}

// NotFoundError says which versions there are and how to add the one asked for.
type NotFoundError struct {
	Tool, Spec, Arch string
	Present          []string
	Dir              string
}

func (e *NotFoundError) Error() string {
	have := "none"
	if len(e.Present) > 0 {
		have = strings.Join(e.Present, ", ")
	}
	return fmt.Sprintf("the tool cache %s has no %s matching %s for %s (it has: %s); add one with `%s`",
		e.Dir, e.Tool, e.Spec, e.Arch, have, AddCommand(e.Tool, e.Spec))
}

// AddCommand is the gantry command that adds a version of tool.
func AddCommand(tool, spec string) string {
	v := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(spec, "v"), ".x"), ".*")
	if v == "" || strings.ContainsAny(v, "<>=^~ *|") {
		v = "VERSION"
	}
	switch tool {
	case "go", "node":
		return "gantry tools add " + tool + " " + v
	default:
		return "gantry tools add " + tool + " " + v + " --from DIR"
	}
}

// Find returns the newest entry of tool whose version matches spec for
// this machine's architecture: an exact version, or a prefix such as 24,
// 1.26 or 1.26.x.
func (c *Cache) Find(tool, spec string) (Entry, error) {
	m, err := parseSpec(spec)
	if err != nil {
		return Entry{}, fmt.Errorf("%s version %q: %w", tool, spec, err)
	}
	all := c.versions(tool, Arch())
	var present []string
	for i := len(all) - 1; i >= 0; i-- {
		v, _ := parseVersion(all[i].Version)
		if m.match(v) {
			return all[i], nil
		}
	}
	for _, e := range all {
		present = append(present, e.Version)
	}
	return Entry{}, &NotFoundError{Tool: tool, Spec: spec, Arch: Arch(), Present: present, Dir: c.Dir}
}

// Has reports whether tool/version/arch is complete.
func (c *Cache) Has(tool, version string) bool {
	p := c.entryPath(tool, version)
	_, err1 := os.Stat(p)
	_, err2 := os.Stat(p + ".complete")
	return err1 == nil && err2 == nil
}

func (c *Cache) entryPath(tool, version string) string {
	return filepath.Join(c.Dir, tool, version, Arch())
}

// Add makes tool/version for this architecture with fill, which writes the
// tool into the folder it is given. The entry appears complete only once
// fill has succeeded: fill works in a staging folder that is renamed into
// place, then the .complete marker is written, so a reader (an action's
// tc.find, another gantry) never sees half a tool. With replace false an
// entry that is already complete is kept.
func (c *Cache) Add(tool, version string, replace bool, fill func(dir string) error) (Entry, error) {
	if err := validName(tool); err != nil {
		return Entry{}, err
	}
	v, ok := parseVersion(version)
	if !ok {
		return Entry{}, fmt.Errorf("version %q of %s is not an explicit version such as 1.2.3 (the tool cache only finds those)", version, tool)
	}
	version = v.String()
	unlock, err := c.lock()
	if err != nil {
		return Entry{}, err
	}
	defer unlock()
	final := c.entryPath(tool, version)
	e := Entry{Tool: tool, Version: version, Arch: Arch(), Path: final}
	if !replace && c.Has(tool, version) {
		return e, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return Entry{}, fmt.Errorf("tool cache: %w", err)
	}
	stage, err := os.MkdirTemp(filepath.Dir(final), "."+Arch()+"-staging-")
	if err != nil {
		return Entry{}, fmt.Errorf("tool cache: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := fill(stage); err != nil {
		return Entry{}, fmt.Errorf("add %s %s to the tool cache: %w", tool, version, err)
	}
	_ = os.Remove(final + ".complete")
	if err := os.RemoveAll(final); err != nil {
		return Entry{}, fmt.Errorf("replace %s: %w", final, err)
	}
	if err := os.Rename(stage, final); err != nil {
		return Entry{}, fmt.Errorf("tool cache: %w", err)
	}
	if err := os.WriteFile(final+".complete", nil, 0o644); err != nil {
		return Entry{}, fmt.Errorf("tool cache: %w", err)
	}
	return e, nil
}

// lock serialises changes between gantry processes sharing the cache.
func (c *Cache) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.Dir, ".gantry-lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock tool cache: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock tool cache: %w", err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

func validName(tool string) error {
	if tool == "" || tool == "." || tool == ".." || strings.ContainsAny(tool, `/\`) || strings.HasPrefix(tool, ".") {
		return fmt.Errorf("tool name %q: use a plain name such as go, node or gotestsum", tool)
	}
	return nil
}

var errNoVersion = errors.New("expected a version such as 1.26, 1.26.x or 1.26.8")
