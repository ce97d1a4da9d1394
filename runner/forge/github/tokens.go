package github

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// templateToken is the server's serialized TemplateToken: a bare JSON
// string, bool or number, or {"type": N, "lit"|"bool"|"num"|"expr"|
// "directive"|"seq"|"map": ..., "file", "line", "col"}.
type templateToken struct {
	Type      int
	Lit       string
	Bool      bool
	Num       float64
	Expr      string
	Directive string
	Seq       []*templateToken
	Map       []tokenPair
	Line, Col int
}

type tokenPair struct {
	Key   *templateToken
	Value *templateToken
}

// Token types (TokenType.cs).
const (
	tokString = iota
	tokSequence
	tokMapping
	tokExpression
	tokInsert
	tokBool
	tokNumber
	tokNull
)

func (t *templateToken) UnmarshalJSON(data []byte) error {
	switch {
	case len(data) > 0 && data[0] == '"':
		t.Type = tokString
		return json.Unmarshal(data, &t.Lit)
	case string(data) == "true" || string(data) == "false":
		t.Type = tokBool
		t.Bool = string(data) == "true"
		return nil
	case string(data) == "null":
		t.Type = tokNull
		return nil
	case len(data) > 0 && data[0] != '{':
		t.Type = tokNumber
		return json.Unmarshal(data, &t.Num)
	}
	var raw struct {
		Type      int              `json:"type"`
		Lit       string           `json:"lit"`
		Bool      bool             `json:"bool"`
		Num       float64          `json:"num"`
		Expr      string           `json:"expr"`
		Directive string           `json:"directive"`
		Seq       []*templateToken `json:"seq"`
		Map       []tokenPair      `json:"map"`
		Line      int              `json:"line"`
		Col       int              `json:"col"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*t = templateToken{Type: raw.Type, Lit: raw.Lit, Bool: raw.Bool, Num: raw.Num, Expr: raw.Expr,
		Directive: raw.Directive, Seq: raw.Seq, Map: raw.Map, Line: raw.Line, Col: raw.Col}
	if t.Type < tokString || t.Type > tokNull {
		return fmt.Errorf("template token of unknown type %d", t.Type)
	}
	return nil
}

// yamlNode turns a token back into the YAML the user wrote: expressions
// become ${{ }} again, literals that look like one are quoted as a literal
// expression so they stay literal.
func (t *templateToken) yamlNode() (*yaml.Node, error) {
	if t == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	switch t.Type {
	case tokString:
		return stringNode(literalText(t.Lit)), nil
	case tokExpression:
		return stringNode("${{ " + t.Expr + " }}"), nil
	case tokInsert:
		return stringNode("${{ " + t.Directive + " }}"), nil
	case tokBool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t.Bool)}, nil
	case tokNumber:
		if t.Num == math.Trunc(t.Num) && math.Abs(t.Num) < 1e15 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(t.Num), 10)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(t.Num, 'f', -1, 64)}, nil
	case tokNull:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case tokSequence:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range t.Seq {
			c, err := item.yamlNode()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case tokMapping:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, p := range t.Map {
			if p.Key == nil {
				return nil, fmt.Errorf("mapping entry without a key")
			}
			k, err := p.Key.yamlNode()
			if err != nil {
				return nil, err
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("mapping key is not a scalar")
			}
			k.Tag = "!!str"
			v, err := p.Value.yamlNode()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, k, v)
		}
		return n, nil
	}
	return nil, fmt.Errorf("template token of unknown type %d", t.Type)
}

// scalar is a token's plain text when it is a literal, bool or number.
func (t *templateToken) scalar() (string, bool) {
	if t == nil {
		return "", false
	}
	switch t.Type {
	case tokString:
		return t.Lit, true
	case tokBool:
		return strconv.FormatBool(t.Bool), true
	case tokNumber:
		return strconv.FormatFloat(t.Num, 'f', -1, 64), true
	}
	return "", false
}

func literalText(s string) string {
	if strings.Contains(s, "${{") {
		return "${{ '" + strings.ReplaceAll(s, "'", "''") + "' }}"
	}
	return s
}

func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

// contextData is the server's PipelineContextData: a bare JSON string,
// bool or number, or {"t": type, "s"|"b"|"n"|"a"|"d": ...}.
type contextData struct{ v any }

func (c *contextData) UnmarshalJSON(data []byte) error {
	v, err := decodeContextData(data)
	c.v = v
	return err
}

func decodeContextData(data []byte) (any, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	if data[0] != '{' {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return v, nil
	}
	var raw struct {
		T int               `json:"t"`
		S string            `json:"s"`
		B bool              `json:"b"`
		N float64           `json:"n"`
		A []json.RawMessage `json:"a"`
		D []struct {
			K string          `json:"k"`
			V json.RawMessage `json:"v"`
		} `json:"d"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	switch raw.T {
	case 0:
		return raw.S, nil
	case 1:
		out := make([]any, 0, len(raw.A))
		for _, a := range raw.A {
			v, err := decodeContextData(a)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case 2, 5: // dictionary, case-sensitive dictionary
		out := make(map[string]any, len(raw.D))
		for _, kv := range raw.D {
			v, err := decodeContextData(kv.V)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kv.K, err)
			}
			out[kv.K] = v
		}
		return out, nil
	case 3:
		return raw.B, nil
	case 4:
		return raw.N, nil
	}
	return nil, fmt.Errorf("context data of unknown type %d", raw.T)
}
