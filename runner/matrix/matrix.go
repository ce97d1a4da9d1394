// Package matrix expands strategy.matrix into job cells with GitHub's rules
// ("Running variations of jobs in a workflow"): the cartesian product of the
// dimensions in the order written, then exclude, then include.
package matrix

import (
	"fmt"
	"reflect"
	"sort"
)

// MaxCells is GitHub's limit of jobs one matrix may generate.
const MaxCells = 256

// maxProduct bounds the product before exclude runs: exclusions may bring a
// big product under MaxCells, but memory must stay bounded on any input.
const maxProduct = 1 << 16

// Expand returns the cells of a matrix, in GitHub's order: the first
// dimension varies slowest, then cells added by include in include order.
// keys gives the order of the dimensions as written in the file (callers
// decode YAML into a map and lose it); dimensions missing from keys follow in
// sorted order, and "include"/"exclude" in keys are ignored.
func Expand(keys []string, m map[string]any) ([]map[string]any, error) {
	dims := Dimensions(keys, m)
	cells, err := product(dims, m)
	if err != nil {
		return nil, err
	}
	if cells, err = exclude(cells, dims, m["exclude"]); err != nil {
		return nil, err
	}
	if cells, err = include(cells, dims, m["include"]); err != nil {
		return nil, err
	}
	if len(cells) == 0 {
		if len(dims) == 0 {
			return nil, fmt.Errorf("the matrix has no values; add a key with a list of values, e.g. `os: [ubuntu-latest]`, or an include list")
		}
		return nil, fmt.Errorf("the matrix is empty: exclude removed every combination; remove an exclude entry or add values")
	}
	if len(cells) > MaxCells {
		return nil, fmt.Errorf("the matrix generates %d jobs, but GitHub allows at most %d per matrix; remove values or exclude combinations", len(cells), MaxCells)
	}
	return cells, nil
}

// Dimensions returns the matrix's dimension keys (every key but include and
// exclude) in the order of keys, then the rest sorted.
func Dimensions(keys []string, m map[string]any) []string {
	seen := map[string]bool{"include": true, "exclude": true}
	var out []string
	for _, k := range keys {
		if _, ok := m[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func product(dims []string, m map[string]any) ([]map[string]any, error) {
	if len(dims) == 0 {
		return nil, nil
	}
	total := 1
	for _, k := range dims {
		vals, ok := m[k].([]any)
		if !ok {
			return nil, fmt.Errorf("matrix value %q must be a list such as `%s: [a, b]`, not %s", k, k, describe(m[k]))
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("matrix value %q is an empty list; give it at least one value or remove it", k)
		}
		total *= len(vals)
		if total > maxProduct {
			return nil, fmt.Errorf("the matrix has more than %d combinations, but GitHub allows at most %d jobs per matrix; remove values", maxProduct, MaxCells)
		}
	}
	cells := make([]map[string]any, 0, total)
	idx := make([]int, len(dims))
	for {
		c := make(map[string]any, len(dims)+2)
		for d, k := range dims {
			c[k] = m[k].([]any)[idx[d]]
		}
		cells = append(cells, c)
		// Odometer: the last dimension varies fastest.
		d := len(dims) - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < len(m[dims[d]].([]any)) {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return cells, nil
		}
	}
}

// exclude removes every cell that matches all keys of some exclude entry.
func exclude(cells []map[string]any, dims []string, ex any) ([]map[string]any, error) {
	if ex == nil {
		return cells, nil
	}
	list, ok := ex.([]any)
	if !ok {
		return nil, fmt.Errorf("matrix exclude must be a list of mappings, not %s", describe(ex))
	}
	isDim := set(dims)
	rules := make([]map[string]any, 0, len(list))
	for i, e := range list {
		rule, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("matrix exclude entry %d must be a mapping of matrix keys to values, not %s", i+1, describe(e))
		}
		for _, k := range sortedKeys(rule) {
			if !isDim[k] {
				return nil, fmt.Errorf("matrix exclude key %q does not match any key within the matrix (keys: %v); fix the key's spelling", k, dims)
			}
		}
		rules = append(rules, rule)
	}
	kept := cells[:0]
	for _, c := range cells {
		drop := false
		for _, rule := range rules {
			if matches(c, rule) {
				drop = true
				break
			}
		}
		if !drop {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// include applies GitHub's include rules: an entry is merged into every
// original cell where it overwrites no original matrix value (values added by
// an earlier include may be overwritten); an entry merged nowhere becomes a
// cell of its own. Cells added that way are not targets of later entries.
func include(cells []map[string]any, dims []string, in any) ([]map[string]any, error) {
	if in == nil {
		return cells, nil
	}
	list, ok := in.([]any)
	if !ok {
		return nil, fmt.Errorf("matrix include must be a list of mappings, not %s", describe(in))
	}
	isDim := set(dims)
	original := len(cells)
	for i, e := range list {
		rule, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("matrix include entry %d must be a mapping, not %s", i+1, describe(e))
		}
		added := false
		for _, c := range cells[:original] {
			if !compatible(c, rule, isDim) {
				continue
			}
			for k, v := range rule {
				c[k] = v
			}
			added = true
		}
		if !added {
			n := make(map[string]any, len(rule))
			for k, v := range rule {
				n[k] = v
			}
			cells = append(cells, n)
		}
	}
	return cells, nil
}

// matches: every key of the rule has an equal value in the cell.
func matches(cell, rule map[string]any) bool {
	for k, v := range rule {
		cv, ok := cell[k]
		if !ok || !reflect.DeepEqual(cv, v) {
			return false
		}
	}
	return true
}

// compatible: merging rule into the cell overwrites none of its original
// (dimension) values.
func compatible(cell, rule map[string]any, isDim map[string]bool) bool {
	for k, v := range rule {
		if isDim[k] && !reflect.DeepEqual(cell[k], v) {
			return false
		}
	}
	return true
}

func set(keys []string) map[string]bool {
	s := make(map[string]bool, len(keys))
	for _, k := range keys {
		s[k] = true
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("the string %q", v)
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}
