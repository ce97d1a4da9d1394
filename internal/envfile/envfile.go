// Package envfile parses the file commands a step writes: GITHUB_OUTPUT,
// GITHUB_ENV and GITHUB_STATE (name=value lines and name<<DELIM heredocs) and
// GITHUB_PATH (one entry a line).
package envfile

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// KV is one name/value pair and the line it starts on.
type KV struct {
	Key   string
	Value string
	Line  int
}

// ParseKV reads name=value lines and name<<DELIM ... DELIM heredocs, in order.
// Blank lines are skipped; later duplicates are for the caller to apply last.
func ParseKV(r io.Reader) ([]KV, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []KV
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return strings.TrimSuffix(sc.Text(), "\r"), true
	}
	for {
		s, ok := next()
		if !ok {
			break
		}
		if s == "" {
			continue
		}
		eq := strings.IndexByte(s, '=')
		hd := strings.Index(s, "<<")
		switch {
		case hd > 0 && (eq < 0 || hd < eq):
			key, delim := s[:hd], s[hd+2:]
			start := line
			if strings.TrimSpace(delim) == "" {
				return nil, fmt.Errorf("line %d: heredoc for %q has an empty delimiter; write %s<<EOF", line, key, key)
			}
			var val []string
			closed := false
			for {
				v, ok := next()
				if !ok {
					break
				}
				if v == delim {
					closed = true
					break
				}
				val = append(val, v)
			}
			if !closed {
				return nil, fmt.Errorf("line %d: heredoc for %q is not closed: no line %q follows", start, key, delim)
			}
			out = append(out, KV{Key: key, Value: strings.Join(val, "\n"), Line: start})
		case eq > 0:
			out = append(out, KV{Key: s[:eq], Value: s[eq+1:], Line: line})
		case eq == 0:
			return nil, fmt.Errorf("line %d: empty name before '='", line)
		default:
			return nil, fmt.Errorf("line %d: %q is neither name=value nor name<<DELIMITER", line, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read file command: %w", err)
	}
	return out, nil
}

// ParsePath reads GITHUB_PATH: one directory a line. The runner prepends each
// entry to PATH, so the last line written ends up first.
func ParsePath(r io.Reader) []string {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []string
	for sc.Scan() {
		s := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// CheckEnvName rejects what GitHub's runner refuses to set through GITHUB_ENV.
func CheckEnvName(name string) error {
	if err := InvalidName(name); err != nil {
		return err
	}
	if strings.EqualFold(name, "NODE_OPTIONS") {
		return fmt.Errorf("%s cannot be set through GITHUB_ENV (GitHub blocks it)", name)
	}
	if strings.ContainsAny(name, " \t") {
		return fmt.Errorf("%q is not a valid environment variable name", name)
	}
	return nil
}
