// Package safepath keeps names that come from a workflow inside the folder
// they are meant for: action references never name a parent, an absolute
// path or a NUL, and a resolved path (symlinks followed) stays under its root.
package safepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CheckSegments refuses a slash-separated name (an owner, a repository, an
// action path or a git ref) that could step out of the folder it is joined
// to: an absolute path, a '.' or '..' segment, a backslash (a separator on
// Windows), a NUL or another control character.
func CheckSegments(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if strings.HasPrefix(s, "/") {
		return fmt.Errorf("%s %q is an absolute path", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q contains a control character (%U)", what, s, r)
		}
		if r == '\\' {
			return fmt.Errorf("%s %q contains a backslash", what, s)
		}
	}
	for _, seg := range strings.Split(s, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%s %q has an empty path segment", what, s)
		case ".", "..":
			return fmt.Errorf("%s %q has a %q segment; it may not leave its folder", what, s, seg)
		}
	}
	return nil
}

// CheckRef refuses a git ref that is not a plain name git would accept
// for a branch, tag or commit: besides CheckSegments' rules, no leading '-'
// (it would read as an option) and no "..".
func CheckRef(ref string) error {
	if err := CheckSegments("ref", ref); err != nil {
		return err
	}
	if strings.HasPrefix(ref, "-") {
		return fmt.Errorf("ref %q starts with '-'", ref)
	}
	if strings.Contains(ref, "..") {
		return fmt.Errorf("ref %q contains \"..\"", ref)
	}
	return nil
}

// ErrOutside is returned by Within for a path that resolves outside root.
var ErrOutside = errors.New("resolves outside its folder")

// Within resolves p (following every symlink) and reports an error wrapping
// ErrOutside unless it is root itself or under root (also resolved). A path
// that does not exist yet is judged by its longest existing parent.
func Within(root, p string) (string, error) {
	r, err := resolve(root)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", root, err)
	}
	abs, err := resolve(p)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", p, err)
	}
	rel, err := filepath.Rel(r, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s %w %s (it is %s)", p, ErrOutside, root, abs)
	}
	return abs, nil
}

// resolve is EvalSymlinks of the longest existing prefix of p, with the
// rest appended (clean, so no '..' is left to climb with).
func resolve(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := p; ; {
		if _, err := os.Lstat(cur); err == nil {
			real, err := filepath.EvalSymlinks(cur)
			if err != nil {
				return "", err
			}
			return filepath.Join(real, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
