// Package matrix expands strategy.matrix into job cells with GitHub's rules
// for include and exclude.
package matrix

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// MaxCells is GitHub's limit of jobs one matrix may generate.
const MaxCells = 256

// Expand returns the cells of a matrix. keys gives the order of the
// dimensions as written; keys missing from it follow in sorted order.
func Expand(keys []string, m map[string]any) ([]map[string]any, error) {
	order := dimensionOrder(keys, m)
	cells := []map[string]any{{}}
	for _, k := range order {
		vals, ok := m[k].([]any)
		if !ok {
			return nil, fmt.Errorf("matrix value %q must be a list, not %s", k, describe(m[k]))
		}
		if len(vals) == 0 {
			return nil, fmt.Errorf("matrix value %q is an empty list", k)
		}
		if len(cells)*len(vals) > MaxCells*4 {
			return nil, fmt.Errorf("the matrix has more than %d cells; GitHub allows %d jobs per matrix", MaxCells, MaxCells)
		}
		next := make([]map[string]any, 0, len(cells)*len(vals))
		for _, c := range cells {
			for _, v := range vals {
				n := make(map[string]any, len(c)+1)
				for ck, cv := range c {
					n[ck] = cv
				}
				n[k] = v
				next = append(next, n)
			}
		}
		cells = next
	}
	if len(order) == 0 {
		cells = nil
	}

	if ex, ok := m["exclude"]; ok && ex != nil {
		list, ok := ex.([]any)
		if !ok {
			return nil, fmt.Errorf("matrix exclude must be a list of mappings, not %s", describe(ex))
		}
		for _, e := range list {
			rule, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("matrix exclude entries must be mappings, not %s", describe(e))
			}
			kept := cells[:0]
			for _, c := range cells {
				if !matches(c, rule) {
					kept = append(kept, c)
				}
			}
			cells = kept
		}
	}

	if in, ok := m["include"]; ok && in != nil {
		list, ok := in.([]any)
		if !ok {
			return nil, fmt.Errorf("matrix include must be a list of mappings, not %s", describe(in))
		}
		original := len(cells)
		base := map[string]bool{}
		for _, k := range order {
			base[k] = true
		}
		for _, e := range list {
			rule, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("matrix include entries must be mappings, not %s", describe(e))
			}
			added := false
			for i := 0; i < original; i++ {
				c := cells[i]
				if !compatible(c, rule, base) {
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
	}
	if len(cells) == 0 {
		return nil, fmt.Errorf("the matrix is empty: every combination was excluded")
	}
	if len(cells) > MaxCells {
		return nil, fmt.Errorf("the matrix generates %d jobs; GitHub allows at most %d", len(cells), MaxCells)
	}
	return cells, nil
}

func dimensionOrder(keys []string, m map[string]any) []string {
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

// matches: every key of the rule has an equal value in the cell.
func matches(cell, rule map[string]any) bool {
	for k, v := range rule {
		cv, ok := cell[k]
		if !ok || !equal(cv, v) {
			return false
		}
	}
	return true
}

// compatible: adding rule to the cell overwrites none of its original values.
func compatible(cell, rule map[string]any, base map[string]bool) bool {
	for k, v := range rule {
		if !base[k] {
			continue
		}
		if cv, ok := cell[k]; ok && !equal(cv, v) {
			return false
		}
	}
	return true
}

func equal(a, b any) bool {
	if sa, ok := a.(string); ok {
		if sb, ok := b.(string); ok {
			return sa == sb
		}
	}
	return reflect.DeepEqual(a, b)
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
		return "a string"
	}
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
