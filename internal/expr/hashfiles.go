package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// HashFiles implements hashFiles() as GitHub's runner does: patterns are
// globs relative to workspace (*, ?, [..] within a path segment, ** across
// segments, a leading ! excludes, later patterns override earlier ones, a
// matched directory includes everything below it, and each argument may hold
// several patterns on separate lines). Every matched regular file is hashed
// with SHA-256, and the hashes, in path order, are hashed again. No match
// gives "".
func HashFiles(workspace string, patterns []string) (string, error) {
	var globs []glob
	for _, p := range patterns {
		for _, line := range strings.Split(p, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			g, err := compileGlob(workspace, line)
			if err != nil {
				return "", err
			}
			globs = append(globs, g)
		}
	}
	var files []string
	err := filepath.WalkDir(workspace, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped, as GitHub's globber does
		}
		rel, err := filepath.Rel(workspace, p)
		if err != nil || rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if !anyCouldMatchBelow(globs, rel) && !matchGlobs(globs, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if matchGlobs(globs, rel) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashFiles: walk %s: %w", workspace, err)
	}
	sort.Strings(files)
	all := sha256.New()
	n := 0
	for _, f := range files {
		st, err := os.Stat(f) // follows symlinks; links to directories are skipped
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		sum, err := hashFile(f)
		if err != nil {
			return "", err
		}
		all.Write(sum)
		n++
	}
	if n == 0 {
		return "", nil
	}
	return hex.EncodeToString(all.Sum(nil)), nil
}

func hashFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("hashFiles: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hashFiles: read %s: %w", name, err)
	}
	return h.Sum(nil), nil
}

// glob is one compiled hashFiles pattern, split into path segments.
type glob struct {
	negate bool
	segs   []string
}

func compileGlob(workspace, pattern string) (glob, error) {
	g := glob{}
	p := pattern
	for strings.HasPrefix(p, "!") {
		g.negate = !g.negate
		p = strings.TrimSpace(p[1:])
	}
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(workspace, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return g, fmt.Errorf("hashFiles: pattern %q is outside the workspace %s", pattern, workspace)
		}
		p = filepath.ToSlash(rel)
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return g, fmt.Errorf("hashFiles: pattern %q is outside the workspace", pattern)
	}
	if p == "." {
		p = "**"
	}
	g.segs = strings.Split(p, "/")
	for _, s := range g.segs {
		if s == "**" {
			continue
		}
		if _, err := path.Match(s, ""); err != nil {
			return g, fmt.Errorf("hashFiles: pattern %q: %w", pattern, err)
		}
	}
	return g, nil
}

// matchGlobs applies the patterns in order: an include adds the path (or any
// directory above it), an exclusion removes it.
func matchGlobs(globs []glob, rel string) bool {
	segs := strings.Split(rel, "/")
	in := false
	for _, g := range globs {
		if in == !g.negate {
			continue // this pattern cannot change the result
		}
		for n := 1; n <= len(segs); n++ {
			if matchSegs(g.segs, segs[:n]) {
				in = !g.negate
				break
			}
		}
	}
	return in
}

// matchSegs matches path segments against pattern segments; ** matches any
// number of segments.
func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(segs); i++ {
				if matchSegs(pat[1:], segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// anyCouldMatchBelow reports whether an include pattern may match something
// inside directory dir, so the walk can skip directories no pattern reaches.
func anyCouldMatchBelow(globs []glob, dir string) bool {
	segs := strings.Split(dir, "/")
	for _, g := range globs {
		if !g.negate && prefixMatch(g.segs, segs) {
			return true
		}
	}
	return false
}

func prefixMatch(pat, segs []string) bool {
	for len(segs) > 0 {
		if len(pat) == 0 {
			return false
		}
		if pat[0] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(pat) > 0
}
