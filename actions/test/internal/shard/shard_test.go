package shard

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestSplitIsAPartitionAndBalanced(t *testing.T) {
	var items []Item
	for i := 0; i < 20; i++ {
		items = append(items, Item{Name: fmt.Sprintf("pkg%02d", i), Weight: float64(i%7 + 1)})
	}
	seen := map[string]int{}
	var loads []float64
	for s := 1; s <= 4; s++ {
		load := 0.0
		for _, n := range Split(items, s, 4) {
			seen[n]++
			for _, it := range items {
				if it.Name == n {
					load += it.Weight
				}
			}
		}
		loads = append(loads, load)
		// Deterministic, whatever order the items come in.
		reversed := make([]Item, len(items))
		for i, it := range items {
			reversed[len(items)-1-i] = it
		}
		if a, b := fmt.Sprint(Split(items, s, 4)), fmt.Sprint(Split(reversed, s, 4)); a != b {
			t.Errorf("not deterministic: %s vs %s", a, b)
		}
	}
	for _, it := range items {
		if seen[it.Name] != 1 {
			t.Errorf("%s in %d shards", it.Name, seen[it.Name])
		}
	}
	sort.Float64s(loads)
	if loads[3]-loads[0] > 7 {
		t.Errorf("unbalanced loads %v", loads)
	}
}

func TestParse(t *testing.T) {
	if i, n, err := Parse("2/4"); err != nil || i != 2 || n != 4 {
		t.Errorf("2/4: %d %d %v", i, n, err)
	}
	for _, bad := range []string{"0/4", "5/4", "x/2", "3", "1/0"} {
		if _, _, err := Parse(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"2/4", " 1/1 ", "0/4", "-1/2", "3/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := Parse(s)
		if err != nil {
			return
		}
		if i < 1 || n < 1 || i > n {
			t.Fatalf("Parse(%q) = %d/%d", s, i, n)
		}
	})
}

func TestHistoryAndFileWeight(t *testing.T) {
	dir := t.TempDir()
	h := filepath.Join(dir, "history.json")
	if err := os.WriteFile(h, []byte(`{"example.com/a": 12.5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := History(h)
	if err != nil || got["example.com/a"] != 12.5 {
		t.Errorf("history %v %v", got, err)
	}
	if got, err := History(filepath.Join(dir, "none.json")); err != nil || got != nil {
		t.Errorf("a missing history must mean no history: %v %v", got, err)
	}
	if err := os.WriteFile(h, []byte(`[1,2]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := History(h); err == nil || !strings.Contains(err.Error(), h) {
		t.Errorf("bad history accepted: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a_test.go"), make([]byte, 99), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := FileWeight(dir); w != 100 {
		t.Errorf("weight %v, want 99 bytes + 1", w)
	}
}
