// Package suggest finds the known word nearest to a misspelt one, for
// "did you mean" hints in error messages.
package suggest

import "strings"

// Closest returns the entry of known nearest to s (case-insensitively) within
// an edit distance of 2, or "" when none is that close.
func Closest(s string, known []string) string {
	best, bestD := "", 3
	ls := strings.ToLower(s)
	for _, k := range known {
		if d := Distance(ls, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// Hint is `; did you mean "x"?` for the closest entry, or "".
func Hint(s string, known []string) string {
	if c := Closest(s, known); c != "" {
		return `; did you mean "` + c + `"?`
	}
	return ""
}

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
