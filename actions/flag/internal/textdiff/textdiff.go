// Package textdiff renders line-based unified diffs, for dry-run output and
// job summaries of flag changes.
package textdiff

import (
	"fmt"
	"strings"
)

// contextLines is the number of unchanged lines shown around each change.
const contextLines = 3

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

type op struct {
	kind opKind
	a, b int // line index in a (equal, delete) and b (equal, insert)
}

// Unified returns a unified diff from a to b with 3 lines of context, or ""
// when they are equal. A missing final newline is marked the way diff(1)
// does, so such a change is never invisible.
func Unified(aName, bName string, a, b []byte) string {
	if string(a) == string(b) {
		return ""
	}
	al, bl := splitLines(string(a)), splitLines(string(b))
	ops := diffLines(al, bl)

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks(ops) {
		writeHunk(&out, ops[h[0]:h[1]], al, bl)
	}
	return out.String()
}

// splitLines splits s into lines that keep their "\n", so a last line
// without one differs from the same line with one.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines returns the edit script from a to b: Myers' greedy O(ND)
// algorithm on the part between the common prefix and suffix.
func diffLines(a, b []string) []op {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}

	ops := make([]op, 0, len(a)+len(b))
	for i := 0; i < pre; i++ {
		ops = append(ops, op{opEqual, i, i})
	}
	ops = append(ops, myers(a[pre:len(a)-suf], b[pre:len(b)-suf], pre)...)
	for i := 0; i < suf; i++ {
		ops = append(ops, op{opEqual, len(a) - suf + i, len(b) - suf + i})
	}
	return ops
}

// myers computes the shortest edit script of a and b; off is added to the
// line indexes it reports.
func myers(a, b []string, off int) []op {
	n, m := len(a), len(b)
	vo := n + m
	if vo == 0 {
		return nil
	}
	// v[k+vo] is the furthest x on diagonal k; trace keeps a copy per d to
	// walk the path back.
	v := make([]int, 2*vo+2)
	var trace [][]int
	found := false
	for d := 0; d <= vo && !found; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[k-1+vo] < v[k+1+vo]) {
				x = v[k+1+vo] // down: insertion
			} else {
				x = v[k-1+vo] + 1 // right: deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[k+vo] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}

	// Walk back from (n, m); trace[d] is v as it was before step d.
	var rev []op
	x, y := n, m
	for d := len(trace) - 1; d > 0; d-- {
		vd := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && vd[k-1+vo] < vd[k+1+vo]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := vd[prevK+vo]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			rev = append(rev, op{opEqual, x + off, y + off})
		}
		if x == prevX {
			y--
			rev = append(rev, op{opInsert, x + off, y + off})
		} else {
			x--
			rev = append(rev, op{opDelete, x + off, y + off})
		}
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, op{opEqual, x + off, y + off})
	}

	ops := make([]op, len(rev))
	for i := range rev {
		ops[i] = rev[len(rev)-1-i]
	}
	return ops
}

// hunks groups ops into [start, end) ranges: each change with up to contextLines
// equal lines around it, merging changes whose contexts touch.
func hunks(ops []op) [][2]int {
	var out [][2]int
	for i := 0; i < len(ops); {
		if ops[i].kind == opEqual {
			i++
			continue
		}
		start := max(i-contextLines, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != opEqual {
				end++
				continue
			}
			// Run of equal lines: it ends the hunk if longer than two contexts.
			run := end
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-end > 2*contextLines {
				end = min(end+contextLines, len(ops))
				break
			}
			end = run
		}
		out = append(out, [2]int{start, end})
		i = end
	}
	return out
}

func writeHunk(out *strings.Builder, ops []op, a, b []string) {
	aStart, bStart := -1, -1
	aCount, bCount := 0, 0
	for _, o := range ops {
		if o.kind != opInsert {
			if aStart < 0 {
				aStart = o.a
			}
			aCount++
		}
		if o.kind != opDelete {
			if bStart < 0 {
				bStart = o.b
			}
			bCount++
		}
	}
	// An empty side is numbered by the line before it, as diff(1) does.
	if aStart < 0 {
		aStart = ops[0].a - 1
	}
	if bStart < 0 {
		bStart = ops[0].b - 1
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", rangeOf(aStart, aCount), rangeOf(bStart, bCount))
	for _, o := range ops {
		line := ""
		switch o.kind {
		case opInsert:
			line = b[o.b]
		default:
			line = a[o.a]
		}
		out.WriteByte(byte(o.kind))
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func rangeOf(start, count int) string {
	if count == 1 {
		return fmt.Sprint(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}
