package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Env is what an expression is evaluated against.
type Env struct {
	Contexts map[string]any
	// Status answers success()/failure()/cancelled(); nil means success()
	// is true and the others false. always() is always true.
	Status func(fn string) bool
	// HashFiles implements hashFiles(); nil makes it an evaluation error.
	HashFiles func(patterns []string) (string, error)
}

func evalErr(format string, args ...any) *Error {
	return &Error{Kind: "evaluation", Msg: fmt.Sprintf(format, args...)}
}

// filtered is the result of a .* filter: later property access maps over it.
type filtered []any

// Eval evaluates the expression.
func (e *Expr) Eval(env *Env) (any, error) {
	if env == nil {
		env = &Env{}
	}
	v, err := eval(e.root, env)
	if err != nil {
		return nil, err
	}
	return plain(v), nil
}

func plain(v any) any {
	if f, ok := v.(filtered); ok {
		return []any(f)
	}
	return v
}

func eval(n *node, env *Env) (any, error) {
	switch n.kind {
	case nLiteral:
		return n.value, nil
	case nContext:
		if v, ok := lookup(env.Contexts, n.name); ok {
			return normal(v), nil
		}
		return nil, nil
	case nProperty:
		target, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		return property(target, n.name), nil
	case nIndex:
		target, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		idx, err := eval(n.args[1], env)
		if err != nil {
			return nil, err
		}
		return index(target, plain(idx)), nil
	case nFilter:
		target, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		return filter(target), nil
	case nNot:
		v, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		return !Truthy(plain(v)), nil
	case nAnd:
		l, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		if !Truthy(plain(l)) {
			return l, nil
		}
		return eval(n.args[1], env)
	case nOr:
		l, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		if Truthy(plain(l)) {
			return l, nil
		}
		return eval(n.args[1], env)
	case nBinary:
		l, err := eval(n.args[0], env)
		if err != nil {
			return nil, err
		}
		r, err := eval(n.args[1], env)
		if err != nil {
			return nil, err
		}
		return compare(n.op, plain(l), plain(r)), nil
	case nCall:
		return call(n, env)
	}
	return nil, evalErr("unknown node")
}

// lookup finds a key case-insensitively.
func lookup(m map[string]any, key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func property(target any, name string) any {
	v, _ := propertyOK(target, name)
	return v
}

// propertyOK reports whether the key exists, so that filters keep present
// null values as GitHub does.
func propertyOK(target any, name string) (any, bool) {
	switch t := target.(type) {
	case map[string]any:
		v, ok := lookup(t, name)
		return normal(v), ok
	case map[string]string:
		for k, v := range t {
			if strings.EqualFold(k, name) {
				return v, true
			}
		}
	case filtered:
		out := filtered{}
		for _, e := range t {
			switch e.(type) {
			case map[string]any, map[string]string:
				if v, ok := propertyOK(e, name); ok {
					out = append(out, v)
				}
			}
		}
		return out, true
	}
	return nil, false
}

// normal converts Go values callers may put in contexts to the expression
// types (float64, string, bool, nil, []any, map[string]any).
func normal(v any) any {
	switch x := v.(type) {
	case nil, string, bool, float64, []any, map[string]any:
		return v
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	}
	return v
}

func index(target, idx any) any {
	switch t := target.(type) {
	case filtered:
		out := filtered{}
		for _, e := range t {
			switch x := e.(type) {
			case []any:
				if i, ok := arrayIndex(idx, len(x)); ok {
					out = append(out, normal(x[i]))
				}
			case map[string]any, map[string]string:
				if !primitive(idx) {
					continue
				}
				if v, ok := propertyOK(x, ToString(idx)); ok {
					out = append(out, v)
				}
			}
		}
		return out
	case []any:
		if i, ok := arrayIndex(idx, len(t)); ok {
			return normal(t[i])
		}
		return nil
	case map[string]any, map[string]string:
		if !primitive(idx) {
			return nil
		}
		return property(t, ToString(idx))
	}
	return nil
}

// arrayIndex converts an index value to a position in an array of length n.
func arrayIndex(idx any, n int) (int, bool) {
	f := toNumber(idx)
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f >= float64(n) {
		return 0, false
	}
	return int(f), true
}

func primitive(v any) bool {
	switch v.(type) {
	case nil, bool, float64, string:
		return true
	}
	return false
}

func filter(target any) any {
	var out filtered
	switch t := target.(type) {
	case []any:
		out = append(out, t...)
	case filtered:
		for _, e := range t {
			switch x := e.(type) {
			case []any:
				out = append(out, x...)
			case map[string]any:
				for _, k := range sortedKeys(x) {
					out = append(out, x[k])
				}
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			out = append(out, t[k])
		}
	default:
		return filtered{}
	}
	if out == nil {
		out = filtered{}
	}
	return out
}

// Truthy is GitHub's conversion to boolean.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// Kind names a value's type as GitHub does.
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "Null"
	case bool:
		return "Boolean"
	case float64, int, int64:
		return "Number"
	case string:
		return "String"
	case []any, filtered:
		return "Array"
	}
	return "Object"
}

