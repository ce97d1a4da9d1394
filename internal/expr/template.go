package expr

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode"
)

// Template is a string that may hold ${{ }} expressions.
type Template struct {
	parts []part
}

type part struct {
	lit  string
	expr *Expr
}

// ParseTemplate parses a string with embedded ${{ }} expressions. Error
// offsets are into s.
func ParseTemplate(s string) (*Template, error) {
	return ParseTemplateWith(s, nil, nil)
}

// ParseTemplateWith is ParseTemplate with ParseWith's restrictions on
// contexts and functions.
func ParseTemplateWith(s string, allowedContexts, allowedFuncs []string) (*Template, error) {
	t := &Template{}
	i := 0
	for {
		start := strings.Index(s[i:], "${{")
		if start < 0 {
			if i < len(s) {
				t.parts = append(t.parts, part{lit: s[i:]})
			}
			return t, nil
		}
		start += i
		if start > i {
			t.parts = append(t.parts, part{lit: s[i:start]})
		}
		end := closing(s, start+3)
		if end < 0 {
			return nil, parseErr(start, "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.")
		}
		// GitHub trims the expression before parsing it; positions in its
		// messages count from the first non-blank character.
		raw := s[start+3 : end]
		src := strings.TrimFunc(raw, unicode.IsSpace)
		lead := len(raw) - len(strings.TrimLeftFunc(raw, unicode.IsSpace))
		e, err := ParseWith(src, allowedContexts, allowedFuncs)
		if err != nil {
			if pe, ok := err.(*Error); ok {
				pe.Offset += start + 3 + lead
				pe.exprOff = start + 3 + lead
			}
			return nil, err
		}
		t.parts = append(t.parts, part{expr: e})
		i = end + 2
	}
}

// closing finds the }} that ends an expression starting at i, skipping string
// literals.
func closing(s string, i int) int {
	inStr := false
	for j := i; j < len(s); j++ {
		c := s[j]
		if inStr {
			if c == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					j++
					continue
				}
				inStr = false
			}
			continue
		}
		if c == '\'' {
			inStr = true
			continue
		}
		if c == '}' && j+1 < len(s) && s[j+1] == '}' {
			return j
		}
	}
	return -1
}

// IsLiteral reports whether the template holds no expression.
func (t *Template) IsLiteral() bool {
	for _, p := range t.parts {
		if p.expr != nil {
			return false
		}
	}
	return true
}

// Exprs lists the template's expressions.
func (t *Template) Exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.expr != nil {
			out = append(out, p.expr)
		}
	}
	return out
}

// Eval evaluates the template: exactly one expression and nothing else gives
// its value; otherwise the parts are joined as strings.
func (t *Template) Eval(env *Env) (any, error) {
	if len(t.parts) == 1 && t.parts[0].expr != nil {
		return t.parts[0].expr.Eval(env)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := p.expr.Eval(env)
		if err != nil {
			return nil, err
		}
		b.WriteString(ToString(v))
	}
	return b.String(), nil
}

var statusFuncs = map[string]bool{"success": true, "failure": true, "always": true, "cancelled": true}

// EvalCondition evaluates an if: condition, written with or without ${{ }}.
// Without a status function, success() && (condition) is implied.
func EvalCondition(src string, env *Env) (bool, error) {
	s := strings.TrimSpace(src)
	if env == nil {
		env = &Env{}
	}
	if s == "" { // an empty if: means the default, success()
		return env.Status == nil || env.Status("success"), nil
	}
	var exprs []*Expr
	var eval func() (any, error)
	if strings.Contains(s, "${{") {
		t, err := ParseTemplate(s)
		if err != nil {
			return false, err
		}
		exprs = t.Exprs()
		eval = func() (any, error) { return t.Eval(env) }
	} else {
		e, err := Parse(s)
		if err != nil {
			return false, err
		}
		exprs = []*Expr{e}
		eval = func() (any, error) { return e.Eval(env) }
	}
	usesStatus := false
	for _, e := range exprs {
		for _, f := range e.Functions() {
			if statusFuncs[f] {
				usesStatus = true
			}
		}
	}
	if !usesStatus {
		ok := true
		if env.Status != nil {
			ok = env.Status("success")
		}
		if !ok {
			return false, nil
		}
	}
	v, err := eval()
	if err != nil {
		return false, err
	}
	return Truthy(v), nil
}

// Result is the JSON gantry expr prints for a value or an error.
func Result(v any, err error) []byte {
	var out any
	if err != nil {
		kind, msg := "evaluation", err.Error()
		if e, ok := err.(*Error); ok {
			kind = e.Kind
		}
		out = map[string]any{"error": map[string]any{"kind": kind, "message": msg}}
	} else {
		// The value is written by toJSON's writer so that objects keep their
		// key order, then compacted.
		var b strings.Builder
		writeJSON(&b, v, "")
		var value bytes.Buffer
		if err := json.Compact(&value, []byte(b.String())); err != nil {
			return Result(nil, evalErr("cannot encode the %s result: %v", Kind(v), err))
		}
		out = struct {
			Kind  string          `json:"kind"`
			Value json.RawMessage `json:"value"`
		}{Kind(v), value.Bytes()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return Result(nil, evalErr("cannot encode the %s result: %v", Kind(v), err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
