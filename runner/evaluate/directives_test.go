package evaluate

import (
	"reflect"
	"testing"

	"github.com/gantry-ci/gantry/internal/expr"
)

func TestValueTemplateDirectives(t *testing.T) {
	env := &expr.Env{Contexts: map[string]any{"needs": map[string]any{"p": map[string]any{"outputs": map[string]any{"key": "helix", "list": `["a","b"]`}}}}}
	in := map[string]any{
		"${{ needs.p.outputs.key }}": "${{ fromJSON(needs.p.outputs.list) }}",
		"env": []any{map[string]any{
			"key1":          "val1",
			"${{insert}}":   map[string]any{"key2": "val2"},
			"${{ INSERT }}": `${{ fromJSON('{"key3":"val3"}') }}`,
		}},
		"seq": []any{"x", `${{ fromJSON('["y","z"]') }}`, "n ${{ 1 }}"},
	}
	got, err := Value(in, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"helix": []any{"a", "b"},
		"env":   []any{map[string]any{"key1": "val1", "key2": "val2", "key3": "val3"}},
		"seq":   []any{"x", "y", "z", "n 1"},
	}
	if !reflect.DeepEqual(normalize(got), want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if _, err := Value(map[string]any{"${{ insert }}": "text"}, env); err == nil {
		t.Fatal("inserting a string: no error")
	}
}

// normalize turns ordered expression objects into plain maps for comparison.
func normalize(v any) any {
	switch x := v.(type) {
	case *expr.Object:
		m := map[string]any{}
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			m[k] = normalize(e)
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}