// ToString is GitHub's conversion to string.
func ToString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return formatNumber(x)
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	case []any, filtered:
		return "Array"
	}
	return "Object"
}

func formatNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatInt(int64(f), 10)
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	return strings.Replace(s, "e", "E", 1)
}

// toNumber is GitHub's conversion to number.
func toNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		if x {
			return 1
		}
		return 0
	case float64:
		return x
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0
		}
		switch s {
		case "Infinity", "+Infinity":
			return inf(1)
		case "-Infinity":
			return inf(-1)
		}
		if f, err := parseNumber(s); err == nil {
			return f
		}
		return nan()
	}
	return nan()
}

func nan() float64      { return math.NaN() }
func inf(s int) float64 { return math.Inf(s) }
func sameRef(a, b any) bool {
	ra, rb := reflect.ValueOf(a), reflect.ValueOf(b)
	if ra.Kind() != rb.Kind() {
		return false
	}
	switch ra.Kind() {
	case reflect.Map:
		return ra.Pointer() == rb.Pointer()
	case reflect.Slice:
		return ra.Pointer() == rb.Pointer() && ra.Len() == rb.Len()
	}
	return false
}

// coerce brings two values to a common kind for comparison: null and
// booleans become numbers, and a string compared with a number becomes a
// number. Arrays and objects are never converted.
func coerce(a, b any) (any, any) {
	for i := 0; i < 3; i++ {
		if Kind(a) == Kind(b) {
			return a, b
		}
		switch a.(type) {
		case nil, bool:
			a = toNumber(a)
			continue
		case float64:
			if _, ok := b.(string); ok {
				return a, toNumber(b)
			}
		case string:
			if _, ok := b.(float64); ok {
				return toNumber(a), b
			}
		}
		switch b.(type) {
		case nil, bool:
			b = toNumber(b)
			continue
		}
		break
	}
	return a, b
}

// looseEqual implements == with GitHub's coercion.
func looseEqual(a, b any) bool {
	a, b = coerce(a, b)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y // NaN is never equal
	case string:
		y, ok := b.(string)
		return ok && strings.EqualFold(x, y)
	case []any, map[string]any:
		return sameRef(a, b)
	}
	return false
}

// order returns -1, 0 or 1 for a < b, a == b, a > b after coercion, and
// false when the values are not ordered (different kinds, NaN, containers).
func order(a, b any) (int, bool) {
	a, b = coerce(a, b)
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok || math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(strings.ToUpper(x), strings.ToUpper(y)), true
	case bool:
		y, ok := b.(bool)
		if !ok {
			return 0, false
		}
		switch {
		case x == y:
			return 0, true
		case x:
			return 1, true
		}
		return -1, true
	}
	return 0, false
}

func compare(op tokKind, a, b any) bool {
	switch op {
	case tEq:
		return looseEqual(a, b)
	case tNe:
		return !looseEqual(a, b)
	}
	c, ok := order(a, b)
	switch op {
	case tLt:
		return ok && c < 0
	case tGt:
		return ok && c > 0
	case tLe:
		return ok && c <= 0 || looseEqual(a, b)
	case tGe:
		return ok && c >= 0 || looseEqual(a, b)
	}
	return false
}

