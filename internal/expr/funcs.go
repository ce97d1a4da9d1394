package expr

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

func call(n *node, env *Env) (any, error) {
	switch n.name {
	case "success", "failure", "cancelled":
		if len(n.args) > 0 && env.JobStatus != nil {
			jobs := make([]string, len(n.args))
			for i, a := range n.args {
				v, err := eval(a, env)
				if err != nil {
					return nil, err
				}
				jobs[i] = ToString(plain(v))
			}
			return env.JobStatus(n.name, jobs), nil
		}
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
				return nil, evalErr("case predicate must evaluate to a boolean value")
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
		return strings.Contains(upperOrdinal(ToString(args[0])), upperOrdinal(ToString(args[1]))), nil
	case "startswith", "endswith":
		if !primitive(args[0]) || !primitive(args[1]) {
			return false, nil
		}
		s, affix := upperOrdinal(ToString(args[0])), upperOrdinal(ToString(args[1]))
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
		case map[string]any, *Object:
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
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			return nil, evalErr("Error parsing fromJson: %v", err)
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

// toJSON writes a value as GitHub's toJSON does: two-space indentation,
// objects in insertion order, and no HTML escaping.
func toJSON(v any) (string, error) {
	var b strings.Builder
	writeJSON(&b, v, "")
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any, indent string) {
	inner := indent + "  "
	switch x := normal(v).(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			writeJSONString(b, formatNumber(x))
			return
		}
		b.WriteString(formatNumber(x))
	case string:
		writeJSONString(b, x)
	case filtered:
		writeJSON(b, []any(x), indent)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range x {
			if i > 0 {
				b.WriteString(",\n")
			}
			b.WriteString(inner)
			writeJSON(b, e, inner)
		}
		b.WriteString("\n" + indent + "]")
	case *Object:
		writeJSONObject(b, x.keys, func(i int) any { return x.vals[i] }, indent)
	case map[string]any:
		keys := sortedKeys(x)
		writeJSONObject(b, keys, func(i int) any { return x[keys[i]] }, indent)
	default:
		b.WriteString("null")
	}
}

func writeJSONObject(b *strings.Builder, keys []string, val func(int) any, indent string) {
	if len(keys) == 0 {
		b.WriteString("{}")
		return
	}
	inner := indent + "  "
	b.WriteString("{\n")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(inner)
		writeJSONString(b, k)
		b.WriteString(": ")
		writeJSON(b, val(i), inner)
	}
	b.WriteString("\n" + indent + "}")
}

func writeJSONString(b *strings.Builder, s string) {
	data, _ := json.Marshal(s)
	// encoding/json escapes <, > and & for HTML; GitHub does not.
	out := string(data)
	out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(out)
	b.WriteString(out)
}

// format implements format(): {N} is replaced by argument N, {{ and }} are
// literal braces; anything else is an invalid format string.
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
				return "", evalErr("The following format string is invalid: %s", f)
			}
			spec := f[i+1 : i+end]
			idx, err := strconv.Atoi(spec)
			if err != nil || spec == "" || spec[0] < '0' || spec[0] > '9' {
				return "", evalErr("The following format string is invalid: %s", f)
			}
			if idx >= len(args) {
				return "", evalErr("The following format string references more arguments than were supplied: %s", f)
			}
			b.WriteString(ToString(args[idx]))
			i += end
		case '}':
			if i+1 < len(f) && f[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", evalErr("The following format string is invalid: %s", f)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
