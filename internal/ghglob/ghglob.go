// Package ghglob matches branch, tag and path names against GitHub's filter
// patterns ("Filter pattern cheat sheet"): * (any run of characters except /),
// ** (any run of characters), ? and + (zero-or-one and one-or-more of the
// preceding character), [] sets and ranges, \ escapes and a leading ! that
// negates. A pattern compiles once to an anchored regular expression.
package ghglob

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Pattern is one compiled filter pattern.
type Pattern struct {
	// Source is the pattern as written, including a leading !.
	Source string
	// Negated is set for a pattern written with a leading !.
	Negated bool
	re      *regexp.Regexp
}

// Compile compiles a filter pattern. Errors say what is wrong and how to fix it.
func Compile(pattern string) (*Pattern, error) {
	p := &Pattern{Source: pattern}
	s := pattern
	if strings.HasPrefix(s, "!") {
		p.Negated = true
		s = s[1:]
	}
	if s == "" {
		return nil, fmt.Errorf("pattern %q is empty; write a branch, tag or path pattern such as 'main' or 'docs/**'", pattern)
	}
	src, err := translate(s)
	if err != nil {
		return nil, fmt.Errorf("pattern %q %w", pattern, err)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	p.re = re
	return p, nil
}

// translate turns the pattern (without its !) into an anchored regexp. Each
// element becomes one piece so that ? and + can wrap the preceding piece.
func translate(s string) (string, error) {
	var pieces []string
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch c {
		case '\\':
			if i+1 >= len(rs) {
				return "", fmt.Errorf("ends with a lone \\; write \\\\ to match a backslash")
			}
			i++
			pieces = append(pieces, regexp.QuoteMeta(string(rs[i])))
		case '*':
			if i+1 < len(rs) && rs[i+1] == '*' {
				i++
				// "**/" also matches nothing, so docs/**/*.md matches docs/a.md.
				if i+1 < len(rs) && rs[i+1] == '/' {
					i++
					pieces = append(pieces, "(?:.*/)?")
				} else {
					pieces = append(pieces, ".*")
				}
			} else {
				pieces = append(pieces, "[^/]*")
			}
		case '?', '+':
			if len(pieces) == 0 {
				return "", fmt.Errorf("starts with %c, which repeats the preceding character and there is none; write \\%c to match it literally", c, c)
			}
			last := len(pieces) - 1
			pieces[last] = "(?:" + pieces[last] + ")" + string(c)
		case '[':
			set, n, err := charSet(rs[i+1:])
			if err != nil {
				return "", err
			}
			pieces = append(pieces, set)
			i += n
		default:
			pieces = append(pieces, regexp.QuoteMeta(string(c)))
		}
	}
	return "^" + strings.Join(pieces, "") + "$", nil
}

// charSet parses the inside of [...] (rs starts after the '[') and returns the
// regexp class and how many runes it consumed including the closing ']'.
func charSet(rs []rune) (string, int, error) {
	var members []rune
	closed := -1
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case ']':
			closed = i
		case '\\':
			if i+1 >= len(rs) {
				return "", 0, fmt.Errorf("ends with a lone \\ inside []")
			}
			i++
			members = append(members, rs[i])
			continue
		default:
			members = append(members, rs[i])
			continue
		}
		break
	}
	if closed < 0 {
		return "", 0, fmt.Errorf("has an unclosed [; close the set with ] or write \\[ to match a bracket")
	}
	if len(members) == 0 {
		return "", 0, fmt.Errorf("has an empty set []; list characters or a range such as [0-9a-z]")
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(members); i++ {
		lo := members[i]
		if i+2 < len(members) && members[i+1] == '-' {
			hi := members[i+2]
			if hi < lo {
				return "", 0, fmt.Errorf("has the backwards range [%c-%c]; write [%c-%c]", lo, hi, hi, lo)
			}
			b.WriteString(quoteClass(lo) + "-" + quoteClass(hi))
			i += 2
			continue
		}
		b.WriteString(quoteClass(lo))
	}
	b.WriteByte(']')
	return b.String(), closed + 1, nil
}

// quoteClass escapes a rune for use inside a regexp character class.
func quoteClass(r rune) string {
	switch r {
	case '\\', ']', '[', '^', '-':
		return `\` + string(r)
	}
	return string(r)
}

// Match reports whether s matches the pattern, ignoring negation.
func (p *Pattern) Match(s string) bool { return p.re.MatchString(s) }

// List is an ordered list of patterns where a later pattern overrides an
// earlier one: a name is selected when the last pattern that matches it is
// positive.
type List struct {
	patterns []*Pattern
}

// CompileList compiles patterns in order.
func CompileList(patterns []string) (*List, error) {
	l := &List{patterns: make([]*Pattern, 0, len(patterns))}
	for _, src := range patterns {
		p, err := Compile(src)
		if err != nil {
			return nil, err
		}
		l.patterns = append(l.patterns, p)
	}
	return l, nil
}

// Match reports whether the list selects s.
func (l *List) Match(s string) bool {
	// Walking backwards, the first pattern that matches decides.
	for i := len(l.patterns) - 1; i >= 0; i-- {
		if p := l.patterns[i]; p.Match(s) {
			return !p.Negated
		}
	}
	return false
}

// MatchList applies patterns in order: a later pattern overrides an earlier
// one, and a !pattern excludes what earlier ones included. Compiled patterns
// are cached, so calling it repeatedly with the same patterns is cheap.
func MatchList(patterns []string, s string) (bool, error) {
	matched := false
	for _, src := range patterns {
		p, err := cached(src)
		if err != nil {
			return false, err
		}
		if p.Match(s) {
			matched = !p.Negated
		}
	}
	return matched, nil
}

// The cache is bounded so that arbitrary input (fuzzing, generated patterns)
// cannot grow it without limit; patterns past the bound are compiled per call.
const cacheLimit = 4096

var (
	cache     sync.Map // string -> *Pattern
	cacheSize atomic.Int64
)

func cached(src string) (*Pattern, error) {
	if p, ok := cache.Load(src); ok {
		return p.(*Pattern), nil
	}
	p, err := Compile(src)
	if err != nil {
		return nil, err
	}
	if cacheSize.Load() < cacheLimit {
		if _, loaded := cache.LoadOrStore(src, p); !loaded {
			cacheSize.Add(1)
		}
	}
	return p, nil
}