func call(n *node, env *Env) (any, error) {
	switch n.name {
	case "success", "failure", "cancelled":
		if env.Status == nil {
			return n.name == "success", nil
		}
		return env.Status(n.name), nil
	case "always":
		return true, nil
	case "case":
		for i := 0; i+1 < len(n.args); i += 2 {
			pred, err := eval(n.args[i], env)
			if err != nil {
				return nil, err
			}
			if _, ok := plain(pred).(bool); !ok {
				return nil, evalErr("case(): predicate %d must be a boolean, got %s", i/2+1, Kind(plain(pred)))
			}
			if pred.(bool) {
				return eval(n.args[i+1], env)
			}
		}
		return eval(n.args[len(n.args)-1], env)
	}
	args := make([]any, len(n.args))
	for i, a := range n.args {
		v, err := eval(a, env)
		if err != nil {
			return nil, err
		}
		args[i] = plain(v)
	}
	switch n.name {
	case "contains":
		if arr, ok := args[0].([]any); ok {
			for _, e := range arr {
				if looseEqual(args[1], e) {
					return true, nil
				}
			}
			return false, nil
		}
		if !primitive(args[0]) || !primitive(args[1]) {
			return false, nil
		}
		return strings.Contains(strings.ToUpper(ToString(args[0])), strings.ToUpper(ToString(args[1]))), nil
	case "startswith", "endswith":
		if !primitive(args[0]) || !primitive(args[1]) {
			return false, nil
		}
		s, affix := strings.ToUpper(ToString(args[0])), strings.ToUpper(ToString(args[1]))
		if n.name == "startswith" {
			return strings.HasPrefix(s, affix), nil
		}
		return strings.HasSuffix(s, affix), nil
	case "format":
		return format(ToString(args[0]), args[1:])
	case "join":
		sep := ","
		if len(args) > 1 && primitive(args[1]) {
			sep = ToString(args[1])
		}
		switch x := args[0].(type) {
		case []any:
			parts := make([]string, len(x))
			for i, e := range x {
				parts[i] = ToString(e)
			}
			return strings.Join(parts, sep), nil
		case map[string]any:
			return "", nil
		}
		return ToString(args[0]), nil
	case "tojson":
		return toJSON(args[0])
	case "fromjson":
		s := ToString(args[0])
		if strings.TrimSpace(s) == "" {
			return nil, evalErr("fromJSON(): the input is empty")
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		if err := dec.Decode(&v); err != nil {
			return nil, evalErr("fromJSON(): invalid JSON: %v", err)
		}
		if dec.More() {
			return nil, evalErr("fromJSON(): invalid JSON: text after the value")
		}
		return v, nil
	case "hashfiles":
		if env.HashFiles == nil {
			return nil, evalErr("hashFiles() is not available here")
		}
		pats := make([]string, len(args))
		for i, a := range args {
			pats[i] = ToString(a)
		}
		h, err := env.HashFiles(pats)
		if err != nil {
			return nil, evalErr("hashFiles(%s): %v", strings.Join(pats, ", "), err)
		}
		return h, nil
	}
	return nil, evalErr("unknown function %s", n.name)
}

func toJSON(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(jsonSafe(v)); err != nil {
		return "", evalErr("toJSON(): %v", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// jsonSafe replaces numbers JSON cannot hold (NaN, ±Inf).
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return formatNumber(x)
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonSafe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonSafe(e)
		}
		return out
	}
	return v
}

func format(f string, args []any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch c {
		case '{':
			if i+1 < len(f) && f[i+1] == '{' {
				b.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return "", evalErr("format(): invalid format string %q: '{' without '}'", f)
			}
			idx, err := strconv.Atoi(f[i+1 : i+end])
			if err != nil || idx < 0 {
				return "", evalErr("format(): invalid format string %q: %q is not an argument index", f, f[i:i+end+1])
			}
			if idx >= len(args) {
				return "", evalErr("format(): the format string refers to argument {%d}, but only %d were given", idx, len(args))
			}
			b.WriteString(ToString(args[idx]))
			i += end
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", evalErr("format(): invalid format string %q: '}' without '{'", f)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
