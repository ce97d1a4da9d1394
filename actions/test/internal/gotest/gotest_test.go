package gotest

import (
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
}
