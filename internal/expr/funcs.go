package expr

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

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
		if x == 0 {
			return 0.0 // no -0
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
			// {N} or {N:specifier}; GitHub ignores the specifier.
			spec := f[i+1 : i+end]
			if c := strings.IndexByte(spec, ':'); c >= 0 {
				spec = spec[:c]
			}
			idx, err := strconv.Atoi(spec)
			if err != nil || idx < 0 || spec[0] < '0' || spec[0] > '9' {
				return "", evalErr("format(): invalid format string %q: %q is not an argument index", f, f[i:i+end+1])
			}
			if idx >= len(args) {
				return "", evalErr("format(): the format string refers to {%d} but only %d argument(s) follow it", idx, len(args))
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
