package matrix

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func expand(t *testing.T, keys []string, src string) []map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	cells, err := Expand(keys, m)
	if err != nil {
		t.Fatal(err)
	}
	return cells
}

func render(cells []map[string]any) string {
	var parts []string
	for _, c := range cells {
		b, _ := json.Marshal(c)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, "\n")
}

// The examples of GitHub's "Running variations of jobs in a workflow".
func TestDocumentedExamples(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		src  string
		want string
	}{
		{"product in key order", []string{"version", "os"}, `{"version":[10,12],"os":["ubuntu","windows"]}`,
			`{"os":"ubuntu","version":10}
{"os":"windows","version":10}
{"os":"ubuntu","version":12}
{"os":"windows","version":12}`},
		{"include expands and adds", []string{"fruit", "animal"}, `{"fruit":["apple","pear"],"animal":["cat","dog"],
			"include":[{"color":"green"},{"color":"pink","animal":"cat"},{"fruit":"apple","shape":"circle"},{"fruit":"banana"},{"fruit":"banana","animal":"cat"}]}`,
			`{"animal":"cat","color":"pink","fruit":"apple","shape":"circle"}
{"animal":"dog","color":"green","fruit":"apple","shape":"circle"}
{"animal":"cat","color":"pink","fruit":"pear"}
{"animal":"dog","color":"green","fruit":"pear"}
{"fruit":"banana"}
{"animal":"cat","fruit":"banana"}`},
		{"exclude partial", []string{"os", "version", "environment"}, `{"os":["macos-latest","windows-latest"],"version":[12,14,16],"environment":["staging","production"],
			"exclude":[{"os":"macos-latest","version":12,"environment":"production"},{"os":"windows-latest","version":16}]}`, ""},
		{"include extends one combination", []string{"os", "node"}, `{"os":["windows-latest","ubuntu-latest"],"node":[14,16],"include":[{"os":"windows-latest","node":16,"npm":6}]}`,
			`{"node":14,"os":"windows-latest"}
{"node":16,"npm":6,"os":"windows-latest"}
{"node":14,"os":"ubuntu-latest"}
{"node":16,"os":"ubuntu-latest"}`},
		{"include adds a new combination", []string{"os", "version"}, `{"os":["ubuntu"],"version":[10],"include":[{"os":"windows","version":17},{"extra":"x"}]}`,
			`{"extra":"x","os":"ubuntu","version":10}
{"os":"windows","version":17}`},
		{"exclude then include re-adds as new cell", []string{"os", "node"}, `{"os":["a","b"],"node":[1,2],"exclude":[{"os":"a","node":2}],"include":[{"os":"a","node":2,"x":true}]}`,
			`{"node":1,"os":"a"}
{"node":1,"os":"b"}
{"node":2,"os":"b"}
{"node":2,"os":"a","x":true}`},
		{"object values match deeply", []string{"cfg"}, `{"cfg":[{"cc":"gcc"},{"cc":"clang"}],"exclude":[{"cfg":{"cc":"gcc"}}],"include":[{"cfg":{"cc":"clang"},"flags":"-O2"}]}`,
			`{"cfg":{"cc":"clang"},"flags":"-O2"}`},
		{"dimension order from keys", []string{"b", "include", "a"}, `{"a":[1,2],"b":["x","y"]}`,
			`{"a":1,"b":"x"}
{"a":2,"b":"x"}
{"a":1,"b":"y"}
{"a":2,"b":"y"}`},
		{"include only", nil, `{"include":[{"site":"production","datacenter":"site-a"},{"site":"staging","datacenter":"site-b"}]}`,
			`{"datacenter":"site-a","site":"production"}
{"datacenter":"site-b","site":"staging"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells := expand(t, tt.keys, tt.src)
			if tt.name == "exclude partial" {
				if len(cells) != 9 {
					t.Errorf("want 12 - 1 - 2 = 9 cells, got %d:\n%s", len(cells), render(cells))
				}
				return
			}
			if got := render(cells); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, src := range []string{
		`{}`,
		`{"os":["a"],"exclude":[{"oss":"a"}]}`,
		`{"os":["a"],"exclude":"x"}`,
		`{"os":["a"],"include":["x"]}`,
		`{"os":null}`,
		`{"os":"linux"}`,
		`{"os":[]}`,
		`{"os":["a"],"exclude":[{"os":"a"}]}`,
		`{"a":[1,2,3,4,5,6,7],"b":[1,2,3,4,5,6,7],"c":[1,2,3,4,5,6]}`,
		`{"include":"x"}`,
	} {
		var m map[string]any
		_ = json.Unmarshal([]byte(src), &m)
		if _, err := Expand(nil, m); err == nil {
			t.Errorf("Expand(%s) should fail", src)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct{ src, want string }{
		{`{"os":"linux"}`, `matrix value "os" must be a list`},
		{`{"os":["a"],"exclude":[{"os":"a"}]}`, "exclude removed every combination"},
		{`{"a":[1,2,3,4,5,6,7],"b":[1,2,3,4,5,6,7],"c":[1,2,3,4,5,6]}`, "generates 294 jobs, but GitHub allows at most 256"},
		{`{"os":["a"],"exclude":[{"oss":"a"}]}`, `exclude key "oss" does not match any key`},
	}
	for _, tt := range tests {
		var m map[string]any
		if err := json.Unmarshal([]byte(tt.src), &m); err != nil {
			t.Fatal(err)
		}
		_, err := Expand(nil, m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Expand(%s) = %v, want error containing %q", tt.src, err, tt.want)
		}
	}
}

// A product above the limit is fine when exclude brings it under.
func TestExcludeBringsUnderLimit(t *testing.T) {
	var a, b []any
	for i := 0; i < 20; i++ {
		a = append(a, float64(i))
		b = append(b, float64(i))
	}
	var ex []any
	for i := 0; i < 10; i++ {
		ex = append(ex, map[string]any{"a": float64(i)})
	}
	cells, err := Expand([]string{"a", "b"}, map[string]any{"a": a, "b": b, "exclude": ex})
	if err != nil || len(cells) != 200 {
		t.Fatalf("got %d cells, %v; want 200", len(cells), err)
	}
	huge := map[string]any{}
	for _, k := range []string{"a", "b", "c", "d"} {
		huge[k] = append(append([]any{}, a...), b...)
	}
	if _, err := Expand(nil, huge); err == nil {
		t.Fatal("a 160000-combination matrix should be refused before it is built")
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		keys []string
		cell map[string]any
		want string
	}{
		{[]string{"os", "node"}, map[string]any{"os": "ubuntu-latest", "node": float64(18)}, "build (ubuntu-latest, 18)"},
		{[]string{"node", "os"}, map[string]any{"os": "ubuntu-latest", "node": float64(18)}, "build (18, ubuntu-latest)"},
		{[]string{"os"}, map[string]any{"os": "linux", "npm": float64(6), "experimental": true}, "build (linux, true, 6)"},
		{[]string{"py"}, map[string]any{"py": 3.1}, "build (3.1)"},
		{[]string{"cfg"}, map[string]any{"cfg": map[string]any{"os": "linux", "cc": "gcc"}}, "build (gcc, linux)"},
		{[]string{"a", "b"}, map[string]any{"a": "", "b": nil}, "build"},
		{nil, nil, "build"},
	}
	for _, tt := range tests {
		if got := Name("build", tt.keys, tt.cell); got != tt.want {
			t.Errorf("Name(%v, %v) = %q, want %q", tt.keys, tt.cell, got, tt.want)
		}
	}
	if got := ID([]string{"os"}, map[string]any{"os": "a", "v": []any{"x", float64(2)}}); got != "a, x, 2" {
		t.Errorf("ID = %q", got)
	}
}

func FuzzExpand(f *testing.F) {
	f.Add(`{"os":["a","b"],"v":[1,2],"include":[{"os":"a","x":1},{"y":2}],"exclude":[{"v":2}]}`)
	f.Add(`{"include":[{"a":1}]}`)
	f.Fuzz(func(t *testing.T, src string) {
		var m map[string]any
		if json.Unmarshal([]byte(src), &m) != nil {
			return
		}
		cells, err := Expand(nil, m)
		if err == nil && (len(cells) == 0 || len(cells) > MaxCells) {
			t.Fatalf("Expand(%s) gave %d cells without an error", src, len(cells))
		}
	})
}

func BenchmarkExpand256(b *testing.B) {
	m := map[string]any{}
	keys := []string{"a", "b", "c", "d"}
	for _, k := range keys {
		var vals []any
		for i := 0; i < 4; i++ {
			vals = append(vals, fmt.Sprintf("%s%d", k, i))
		}
		m[k] = vals
	}
	m["exclude"] = []any{map[string]any{"a": "a0", "b": "b0", "c": "c0", "d": "d0"}}
	m["include"] = []any{map[string]any{"a": "a1", "extra": true}, map[string]any{"a": "a0", "b": "b0", "c": "c0", "d": "d0"}}
	for i := 0; i < b.N; i++ {
		cells, err := Expand(keys, m)
		if err != nil || len(cells) != 256 {
			b.Fatalf("%d cells, %v", len(cells), err)
		}
	}
}
