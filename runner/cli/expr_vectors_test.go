package cli

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/expr"
)

// TestExprCommandOnGitHubVectors runs GitHub's expression vectors
// (internal/expr/testdata/github) through `gantry expr --contexts FILE`
// itself: the file's top-level keys are the named values, and the printed
// result must be GitHub's.
func TestExprCommandOnGitHubVectors(t *testing.T) {
	files, _ := filepath.Glob("../../internal/expr/testdata/github/*.json")
	if len(files) == 0 {
		t.Fatal("no vectors")
	}
	dir := t.TempDir()
	total, passed := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var groups map[string][]struct {
			Expr     string          `json:"expr"`
			Contexts json.RawMessage `json:"contexts"`
			Result   *struct {
				Kind  string          `json:"kind"`
				Value json.RawMessage `json:"value"`
			} `json:"result"`
			Err *vectorErr `json:"err"`
		}
		if err := json.Unmarshal(data, &groups); err != nil {
			t.Fatal(err)
		}
		for name, cases := range groups {
			for _, c := range cases {
				if strings.HasPrefix(c.Err.value(), "The maximum allowed memory size") {
					continue // GitHub's C#-only memory limit (see internal/expr's exclusions)
				}
				total++
				ctx := c.Contexts
				if len(ctx) == 0 {
					ctx = json.RawMessage("{}")
				}
				cf := filepath.Join(dir, "ctx.json")
				if err := os.WriteFile(cf, ctx, 0o644); err != nil {
					t.Fatal(err)
				}
				code, out, errOut := gantry(t, "expr", "--contexts", cf, "--", c.Expr)
				var got struct {
					Kind  string                          `json:"kind"`
					Value json.RawMessage                 `json:"value"`
					Error *struct{ Kind, Message string } `json:"error"`
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Errorf("%s %q: output is not JSON: %q %q", name, c.Expr, out, errOut)
					continue
				}
				ok := false
				switch {
				case c.Err != nil:
					ok = code == 1 && got.Error != nil && got.Error.Kind == c.Err.Kind && strings.Contains(got.Error.Message, c.Err.Value)
				case got.Error == nil && code == 0 && got.Kind == c.Result.Kind:
					ok = sameJSON(t, got.Value, c.Result.Value)
				}
				if !ok {
					t.Errorf("%s %q: got %s (exit %d), want %+v %+v", name, c.Expr, strings.TrimSpace(out), code, c.Result, c.Err)
					continue
				}
				passed++
			}
		}
	}
	t.Logf("GitHub expression vectors through gantry expr --contexts: %d/%d pass", passed, total)
	if total != 1019 {
		t.Errorf("ran %d vectors, want the corpus's 1020 less the memory-limit case", total)
	}
}

type vectorErr struct{ Kind, Value string }

func (e *vectorErr) value() string {
	if e == nil {
		return ""
	}
	return e.Value
}

// sameJSON compares two JSON values, object key order included (NaN and
// ±Infinity are printed as strings).
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	va, err1 := expr.DecodeJSON(a)
	vb, err2 := expr.DecodeJSON(b)
	if err1 != nil || err2 != nil {
		t.Logf("bad JSON %s / %s", a, b)
		return false
	}
	return equalOrdered(va, vb)
}

func equalOrdered(a, b any) bool {
	switch y := b.(type) {
	case float64:
		x, ok := a.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case []any:
		x, ok := a.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range y {
			if !equalOrdered(x[i], y[i]) {
				return false
			}
		}
		return true
	case *expr.Object:
		x, ok := a.(*expr.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xk, yk := x.Keys(), y.Keys()
		for i := range yk {
			xv, _ := x.Get(xk[i])
			yv, _ := y.Get(yk[i])
			if xk[i] != yk[i] || !equalOrdered(xv, yv) {
				return false
			}
		}
		return true
	}
	return a == b
}
