package textdiff

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{name: "both empty", a: "", b: "", want: ""},
		{
			name: "one line changed",
			a:    "a\nb\nc\n", b: "a\nB\nc\n",
			want: "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n",
		},
		{
			name: "from empty",
			a:    "", b: "x\ny\n",
			want: "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n",
		},
		{
			name: "to empty",
			a:    "x\n", b: "",
			want: "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n",
		},
		{
			name: "context is cut to three lines",
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n9\n", b: "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			want: "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "far apart changes make two hunks",
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
			b:    "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n",
		},
		{
			name: "changes six lines apart share a hunk",
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n",
			b:    "one\n2\n3\n4\n5\n6\n7\neight\n",
			want: "--- a\n+++ b\n@@ -1,8 +1,8 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n",
		},
		{
			name: "pure insertion in the middle",
			a:    "a\nb\nc\nd\ne\nf\n", b: "a\nb\nc\nnew\nd\ne\nf\n",
			want: "--- a\n+++ b\n@@ -1,6 +1,7 @@\n a\n b\n c\n+new\n d\n e\n f\n",
		},
		{
			name: "missing final newline is shown",
			a:    "a\nb", b: "a\nb\n",
			want: "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		{
			name: "json value flip",
			a:    "{\n  \"enabled\": false,\n  \"key\": \"k\"\n}\n",
			b:    "{\n  \"enabled\": true,\n  \"key\": \"k\"\n}\n",
			want: "--- before\n+++ after\n@@ -1,4 +1,4 @@\n {\n-  \"enabled\": false,\n+  \"enabled\": true,\n   \"key\": \"k\"\n }\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			an, bn := "a", "b"
			if strings.Contains(tt.want, "before") {
				an, bn = "before", "after"
			}
			got := Unified(an, bn, []byte(tt.a), []byte(tt.b))
			if got != tt.want {
				t.Errorf("Unified() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnifiedRandom checks on random inputs that every diff applies back to
// b and changes no more lines than the longest common subsequence requires.
func TestUnifiedRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 500; i++ {
		a := randomText(rng)
		b := randomText(rng)
		d := Unified("a", "b", []byte(a), []byte(b))
		if a == b {
			if d != "" {
				t.Fatalf("equal inputs gave a diff:\n%s", d)
			}
			continue
		}
		got, err := apply(a, d)
		if err != nil {
			t.Fatalf("case %d: %v\na=%q\nb=%q\ndiff:\n%s", i, err, a, b, d)
		}
		if got != b {
			t.Fatalf("case %d: patch gives %q, want %q\ndiff:\n%s", i, got, b, d)
		}
		al, bl := splitLines(a), splitLines(b)
		wantEdits := len(al) + len(bl) - 2*lcs(al, bl)
		if edits := countEdits(d); edits != wantEdits {
			t.Fatalf("case %d: %d changed lines, minimum is %d\na=%q\nb=%q\ndiff:\n%s", i, edits, wantEdits, a, b, d)
		}
	}
}

// TestUnifiedMatchesDiffTool compares with GNU diff where the change is
// unambiguous (distinct lines), so both must produce the same hunks.
func TestUnifiedMatchesDiffTool(t *testing.T) {
	diffBin, err := exec.LookPath("diff")
	if err != nil {
		t.Skip("diff(1) not installed; the other tests cover the format")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 40; i++ {
		var al, bl []string
		for j := 0; j < 30; j++ {
			line := "line " + strconv.Itoa(j) + "\n"
			switch rng.Intn(8) {
			case 0: // deleted
				al = append(al, line)
			case 1: // inserted
				bl = append(bl, "new "+line)
			case 2: // replaced
				al = append(al, line)
				bl = append(bl, "changed "+line)
			default:
				al = append(al, line)
				bl = append(bl, line)
			}
		}
		a, b := strings.Join(al, ""), strings.Join(bl, "")
		pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if err := os.WriteFile(pa, []byte(a), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pb, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(diffBin, "-u", "--label", "a", "--label", "b", pa, pb).Output()
		// Replacements are ambiguous only in the order of - and + lines
		// within a block; GNU diff prints deletions first, as we do.
		if got := Unified("a", "b", []byte(a), []byte(b)); got != string(out) {
			t.Fatalf("case %d differs from diff -u:\ngot\n%s\nwant\n%s", i, got, out)
		}
	}
}

func randomText(rng *rand.Rand) string {
	n := rng.Intn(15)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "%c\n", 'a'+rng.Intn(4))
	}
	s := sb.String()
	if s != "" && rng.Intn(5) == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// apply applies a unified diff produced by Unified to a.
func apply(a, diff string) (string, error) {
	lines := strings.SplitAfter(diff, "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		return "", fmt.Errorf("missing headers")
	}
	src := splitLines(a)
	var out []string
	pos := 0
	var last *string // last emitted or consumed line, for "\ No newline"
	for i := 2; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		switch l[0] {
		case '@':
			var as, ac, bs, bc int
			if _, err := parseHunk(l, &as, &ac, &bs, &bc); err != nil {
				return "", err
			}
			start := as - 1
			if ac == 0 {
				start = as
			}
			if start < pos {
				return "", fmt.Errorf("hunk %q goes backwards", l)
			}
			out = append(out, src[pos:start]...)
			pos = start
			last = nil
		case ' ', '-':
			if pos >= len(src) || src[pos] != l[1:] && src[pos] != strings.TrimSuffix(l[1:], "\n") {
				return "", fmt.Errorf("line %q does not match source line %d", l, pos+1)
			}
			if l[0] == ' ' {
				out = append(out, l[1:])
				last = &out[len(out)-1]
			} else {
				last = nil
			}
			pos++
		case '+':
			out = append(out, l[1:])
			last = &out[len(out)-1]
		case '\\':
			if last != nil {
				*last = strings.TrimSuffix(*last, "\n")
			}
		default:
			return "", fmt.Errorf("bad line %q", l)
		}
	}
	out = append(out, src[pos:]...)
	return strings.Join(out, ""), nil
}

func parseHunk(l string, as, ac, bs, bc *int) (int, error) {
	var aPart, bPart string
	if _, err := fmt.Sscanf(l, "@@ -%s +%s @@", &aPart, &bPart); err != nil {
		return 0, fmt.Errorf("bad hunk header %q: %v", l, err)
	}
	parse := func(p string, s, c *int) error {
		start, count, ok := strings.Cut(p, ",")
		*c = 1
		var err error
		if *s, err = strconv.Atoi(start); err != nil {
			return err
		}
		if ok {
			if *c, err = strconv.Atoi(count); err != nil {
				return err
			}
		}
		return nil
	}
	if err := parse(aPart, as, ac); err != nil {
		return 0, err
	}
	return 0, parse(bPart, bs, bc)
}

func countEdits(diff string) int {
	n := 0
	for i, l := range strings.Split(diff, "\n") {
		if i >= 2 && l != "" && (l[0] == '+' || l[0] == '-') {
			n++
		}
	}
	return n
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
