package workflow

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// wantError parses src and wants exactly one error at line:col holding msg.
func wantError(t *testing.T, src, pos, msg string) {
	t.Helper()
	_, err := Parse("w.yml", []byte(src))
	if err == nil {
		t.Fatalf("accepted:\n%s", src)
	}
	if !strings.Contains(err.Error(), "w.yml:"+pos+": ") || !strings.Contains(err.Error(), msg) {
		t.Errorf("want w.yml:%s: ...%s..., got:\n%v", pos, msg, err)
	}
}

// Issue 14.1: references that would leave the action cache are refused at
// parse time, at the uses: value.
func TestUsesTraversalRefusedAtParse(t *testing.T) {
	for _, tc := range []struct{ uses, msg string }{
		{"owner/repo@../../../evil", `".." segment`},
		{"owner/repo@v1/../../x", `".." segment`},
		{"owner/repo@/etc", "absolute path"},
		{"owner/repo@-upload-pack=x", "starts with '-'"},
		{"owner/repo@a..b", `contains ".."`},
		{"owner/../../x@v1", `".." segment`},
		{"owner/repo/../../x@v1", `".." segment`},
		{"owner//repo@v1", "empty path segment"},
		{`owner/repo\..\x@v1`, "backslash"},
		{"./a/../../outside", "leaves the repository"},
		{"\"owner/repo@v1\\0\"", "NUL"},
	} {
		t.Run(tc.uses, func(t *testing.T) {
			wantError(t, "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: "+tc.uses+"\n", "6:15", tc.msg)
		})
	}
	wantError(t, "on: push\njobs:\n  call:\n    uses: o/r/.github/workflows/w.yml@../../x\n", "4:11", `".." segment`)
	for _, ok := range []string{"actions/checkout@v4", "o/r/sub/dir@releases/v1", "o/r@0123456789abcdef0123456789abcdef01234567", "./.github/actions/x", "docker://alpine:3"} {
		if _, err := Parse("w.yml", []byte("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: "+ok+"\n")); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

// Issue 14.6: env names no process can hold are refused at the key.
func TestEnvNamesWithNULOrEqualsRefused(t *testing.T) {
	wantError(t, "on: push\nenv:\n  \"A=B\": x\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n", "3:3", "contains '='")
	wantError(t, "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n        env:\n          \"NUL\\0KEY\": v\n", "8:11", "NUL byte")
	wantError(t, "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    env: {OK: \"a\\0b\"}\n    steps:\n      - run: echo\n", "5:15", "value of environment variable \"OK\" contains a NUL")
	wantError(t, "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    container:\n      image: x\n      env: {\"X=1\": v}\n    steps:\n      - run: echo\n", "7:13", "contains '='")
	wantError(t, "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: o/r@v1\n        with: {\"in=put\": v}\n", "7:16", "contains '='")
}

// Issue 14.10: invalid UTF-8 is reported where it is.
func TestInvalidUTF8AtItsPosition(t *testing.T) {
	src := "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo caf\xe9\n"
	wantError(t, src, "6:22", "invalid UTF-8 (byte 0xe9)")
	wantError(t, "on: push\n# ünïcode comment\nname: \xff\n", "3:7", "invalid UTF-8")
}

// aliasBomb is a matrix of n nested keys, each a 9-way alias of the
// previous: 9^n values once expanded.
func aliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n")
	b.WriteString("        k0: &k0 [1, 2, 3, 4, 5, 6, 7, 8, 9]\n")
	for i := 1; i < n; i++ {
		p := fmt.Sprintf("*k%d", i-1)
		fmt.Fprintf(&b, "        k%d: &k%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(p+", ", 9), ", "))
	}
	b.WriteString("    steps:\n      - run: echo\n")
	return b.String()
}

// Issue 14.9: an alias bomb is refused before anything expands it, in
// bounded memory (the run and validate both parse through here).
func TestMatrixAliasBombRefusedCheaply(t *testing.T) {
	src := aliasBomb(8)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Parse("w.yml", []byte(src))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "YAML aliases expand the document to more than") {
		t.Fatalf("want the alias error, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "w.yml:") {
		t.Errorf("no position: %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 50<<20 {
		t.Errorf("parsing the bomb allocated %d MiB; the bound is there to keep it small", alloc>>20)
	}
	// A small alias use stays fine.
	if _, err := Parse("w.yml", []byte(aliasBomb(3))); err != nil {
		t.Errorf("a 729-value alias use refused: %v", err)
	}
	// An alias cycle cannot be built through the YAML decoder, but a
	// self-referencing merge must not hang either.
	if _, err := Parse("w.yml", []byte("on: push\nx: &a [*a]\njobs: {}\n")); err == nil {
		t.Errorf("self-reference accepted")
	}
}

func BenchmarkAliasBomb(b *testing.B) {
	src := []byte(aliasBomb(8))
	for i := 0; i < b.N; i++ {
		_, _ = Parse("w.yml", src)
	}
}
