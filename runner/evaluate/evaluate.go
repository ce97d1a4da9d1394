// Package evaluate turns workflow values that may hold ${{ }} expressions
// into the values a job uses: strings, booleans, numbers and nested values.
// The engine and the scheduler share it so a value means the same to both.
package evaluate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
)

// Template evaluates s; a string without ${{ is returned as it is.
func Template(s string, env *expr.Env) (any, error) {
	if !strings.Contains(s, "${{") {
		return s, nil
	}
	t, err := expr.ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	return t.Eval(env)
}

// String evaluates a template and converts the result to a string.
func String(s string, env *expr.Env) (string, error) {
	v, err := Template(s, env)
	if err != nil {
		return "", err
	}
	return expr.ToString(v), nil
}

// Bool evaluates a value such as continue-on-error: a literal or an expression.
func Bool(s string, env *expr.Env) (bool, error) {
	v, err := Template(s, env)
	if err != nil {
		return false, err
	}
	if str, ok := v.(string); ok {
		switch str {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return expr.Truthy(v), nil
}

// Number evaluates a value such as timeout-minutes.
func Number(s string, env *expr.Env) (float64, error) {
	v, err := Template(s, env)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// Value evaluates every string holding ${{ }} inside a plain value.
func Value(v any, env *expr.Env) (any, error) {
	switch x := v.(type) {
	case string:
		return Template(x, env)
	case []any:
		return valueSequence(x, env)
	case map[string]any:
		return valueMapping(x, env)
	}
	return v, nil
}

// StringMap turns string values into expression values.
func StringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
