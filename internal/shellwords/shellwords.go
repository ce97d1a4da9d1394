// Package shellwords splits a command line into words the way a shell does
// for simple cases: white space separates words, single and double quotes
// group, a backslash escapes the next character outside quotes.
package shellwords

import "fmt"

// Split splits s into words. An unclosed quote is an error.
func Split(s string) ([]string, error) {
	var out []string
	var cur []byte
	var quote byte
	has := false // a word has started (it may be an empty quoted word)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur = append(cur, c)
		case c == '"' || c == '\'':
			quote, has = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur, has = append(cur, s[i]), true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if has {
				out = append(out, string(cur))
				cur, has = cur[:0], false
			}
		default:
			cur, has = append(cur, c), true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed %c quote in %q", quote, s)
	}
	if has {
		out = append(out, string(cur))
	}
	return out, nil
}
