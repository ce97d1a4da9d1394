package evaluate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
)

// GitHub's template evaluator reads a value structurally, not string by
// string: a mapping key that is an expression is evaluated to the key, the
// key `${{ insert }}` merges the mapping its value gives into the enclosing
// mapping, and a sequence item that is a lone expression giving a sequence
// is spliced into the enclosing sequence. strategy.matrix and runs-on rely
// on these rules.

var insertKey = regexp.MustCompile(`^\$\{\{\s*(?i:insert)\s*\}\}$`)

// loneExpr reports whether s is one ${{ }} expression and nothing else.
func loneExpr(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}") && strings.Count(s, "${{") == 1
}

func valueMapping(x map[string]any, env *expr.Env) (map[string]any, error) {
	out := make(map[string]any, len(x))
	var inserts []string
	for k, e := range x {
		if insertKey.MatchString(strings.TrimSpace(k)) {
			inserts = append(inserts, k)
			continue
		}
		ev, err := Value(e, env)
		if err != nil {
			return nil, err
		}
		if strings.Contains(k, "${{") {
			key, err := String(k, env)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", k, err)
			}
			k = key
		}
		out[k] = ev
	}
	for _, k := range inserts {
		ev, err := Value(x[k], env)
		if err != nil {
			return nil, err
		}
		switch m := ev.(type) {
		case nil:
		case map[string]any:
			for mk, mv := range m {
				out[mk] = mv
			}
		case *expr.Object:
			for _, mk := range m.Keys() {
				mv, _ := m.Get(mk)
				out[mk] = mv
			}
		default:
			return nil, fmt.Errorf("%s must be given a mapping to insert, not %s", k, expr.Kind(ev))
		}
	}
	return out, nil
}

func valueSequence(x []any, env *expr.Env) ([]any, error) {
	out := make([]any, 0, len(x))
	for _, e := range x {
		ev, err := Value(e, env)
		if err != nil {
			return nil, err
		}
		if s, ok := e.(string); ok && loneExpr(s) {
			if seq, ok := ev.([]any); ok {
				out = append(out, seq...)
				continue
			}
		}
		out = append(out, ev)
	}
	return out, nil
}
