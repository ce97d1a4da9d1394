package gotest

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const stream = `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:12: boom\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"        second line\n"}
{"Action":"fail","Package":"p","Test":"TestA","Elapsed":0.5}
{"Action":"run","Package":"p","Test":"TestA/sub"}
{"Action":"fail","Package":"p","Test":"TestA/sub","Elapsed":0.1}
{"Action":"pass","Package":"p","Test":"TestB","Elapsed":0.01}
{"Action":"skip","Package":"p","Test":"TestC","Elapsed":0}
{"Action":"output","Package":"p","Output":"coverage: 42.5% of statements\n"}
{"Action":"fail","Package":"p","Elapsed":1.2}
not json: build noise
{"Action":"output","Package":"broken","Output":"# broken\nx.go:1:1: syntax error\n"}
{"Action":"fail","Package":"broken","Elapsed":0}
`

func TestParseAndQueries(t *testing.T) {
	rep, err := Parse(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Count()
	if c.Passed != 1 || c.Failed != 2 || c.Skipped != 1 {
		t.Errorf("counts %+v", c)
	}
	if rep.Packages[0].Coverage != 42.5 {
		t.Errorf("coverage %v", rep.Packages[0].Coverage)
	}
	file, line, msg := rep.Tests[0].Failure()
	if file != "a_test.go" || line != 12 || msg != "boom\nsecond line" {
		t.Errorf("failure %q %d %q", file, line, msg)
	}
	if got := rep.FailedTopLevel()["p"]; len(got) != 1 || got[0] != "TestA" {
		t.Errorf("top-level failures %v", got)
	}
	if fp := rep.FailedPackages(); len(fp) != 1 || fp[0].Name != "broken" {
		t.Errorf("failed packages %v", fp)
	}
	retry, _ := Parse(strings.NewReader(`{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA/sub"}
`))
	rep.Merge(retry)
	if c := rep.Count(); c.Failed != 0 || c.Flaky != 2 {
		t.Errorf("after retry %+v", c)
	}
	// p failed only through its tests, so it passes now; broken never built.
	if rep.Packages[0].Status != "pass" || rep.Packages[1].Status != "fail" {
		t.Errorf("package statuses %s %s", rep.Packages[0].Status, rep.Packages[1].Status)
	}
	if fp := rep.FailedPackages(); len(fp) != 1 || fp[0].Name != "broken" {
		t.Errorf("failed packages after retry %v", fp)
	}
}

// A build failure as Go 1.24+ reports it: compiler output keyed by ImportPath.
const buildFailure = `{"ImportPath":"brk/p [brk/p.test]","Action":"build-output","Output":"# brk/p [brk/p.test]\n"}
{"ImportPath":"brk/p [brk/p.test]","Action":"build-output","Output":"p/p.go:3:23: cannot use \"x\" (untyped string constant) as int value in return statement\n"}
{"ImportPath":"brk/p [brk/p.test]","Action":"build-fail"}
{"Action":"start","Package":"brk/p"}
{"Action":"output","Package":"brk/p","Output":"FAIL\tbrk/p [build failed]\n"}
{"Action":"fail","Package":"brk/p","Elapsed":0,"FailedBuild":"brk/p [brk/p.test]"}
{"Action":"start","Package":"brk/ok"}
{"Action":"output","Package":"brk/ok","Output":"ok  \tbrk/ok\t0.01s\n"}
{"Action":"pass","Package":"brk/ok","Elapsed":0.01}
`

func TestBuildFailureHasCompilerPositions(t *testing.T) {
	rep, err := Parse(strings.NewReader(buildFailure))
	if err != nil {
		t.Fatal(err)
	}
	fp := rep.FailedPackages()
	if len(fp) != 1 || fp[0].Name != "brk/p" || !fp[0].BuildFailed {
		t.Fatalf("failed packages %+v", fp)
	}
	probs := fp[0].Problems()
	want := Problem{File: "p/p.go", Line: 3, Col: 23, Msg: `cannot use "x" (untyped string constant) as int value in return statement`}
	if len(probs) != 1 || probs[0] != want {
		t.Errorf("problems %+v, want %+v", probs, want)
	}
	if rep.Packages[1].BuildFailed || len(rep.Packages[1].Problems()) != 0 {
		t.Errorf("passing package %+v", rep.Packages[1])
	}
}

func TestProblemLines(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []Problem
	}{
		{"./a/b.go:10:2: undefined: x", []Problem{{"a/b.go", 10, 2, "undefined: x"}}},
		{"vet: x_test.go:7: fmt.Printf call has arguments", nil}, // prefixed: not a position
		{"x_test.go:7: Errorf format %d", []Problem{{"x_test.go", 7, 0, "Errorf format %d"}}},
		{"# pkg", nil},
		{"FAIL\tpkg [build failed]", nil},
	} {
		got := (&Package{Output: tc.line}).Problems()
		if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
			t.Errorf("%q: %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

func TestParseRejectsBrokenJSONWithItsLine(t *testing.T) {
	_, err := Parse(strings.NewReader("{\"Action\":\"run\"}\n{\"Action\":\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(stream)
	f.Add(buildFailure)
	f.Add(`{"Action":"fail","Package":"p","Test":"T/sub/x","Output":"    a.go:1: m\n"}`)
	f.Fuzz(func(t *testing.T, s string) {
		rep, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		c := rep.Count()
		if c.Passed+c.Failed+c.Skipped > len(rep.Tests) || c.Flaky != 0 {
			t.Fatalf("counts %+v for %d tests", c, len(rep.Tests))
		}
		for _, tt := range rep.Tests {
			tt.Failure()
		}
		for _, p := range rep.Packages {
			p.Problems()
		}
		for pkg, names := range rep.FailedTopLevel() {
			for _, n := range names {
				if n == "" && pkg == "" {
					t.Fatal("empty retry target")
				}
			}
		}
		rep.Merge(rep)
	})
}

// Under -trimpath frames name module paths; the test's frame is still found
// and made relative to the package's folder. (-trimpath itself would rebuild
// the standard library, a minute here: its paths are made from the real
// run's instead, as -trimpath makes them.)
func TestPanicUnderTrimpath(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "panicky"))
	cmd := exec.Command("go", "test", "-json", "./fields")
	cmd.Dir = dir
	out, _ := cmd.Output() // the package fails: that is the point
	if !bytes.Contains(out, []byte(dir+"/fields/fields_test.go:14")) {
		t.Fatalf("no frame of the test in the output:\n%s", out)
	}
	out = bytes.ReplaceAll(out, []byte(dir+"/"), []byte("example.com/panicky/"))
	rep, err := Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var failed *Test
	for _, tt := range rep.Tests {
		if tt.Status == "fail" {
			failed = tt
		}
	}
	if failed == nil || failed.Name != "TestMissingField" {
		t.Fatalf("want TestMissingField failed, got %+v\n%s", failed, out)
	}
	file, line, msg := failed.Failure()
	if file != "fields_test.go" || line != 14 || !strings.HasPrefix(msg, "panic: runtime error: index out of range") {
		t.Errorf("Failure() = %s:%d %q", file, line, msg)
	}
	if len(rep.Packages) != 1 || !strings.HasPrefix(rep.Packages[0].Aborted, "TestMissingField panicked") {
		t.Errorf("package not marked aborted: %+v", rep.Packages[0])
	}
}
