package junit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteThenRead(t *testing.T) {
	in := &Suites{Name: "unit", Tests: 3, Fails: 1, Skipped: 1, Time: Seconds(1500 * time.Millisecond), Suites: []Suite{{
		Name: "example.com/p", Tests: 3, Fails: 1, Skipped: 1, Time: "1.500",
		Cases: []Case{
			{Name: "TestOK", Classname: "example.com/p", Time: "0.100"},
			{Name: "TestBad", Classname: "example.com/p", Time: "0.200", File: "p_test.go", Line: 7,
				Failure: &Failure{Message: "got 1 <want> 2 & more", Type: "failure", Text: "    p_test.go:7: got 1\n"}},
			{Name: "TestSkip", Classname: "example.com/p", Time: "0.000", Skipped: &Skipped{Message: "later"}},
		},
	}}}
	path := filepath.Join(t.TempDir(), "deep", "junit.xml")
	if err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "<?xml") || !strings.Contains(string(data), `message="got 1 &lt;want&gt; 2 &amp; more"`) {
		t.Errorf("written:\n%s", data)
	}
	out, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	c := out.Suites[0].Cases
	if out.Tests != 3 || out.Fails != 1 || len(c) != 3 || c[1].Failure == nil || c[1].Failure.Message != "got 1 <want> 2 & more" || c[1].Line != 7 || c[2].Skipped == nil {
		t.Errorf("round trip %+v", out)
	}
}

func TestParseRoots(t *testing.T) {
	one, err := Parse("one.xml", []byte(`<testsuite name="pytest" tests="2" failures="1"><testcase name="a"/><testcase name="b"><error message="boom"/></testcase></testsuite>`))
	if err != nil || len(one.Suites) != 1 || one.Tests != 2 || one.Fails != 1 || one.Suites[0].Cases[1].Error == nil {
		t.Errorf("single suite: %+v %v", one, err)
	}
	for _, bad := range []string{"", "not xml", "<html><body/></html>", "<testsuite><testcase"} {
		if _, err := Parse("bad.xml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "bad.xml") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
	if d := ParseSeconds("1.25"); d != 1250*time.Millisecond {
		t.Errorf("ParseSeconds %v", d)
	}
	if ParseSeconds("soon") != 0 || Seconds(2*time.Second) != "2.000" {
		t.Error("seconds formatting")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`<testsuites><testsuite name="s"><testcase name="t" time="x"><failure>f</failure></testcase></testsuite></testsuites>`)
	f.Add(`<testsuite name="s"><testcase name="t"><skipped/></testcase></testsuite>`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse("f.xml", []byte(s))
		if err != nil {
			return
		}
		if got == nil {
			t.Fatal("nil report without an error")
		}
		for _, su := range got.Suites {
			for _, c := range su.Cases {
				ParseSeconds(c.Time)
			}
		}
	})
}
