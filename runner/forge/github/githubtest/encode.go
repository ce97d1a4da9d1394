package githubtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The server's side of the wire formats: YAML the test writes becomes
// TemplateTokens, Go values become PipelineContextData, as the Actions
// service serializes them (TemplateTokenJsonConverter.cs,
// PipelineContextDataJsonConverter.cs).

// token encodes a YAML node as a TemplateToken. Strings holding ${{ }}
// become a basic expression (format() when mixed with text), as the
// service compiles them.
func token(n *yaml.Node) any {
	if n == nil {
		return map[string]any{"type": 7}
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	switch n.Kind {
	case yaml.MappingNode:
		var pairs []any
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, map[string]any{"Key": token(n.Content[i]), "Value": token(n.Content[i+1])})
		}
		return map[string]any{"type": 2, "map": pairs, "line": n.Line, "col": n.Column}
	case yaml.SequenceNode:
		var items []any
		for _, c := range n.Content {
			items = append(items, token(c))
		}
		return map[string]any{"type": 1, "seq": items}
	case yaml.AliasNode:
		return token(n.Alias)
	}
	switch n.Tag {
	case "!!bool":
		return map[string]any{"type": 5, "bool": n.Value == "true"}
	case "!!int", "!!float":
		f, _ := strconv.ParseFloat(n.Value, 64)
		return map[string]any{"type": 6, "num": f}
	case "!!null":
		return map[string]any{"type": 7}
	}
	if e, ok := expression(n.Value); ok {
		return map[string]any{"type": 3, "expr": e}
	}
	if n.Line%2 == 0 {
		return n.Value // the service writes short literals bare at times
	}
	return map[string]any{"type": 0, "lit": n.Value, "line": n.Line, "col": n.Column}
}

// expression compiles a string with ${{ }} into one expression.
func expression(s string) (string, bool) {
	if !strings.Contains(s, "${{") {
		return "", false
	}
	trim := strings.TrimSpace(s)
	if strings.HasPrefix(trim, "${{") && strings.HasSuffix(trim, "}}") && strings.Count(trim, "${{") == 1 {
		return strings.TrimSpace(trim[3 : len(trim)-2]), true
	}
	var format strings.Builder
	var args []string
	rest := s
	for {
		i := strings.Index(rest, "${{")
		if i < 0 {
			format.WriteString(escapeFormat(rest))
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			format.WriteString(escapeFormat(rest))
			break
		}
		format.WriteString(escapeFormat(rest[:i]))
		fmt.Fprintf(&format, "{%d}", len(args))
		args = append(args, strings.TrimSpace(rest[i+3:i+j]))
		rest = rest[i+j+2:]
	}
	return "format('" + strings.ReplaceAll(format.String(), "'", "''") + "', " + strings.Join(args, ", ") + ")", true
}

func escapeFormat(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "{", "{{"), "}", "}}")
}

// contextData encodes a Go value as PipelineContextData.
func contextData(v any) any {
	switch t := v.(type) {
	case nil:
		return nil
	case string:
		if len(t)%2 == 0 {
			return t // bare
		}
		return map[string]any{"t": 0, "s": t}
	case bool:
		return map[string]any{"t": 3, "b": t}
	case int:
		return map[string]any{"t": 4, "n": float64(t)}
	case float64:
		return map[string]any{"t": 4, "n": t}
	case []any:
		var a []any
		for _, x := range t {
			a = append(a, contextData(x))
		}
		return map[string]any{"t": 1, "a": a}
	case map[string]string:
		m := map[string]any{}
		for k, x := range t {
			m[k] = x
		}
		return contextData(m)
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var d []any
		for _, k := range keys {
			d = append(d, map[string]any{"k": k, "v": contextData(t[k])})
		}
		return map[string]any{"t": 2, "d": d}
	}
	return fmt.Sprint(v)
}
