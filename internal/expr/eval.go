package expr

import (
	"fmt"
	"math"
	"strings"
)

// Env is what an expression is evaluated against.
type Env struct {
	Contexts map[string]any
	// Status answers success()/failure()/cancelled(); nil means success()
	// is true and the others false. always() is always true.
	Status func(fn string) bool
	// JobStatus answers success('job', ...) and failure('job', ...) in a
	// job's if: about the named needed jobs; nil means Status answers them
	// about all the needed jobs.
	JobStatus func(fn string, jobs []string) bool
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
	v, err := e.EvalValue(env)
	if err != nil {
		return nil, err
	}
	return Plain(v), nil
}

// EvalValue evaluates like Eval but keeps objects that came from fromJSON or
// from *Object contexts as insertion-ordered *Object values.
func (e *Expr) EvalValue(env *Env) (any, error) {
	if env == nil {
		env = &Env{}
	}
	v, err := eval(e.root, env)
	if err != nil {
		if ee, ok := err.(*Error); ok && ee.Expr == "" {
			ee.Expr = e.src
		}
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
	case nAnd, nOr:
		var v any
		for _, a := range n.args {
			var err error
			if v, err = eval(a, env); err != nil {
				return nil, err
			}
			if Truthy(plain(v)) == (n.kind == nOr) {
				return v, nil
			}
		}
		return v, nil
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
	case *Object:
		v, ok := t.Get(name)
		return normal(v), ok
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
			case map[string]any, map[string]string, *Object:
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
	case nil, string, bool, float64, []any, map[string]any, *Object:
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
			case map[string]any, map[string]string, *Object:
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
	case map[string]any, map[string]string, *Object:
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
			case *Object:
				out = append(out, x.vals...)
			}
		}
	case *Object:
		out = append(out, t.vals...)
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
