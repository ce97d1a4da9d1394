package expr

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// vectorExclusions are GitHub vectors this package does not run, with why.
var vectorExclusions = map[string]string{
	// GitHub's C# engine caps the memory a single evaluation may allocate
	// (about 1 MB of intermediate strings); the limit is an implementation
	// detail of that engine, not of the language, and the TypeScript engine
	// skips the case too.
	"syntax-errors/memory-errors#0": "C#-only memory limit",
}

type vectorCase struct {
	Expr     string          `json:"expr"`
	Contexts json.RawMessage `json:"contexts"`
	Result   *struct {
		Kind  string          `json:"kind"`
		Value json.RawMessage `json:"value"`
	} `json:"result"`
	Err *struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"err"`
}

// runVector evaluates one vector as `gantry expr --contexts` does: the
// top-level keys of contexts are the only named values.
func runVector(c vectorCase) (any, error) {
	env := &Env{}
	names := []string{}
	if len(c.Contexts) > 0 {
		v, err := DecodeJSON(c.Contexts)
		if err != nil {
			return nil, err
		}
		o := v.(*Object)
		names = o.Keys()
		env.Contexts = map[string]any{}
		for _, k := range o.keys {
			env.Contexts[k], _ = o.Get(k)
		}
	}
	if strings.TrimSpace(c.Expr) == "" {
		return nil, nil // GitHub's parser returns no tree, which evaluates to null
	}
	e, err := ParseWith(c.Expr, names, nil)
	if err != nil {
		return nil, err
	}
	return e.EvalValue(env)
}

// sameValue compares an evaluation result with the expected JSON value,
// object key order included.
func sameValue(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case bool, string:
		return got == w
	case float64:
		g, ok := got.(float64)
		return ok && (g == w || math.IsNaN(g) && math.IsNaN(w))
	case []any:
		g, ok := plain(got).([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(g[i], w[i]) {
				return false
			}
		}
		return true
	case *Object:
		g, ok := got.(*Object)
		if !ok || g.Len() != w.Len() {
			return false
		}
		for i, k := range w.keys {
			if g.keys[i] != k || !sameValue(g.vals[i], w.vals[i]) {
				return false
			}
		}
		return true
	}
	return false
}

func TestGitHubExpressionVectors(t *testing.T) {
	files, err := filepath.Glob("testdata/github/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in testdata/github: %v", err)
	}
	total, passed, excluded := 0, 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var groups map[string][]vectorCase
		if err := json.Unmarshal(data, &groups); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names := make([]string, 0, len(groups))
		for n := range groups {
			names = append(names, n)
		}
		sort.Strings(names)
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		for _, name := range names {
			for i, c := range groups[name] {
				total++
				id := base + "/" + name + "#" + strconv.Itoa(i)
				if _, ok := vectorExclusions[id]; ok {
					excluded++
					continue
				}
				if msg := checkVector(c); msg != "" {
					t.Errorf("%s: %q: %s", id, c.Expr, msg)
					continue
				}
				passed++
			}
		}
	}
	t.Logf("GitHub expression vectors: %d/%d pass (%d excluded)", passed, total, excluded)
	if total != 1020 {
		t.Errorf("expected 1020 vectors in the corpus, found %d", total)
	}
}

func checkVector(c vectorCase) string {
	v, err := runVector(c)
	if c.Err != nil {
		if err == nil {
			return "want " + c.Err.Kind + " error " + c.Err.Value + ", got " + string(Result(Plain(v), nil))
		}
		e, ok := err.(*Error)
		if !ok {
			return "error is not *Error: " + err.Error()
		}
		if e.Kind != c.Err.Kind {
			return "want a " + c.Err.Kind + " error, got " + e.Kind + ": " + e.Error()
		}
		if !strings.Contains(e.Error(), c.Err.Value) {
			return "want message containing\n\t" + c.Err.Value + "\ngot\n\t" + e.Error()
		}
		return ""
	}
	if err != nil {
		return "unexpected error: " + err.Error()
	}
	if k := Kind(v); k != c.Result.Kind {
		return "want kind " + c.Result.Kind + ", got " + k + " " + string(Result(Plain(v), nil))
	}
	want, err := DecodeJSON(c.Result.Value)
	if err != nil {
		return "bad expected value: " + err.Error()
	}
	if !sameValue(v, want) {
		got, _ := toJSON(v)
		exp, _ := toJSON(want)
		return "want " + exp + "\n got " + got
	}
	return ""
}
