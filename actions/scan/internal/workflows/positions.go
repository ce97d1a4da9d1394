package workflows

import (
	"bytes"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/internal/yamlnode"
)

// parseYAML is the workflow's node tree, or nil when it does not parse.
func parseYAML(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// jobNode is the mapping of job id.
func jobNode(doc *yaml.Node, id string) *yaml.Node {
	return yamlnode.MapValue(yamlnode.MapValue(doc, "jobs"), id)
}

// valuePos is where key's value starts in mapping n, or the fallback.
func valuePos(n *yaml.Node, key string, line, col int) (int, int) {
	if v := yamlnode.MapValue(n, key); v != nil {
		return v.Line, v.Column
	}
	return line, col
}

// runValues maps the line of every block-scalar `run:` value (its | or >
// indicator) to its node. actionlint reports an expression in such a script
// at that line, with a column counted through the whole script.
func runValues(doc *yaml.Node) map[int]*yaml.Node {
	out := map[int]*yaml.Node{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				v := n.Content[i+1]
				if n.Content[i].Value == "run" && v.Kind == yaml.ScalarNode && v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
					out[v.Line] = v
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// inBlock turns actionlint's column for an expression in block script n
// (the indicator's column plus the offset into the script) into the line
// and column of the expression in the file.
func inBlock(n *yaml.Node, lines [][]byte, col int) (int, int) {
	off := col - n.Column
	if off < 0 || off > len(n.Value) {
		return n.Line, n.Column
	}
	if n.Style&yaml.LiteralStyle != 0 {
		// A literal script keeps its lines: the file line is the script line
		// plus the block's indentation.
		nl := strings.Count(n.Value[:off], "\n")
		start := strings.LastIndex(n.Value[:off], "\n") + 1
		end := strings.IndexByte(n.Value[start:], '\n')
		if end < 0 {
			end = len(n.Value) - start
		}
		text := n.Value[start : start+end]
		fl := n.Line + 1 + nl
		if fl-1 < len(lines) {
			raw := strings.TrimRight(string(lines[fl-1]), "\r")
			if strings.HasSuffix(raw, text) {
				return fl, len(raw) - len(text) + (off - start) + 1
			}
		}
	}
	// Folded scripts join lines: find the expression's text in the block.
	expr := n.Value[off:]
	if i := strings.Index(expr, "}}"); i >= 0 {
		expr = expr[:i]
	}
	// The n-th occurrence in the script is the n-th in the file.
	nth := strings.Count(n.Value[:off], expr)
	for i := n.Line; i < len(lines); i++ {
		l := lines[i]
		from := 0
		for {
			j := bytes.Index(l[from:], []byte(expr))
			if j < 0 {
				break
			}
			if nth == 0 {
				return i + 1, from + j + 1
			}
			nth--
			from += j + len(expr)
		}
	}
	return n.Line, n.Column
}

// scriptLine is one line of a run: script where it is in the file.
type scriptLine struct {
	text      string
	line, col int // of the line's first character
}

// scriptLines are the lines of step's run: script at their file positions.
func scriptLines(step *yaml.Node, lines [][]byte) []scriptLine {
	v := yamlnode.MapValue(step, "run")
	if v == nil || v.Kind != yaml.ScalarNode {
		return nil
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		return []scriptLine{{text: v.Value, line: v.Line, col: v.Column}}
	}
	var out []scriptLine
	for i, t := range strings.Split(strings.TrimSuffix(v.Value, "\n"), "\n") {
		fl := v.Line + 1 + i
		col := 1
		if fl-1 < len(lines) {
			raw := strings.TrimRight(string(lines[fl-1]), "\r")
			if strings.HasSuffix(raw, t) {
				col = len(raw) - len(t) + 1
			}
		}
		out = append(out, scriptLine{text: t, line: fl, col: col})
	}
	return out
}
