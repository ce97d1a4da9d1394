package toolcache

import (
	"strconv"
	"strings"
)

// version is a semantic version as tool-cache folder names spell it.
type version struct {
	n   [3]int
	pre string
}

// parseVersion accepts an explicit version: 1.2.3, 1.2.3-rc.1 (a leading v is allowed).
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v version
	core := s
	if i := strings.IndexByte(s, '-'); i >= 0 {
		core, v.pre = s[:i], s[i+1:]
		if v.pre == "" {
			return version{}, false
		}
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return version{}, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return version{}, false
		}
		v.n[i] = n
	}
	return v, true
}

func (v version) String() string {
	s := strconv.Itoa(v.n[0]) + "." + strconv.Itoa(v.n[1]) + "." + strconv.Itoa(v.n[2])
	if v.pre != "" {
		s += "-" + v.pre
	}
	return s
}

func (v version) compare(o version) int {
	for i := range v.n {
		if v.n[i] != o.n[i] {
			if v.n[i] < o.n[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.pre == o.pre:
		return 0
	case v.pre == "":
		return 1 // a release sorts after its pre-releases
	case o.pre == "":
		return -1
	}
	return strings.Compare(v.pre, o.pre)
}

// spec matches versions: the leading numbers given must be equal (24,
// 1.26, 1.26.x); an exact version matches itself, pre-release included.
type spec struct {
	fixed []int
	exact *version
}

func parseSpec(s string) (spec, error) {
	s = strings.TrimSpace(s)
	if v, ok := parseVersion(s); ok {
		return spec{exact: &v}, nil
	}
	s = strings.TrimPrefix(strings.TrimLeft(s, "^~="), "v")
	if s == "" || s == "*" || s == "x" {
		return spec{}, nil
	}
	var sp spec
	for _, p := range strings.Split(s, ".") {
		if p == "x" || p == "*" || p == "X" {
			break
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return spec{}, errNoVersion
		}
		sp.fixed = append(sp.fixed, n)
	}
	if len(sp.fixed) > 3 {
		return spec{}, errNoVersion
	}
	return sp, nil
}

func (s spec) match(v version) bool {
	if s.exact != nil {
		return v.compare(*s.exact) == 0
	}
	if v.pre != "" {
		return false // ranges never pick a pre-release, as semver's satisfies does not
	}
	for i, n := range s.fixed {
		if v.n[i] != n {
			return false
		}
	}
	return true
}
