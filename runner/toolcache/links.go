package toolcache

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LinkedRoots lists the installation folders outside dir that the cache's
// entries link to (a Python seeded by linking to pyenv's interpreter), so a
// job container can mount them at the same paths and the links resolve
// there too. System prefixes (/usr, /bin, ...) are left out: mounting them
// would hide the image's own; a link there resolves to the image's copy.
func LinkedRoots(dir string) []string {
	seen := map[string]bool{}
	bins, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*", "bin", "*"))
	for _, b := range bins {
		fi, err := os.Lstat(b)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := filepath.EvalSymlinks(b)
		if err != nil || strings.HasPrefix(target, dir+string(filepath.Separator)) {
			continue
		}
		// bin/python3.11 -> its prefix, the folder holding bin and lib.
		root := filepath.Dir(filepath.Dir(target))
		if mountsOverImage(root) {
			continue
		}
		seen[root] = true
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func mountsOverImage(p string) bool {
	if p == "/" {
		return true
	}
	for _, s := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/var", "/opt/hostedtoolcache", "/proc", "/sys", "/dev"} {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}
