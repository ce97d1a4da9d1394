// Package ghglob matches branch, tag and path names against GitHub's filter
// patterns: * (no /), ** (anything), ? and + (zero-or-one and one-or-more of
// the preceding character), [] sets, \ escapes and leading ! negation.
package ghglob

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is one compiled filter pattern.
type Pattern struct {
	Source  string
	Negated bool
	re      *regexp.Regexp
}

// Compile compiles a filter pattern.
func Compile(pattern string) (*Pattern, error) {
	p := &Pattern{Source: pattern}
	s := pattern
	if strings.HasPrefix(s, "!") {
		p.Negated = true
		s = s[1:]
	}
	if s == "" {
		return nil, fmt.Errorf("pattern %q is empty", pattern)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("pattern %q ends with a lone \\", pattern)
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(s[i])))
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				i++
				// "**/" also matches nothing, so dir/**/x matches dir/x.
				if i+1 < len(s) && s[i+1] == '/' {
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("?")
		case '+':
			b.WriteString("+")
		case '[':
			end := strings.IndexByte(s[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("pattern %q has an unclosed [", pattern)
			}
			set := s[i+1 : i+1+end]
			if set == "" {
				return nil, fmt.Errorf("pattern %q has an empty []", pattern)
			}
			b.WriteString("[" + strings.ReplaceAll(set, `\`, `\\`) + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	p.re = re
	return p, nil
}

// Match reports whether s matches the pattern, ignoring negation.
func (p *Pattern) Match(s string) bool { return p.re.MatchString(s) }

// MatchList applies patterns in order: a later pattern overrides an earlier
// one, and a !pattern excludes what earlier ones included.
func MatchList(patterns []string, s string) (bool, error) {
	matched := false
	for _, src := range patterns {
		p, err := Compile(src)
		if err != nil {
			return false, err
		}
		if p.Match(s) {
			matched = !p.Negated
		}
	}
	return matched, nil
}
