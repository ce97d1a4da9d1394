// Package shard splits packages between CI machines deterministically, by
// historical duration when known and by the size of their test files if not.
package shard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Parse reads "i/n" (1-based).
func Parse(s string) (index, total int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("shard %q: use INDEX/TOTAL with 1 <= INDEX <= TOTAL, e.g. 2/4", s)
	}
	return i, n, nil
}

// Item is a package (or test) with its weight.
type Item struct {
	Name   string
	Weight float64
}

// Split assigns items to total shards, heaviest first onto the lightest
// shard (ties by name), and returns the items of shard index (1-based).
func Split(items []Item, index, total int) []string {
	sorted := append([]Item(nil), items...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Weight != sorted[j].Weight {
			return sorted[i].Weight > sorted[j].Weight
		}
		return sorted[i].Name < sorted[j].Name
	})
	loads := make([]float64, total)
	var mine []string
	for _, it := range sorted {
		best := 0
		for s := 1; s < total; s++ {
			if loads[s] < loads[best] {
				best = s
			}
		}
		loads[best] += it.Weight
		if best == index-1 {
			mine = append(mine, it.Name)
		}
	}
	sort.Strings(mine)
	return mine
}

// History reads a JSON object of package -> seconds from an earlier run.
func History(path string) (map[string]float64, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read shard history: %w", err)
	}
	var h map[string]float64
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("shard history %s: %w", path, err)
	}
	return h, nil
}

// FileWeight is the size of a package directory's _test.go files (at least 1).
func FileWeight(dir string) float64 {
	matches, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	var total int64 = 1
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			total += fi.Size()
		}
	}
	return float64(total)
}
