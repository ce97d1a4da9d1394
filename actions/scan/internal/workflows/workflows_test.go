package workflows

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// at lists "rule line:col severity" of every finding.
func at(t *testing.T, rel string, data []byte, p *Policy) []string {
	t.Helper()
	var out []string
	for _, f := range p.ScanFile(rel, data) {
		out = append(out, fmt.Sprintf("%s %d:%d %s", f.Rule.ID, f.Line, f.Col, f.Severity))
	}
	sort.Strings(out)
	return out
}

func has(got []string, want string) bool {
	for _, g := range got {
		if g == want {
			return true
		}
	}
	return false
}

// The bad corpus's workflow has an injection on the third line of a block
// script: the finding names that line and the column of the expression.
func TestInjectionInBlockScriptAtTheExpression(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "bad", ".github", "workflows", "risky.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got := at(t, "risky.yml", data, &Policy{})
	lines := strings.Split(string(data), "\n")
	want := "workflow/script-injection 17:28 high"
	if !has(got, want) {
		t.Fatalf("want %q in %v", want, got)
	}
	if !strings.HasPrefix(lines[16][27:], "github.event.issue.title") {
		t.Errorf("17:28 is not the expression: %q", lines[16])
	}
	if !has(got, "workflow/secret-echo 19:11 high") {
		t.Errorf("secret echo not at its script line: %v", got)
	}
}

func TestInjectionPositionsInEveryScalarStyle(t *testing.T) {
	wf := `name: ci
on: issues
permissions: {contents: read}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: literal, kept indentation and a blank line
        run: |-
          echo start

            echo "  ${{ github.event.issue.title }}"
      - name: folded
        run: >
          echo one
          ${{ github.event.issue.body }}
      - run: echo "${{ github.event.comment.body }}"
`
	got := at(t, "ci.yml", []byte(wf), &Policy{})
	lines := strings.Split(wf, "\n")
	for _, w := range []struct {
		line, col int
		expr      string
	}{{12, 25, "github.event.issue.title"}, {16, 15, "github.event.issue.body"}, {17, 24, "github.event.comment.body"}} {
		if !has(got, fmt.Sprintf("workflow/script-injection %d:%d high", w.line, w.col)) {
			t.Errorf("want an injection at %d:%d in %v", w.line, w.col, got)
			continue
		}
		if !strings.HasPrefix(lines[w.line-1][w.col-1:], w.expr) {
			t.Errorf("%d:%d is not %s: %q", w.line, w.col, w.expr, lines[w.line-1])
		}
	}
}

func TestPinningPolicy(t *testing.T) {
	wf := `name: ci
on: push
permissions: {contents: read}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache@v4
      - uses: github/codeql-action/upload-sarif@v3
      - uses: actions/setup-go@0aaccfd150d50ccaeb58ebd88d36e91967a5f35b
      - uses: someone/setup-thing@v2
      - uses: trusted-org/deploy@main
      - uses: docker://alpine:3.20
      - uses: docker://alpine@sha256:0000000000000000000000000000000000000000000000000000000000000000
      - uses: ./local
  reuse:
    uses: someone/workflows/.github/workflows/ci.yml@v1
  reuse-gh:
    uses: actions/reusable/.github/workflows/x.yml@v1
`
	got := at(t, "ci.yml", []byte(wf), &Policy{})
	want := []string{
		"workflow/unpinned-action 10:15 low",
		"workflow/unpinned-action 12:15 medium",
		"workflow/unpinned-action 13:15 medium",
		"workflow/unpinned-action 14:15 low",
		"workflow/unpinned-action 18:11 medium",
		"workflow/unpinned-action 20:11 low",
		"workflow/unpinned-action 8:15 low",
		"workflow/unpinned-action 9:15 low",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("default policy:\n got %v\nwant %v", got, want)
	}
	allowed := at(t, "ci.yml", []byte(wf), &Policy{AllowUnpinned: []string{"actions/*", "trusted-org/deploy", "docker://alpine", "someone/workflows"}})
	want = []string{
		"workflow/unpinned-action 10:15 low",
		"workflow/unpinned-action 12:15 medium",
	}
	if strings.Join(allowed, "\n") != strings.Join(want, "\n") {
		t.Errorf("with allow-unpinned:\n got %v\nwant %v", allowed, want)
	}
}
