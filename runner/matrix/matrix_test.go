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
