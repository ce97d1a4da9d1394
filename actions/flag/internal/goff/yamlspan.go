package goff

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source maps yaml.v3 node positions (1-based line and character column)
// back to byte offsets, and finds where nodes end, which yaml.v3 does not
// record, so single values can be spliced.
type source struct {
	src   []byte
	lines []int // byte offset of each line start
}

func newSource(src []byte) *source {
	s := &source{src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			s.lines = append(s.lines, i+1)
		}
	}
	return s
}

func (s *source) offset(line, col int) int {
	if line < 1 || line > len(s.lines) {
		return len(s.src)
	}
	off := s.lines[line-1]
	for ; col > 1 && off < len(s.src) && s.src[off] != '\n'; col-- {
		_, n := utf8.DecodeRune(s.src[off:])
		off += n
	}
	return off
}

func (s *source) start(n *yaml.Node) int { return s.offset(n.Line, n.Column) }

// lineCol turns an offset back into a position for messages.
func (s *source) pos(off int) string {
	line := 1
	for line < len(s.lines) && s.lines[line] <= off {
		line++
	}
	return fmt.Sprintf("%d:%d", line, utf8.RuneCount(s.src[s.lines[line-1]:off])+1)
}

func (s *source) nodePos(n *yaml.Node) string { return fmt.Sprintf("%d:%d", n.Line, n.Column) }

// indentOf is the column, counted from 0, at which n starts.
func indentOf(n *yaml.Node) int { return n.Column - 1 }

// end returns the offset just past node n. owner is the indentation of the
// key or sequence entry holding n, which bounds block scalars.
func (s *source) end(n *yaml.Node, owner int) (int, error) {
	if n.Anchor != "" {
		return 0, refuse("%s: editing anchored values (&%s) is not supported", s.nodePos(n), n.Anchor)
	}
	start := s.start(n)
	switch n.Kind {
	case yaml.AliasNode:
		return start + 1 + len(n.Value), nil
	case yaml.ScalarNode:
		return s.scalarEnd(n, start, owner)
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			return s.flowEnd(start)
		}
		if len(n.Content) == 0 {
			return 0, refuse("%s: cannot find the end of an empty block collection", s.nodePos(n))
		}
		last := n.Content[len(n.Content)-1]
		if n.Kind == yaml.MappingNode {
			return s.pairEnd(n.Content[len(n.Content)-2], last)
		}
		return s.end(last, indentOf(n))
	}
	return 0, refuse("%s: unsupported YAML node", s.nodePos(n))
}

// pairEnd is the end of a mapping entry; an empty value ends at its colon.
func (s *source) pairEnd(k, v *yaml.Node) (int, error) {
	if v.Anchor != "" {
		// The anchor is text of its own before the value, and aliases
		// elsewhere would silently change with it.
		return 0, refuse("%s: editing anchored values (&%s) is not supported", s.nodePos(k), v.Anchor)
	}
	if isEmptyValue(v) {
		return s.colonEnd(k)
	}
	return s.end(v, indentOf(k))
}

func isEmptyValue(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "" && v.Style == 0
}

// colonEnd is the offset just past the ':' after key k.
func (s *source) colonEnd(k *yaml.Node) (int, error) {
	end, err := s.end(k, indentOf(k))
	if err != nil {
		return 0, err
	}
	for end < len(s.src) && (s.src[end] == ' ' || s.src[end] == '\t') {
		end++
	}
	if end >= len(s.src) || s.src[end] != ':' {
		return 0, refuse("%s: cannot find the ':' after key %q", s.nodePos(k), k.Value)
	}
	return end + 1, nil
}

func (s *source) scalarEnd(n *yaml.Node, start, owner int) (int, error) {
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		return 0, refuse("%s: editing explicitly tagged values is not supported", s.nodePos(n))
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(s.src); i++ {
			switch s.src[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(s.src); i++ {
			if s.src[i] == '\'' {
				if i+1 < len(s.src) && s.src[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The content is every following line that is blank or indented
		// deeper than the owner.
		end := lineEnd(s.src, start)
		for next := end + 1; next < len(s.src); {
			le := lineEnd(s.src, next)
			line := s.src[next:le]
			if trimmed := bytes.TrimLeft(line, " "); len(bytes.TrimSpace(trimmed)) > 0 {
				if len(line)-len(trimmed) <= owner {
					break
				}
				end = le
			}
			next = le + 1
		}
		return end, nil
	default:
		// A one-line plain scalar is written exactly as its value.
		if n.Value != "" && bytes.HasPrefix(s.src[start:], []byte(n.Value)) {
			return start + len(n.Value), nil
		}
		return 0, refuse("%s: editing multi-line or implicit values is not supported", s.nodePos(n))
	}
	return 0, refuse("%s: unterminated quoted value", s.nodePos(n))
}

// flowEnd finds the bracket closing the flow collection opened at start.
func (s *source) flowEnd(start int) (int, error) {
	depth := 0
	for i := start; i < len(s.src); i++ {
		switch c := s.src[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"', '\'':
			// A quote opens a quoted scalar only where a scalar starts; inside
			// a plain scalar (a"b) it is an ordinary character.
			if !scalarStart(s.src, start, i) {
				continue
			}
			for i++; i < len(s.src) && s.src[i] != c; i++ {
				if c == '"' && s.src[i] == '\\' {
					i++
				}
				if c == '\'' && s.src[i] == '\'' && i+1 < len(s.src) && s.src[i+1] == '\'' {
					i++
				}
			}
		case '#':
			if i > 0 && (s.src[i-1] == ' ' || s.src[i-1] == '\t') {
				i = lineEnd(s.src, i) - 1
			}
		}
	}
	return 0, refuse("%s: unterminated flow collection", s.pos(start))
}

func lineEnd(src []byte, off int) int {
	if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i
	}
	return len(src)
}

// pairs walks a mapping's entries.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			k, v = m.Content[i], m.Content[i+1]
		}
	}
	return k, v
}

// scalarStart reports whether offset i of a flow collection opened at start
// begins a scalar: it follows an opening bracket, a comma, a key's colon or
// '?', with only blanks between.
func scalarStart(src []byte, start, i int) bool {
	for j := i - 1; j >= start; j-- {
		switch src[j] {
		case ' ', '\t', '\n', '\r':
			continue
		case '[', '{', ',', ':', '?':
			return true
		}
		return false
	}
	return true
}
