package flagd

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// node is one JSON value with its byte span in the source, so edits can
// splice single values and leave every other byte alone.
type node struct {
	kind       byte // '{', '[', '"', '0' (number), 't', 'f', 'n'
	start, end int
	members    []member // objects, in source order
	elems      []*node  // arrays
	str        string   // decoded value of strings
}

type member struct {
	key              string
	keyStart, keyEnd int
	val              *node
}

// get returns the last member named key, as encoding/json does for duplicates.
func (n *node) get(key string) (member, bool) {
	if n == nil || n.kind != '{' {
		return member{}, false
	}
	for i := len(n.members) - 1; i >= 0; i-- {
		if n.members[i].key == key {
			return n.members[i], true
		}
	}
	return member{}, false
}

func (n *node) raw(src []byte) []byte { return src[n.start:n.end] }

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

const maxDepth = 512

type scanner struct {
	src []byte
	pos int
}

// parseJSON parses one JSON document; only whitespace may follow it.
func parseJSON(src []byte) (*node, error) {
	s := &scanner{src: src}
	n, err := s.value(0)
	if err != nil {
		return nil, err
	}
	s.skipSpace()
	if s.pos < len(src) {
		return nil, s.errorf("unexpected %q after the top-level value", s.src[s.pos])
	}
	return n, nil
}

func (s *scanner) errorf(format string, args ...any) error {
	return &syntaxError{off: s.pos, msg: fmt.Sprintf(format, args...)}
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, s.errorf("nesting deeper than %d levels", maxDepth)
	}
	s.skipSpace()
	if s.pos >= len(s.src) {
		return nil, s.errorf("unexpected end of JSON")
	}
	switch c := s.src[s.pos]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		return s.string()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true", 't')
	case c == 'f':
		return s.literal("false", 'f')
	case c == 'n':
		return s.literal("null", 'n')
	default:
		return nil, s.errorf("unexpected %q where a value was expected", c)
	}
}

func (s *scanner) object(depth int) (*node, error) {
	n := &node{kind: '{', start: s.pos}
	s.pos++
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == '}' {
		s.pos++
		n.end = s.pos
		return n, nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return nil, s.errorf("expected a quoted object key")
		}
		k, err := s.string()
		if err != nil {
			return nil, err
		}
		s.skipSpace()
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return nil, s.errorf("expected ':' after object key %q", k.str)
		}
		s.pos++
		v, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: k.str, keyStart: k.start, keyEnd: k.end, val: v})
		s.skipSpace()
		if s.pos >= len(s.src) {
			return nil, s.errorf("unexpected end of JSON inside an object")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			n.end = s.pos
			return n, nil
		default:
			return nil, s.errorf("expected ',' or '}' after object member, found %q", s.src[s.pos])
		}
	}
}

func (s *scanner) array(depth int) (*node, error) {
	n := &node{kind: '[', start: s.pos}
	s.pos++
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		n.end = s.pos
		return n, nil
	}
	for {
		v, err := s.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		s.skipSpace()
		if s.pos >= len(s.src) {
			return nil, s.errorf("unexpected end of JSON inside an array")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			n.end = s.pos
			return n, nil
		default:
			return nil, s.errorf("expected ',' or ']' after array element, found %q", s.src[s.pos])
		}
	}
}

func (s *scanner) string() (*node, error) {
	start := s.pos
	s.pos++
	escaped := false
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case c < 0x20:
			return nil, s.errorf("control character in string")
		case c == '\\':
			s.pos += 2
			escaped = true
			continue
		case c == '"':
			s.pos++
			n := &node{kind: '"', start: start, end: s.pos}
			raw := s.src[start:s.pos]
			if !escaped && utf8.Valid(raw) {
				n.str = string(raw[1 : len(raw)-1])
			} else if err := json.Unmarshal(raw, &n.str); err != nil {
				s.pos = start
				return nil, s.errorf("invalid string: %v", err)
			}
			return n, nil
		}
		s.pos++
	}
	s.pos = start
	return nil, s.errorf("unterminated string")
}

func (s *scanner) number() (*node, error) {
	start := s.pos
	digits := func() int {
		n := 0
		for s.pos < len(s.src) && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.src[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.src) && s.src[s.pos] == '0' {
		s.pos++
	} else if digits() == 0 {
		return nil, s.errorf("invalid number")
	}
	if s.pos < len(s.src) && s.src[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return nil, s.errorf("invalid number: digits expected after '.'")
		}
	}
	if s.pos < len(s.src) && (s.src[s.pos] == 'e' || s.src[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.src) && (s.src[s.pos] == '+' || s.src[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.errorf("invalid number: digits expected in exponent")
		}
	}
	return &node{kind: '0', start: start, end: s.pos}, nil
}

func (s *scanner) literal(word string, kind byte) (*node, error) {
	if len(s.src)-s.pos < len(word) || string(s.src[s.pos:s.pos+len(word)]) != word {
		return nil, s.errorf("invalid literal, expected %s", word)
	}
	n := &node{kind: kind, start: s.pos, end: s.pos + len(word)}
	s.pos += len(word)
	return n, nil
}

// lineCol turns a byte offset into a 1-based line and column (in characters).
func lineCol(src []byte, off int) (line, col int) {
	off = min(max(off, 0), len(src))
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCount(src[lineStart:off]) + 1
}

// indentAt returns the whitespace that starts the line holding off.
func indentAt(src []byte, off int) string {
	start := off
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	end := start
	for end < len(src) && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end])
}
