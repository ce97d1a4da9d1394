package testaction

import (
	"path/filepath"
	"strings"
	"testing"
)

// A module whose test panics part-way through its package: the failure is
// the panic at the test's own line, the package says it stopped, and the
// tests after the panic are not counted as passed.
func TestPanickingTestReportedByThePanicAndTheTestsFrame(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/panicky")
	if err != nil {
		t.Fatal(err)
	}
	r := runAction(t, map[string]string{"working-directory": dir, "junit-output": filepath.Join(t.TempDir(), "junit.xml")})
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.log)
	}
	want := "::error file=fields/fields_test.go,line=14,title=TestMissingField::panic: runtime error: index out of range [2] with length 2%0Ain fields.Field at fields.go:9"
	if !strings.Contains(r.log, want) {
		t.Errorf("want annotation %s\nlog:\n%s", want, r.log)
	}
	if strings.Contains(r.log, "testing.tRunner") {
		t.Errorf("runtime frames reached the report:\n%s", r.log)
	}
	if !strings.Contains(r.log, "package example.com/panicky/fields aborted part-way: TestMissingField panicked (runtime error: index out of range [2] with length 2): the test binary stopped after 2 tests") {
		t.Errorf("the aborted package is not reported:\n%s", r.log)
	}
	for _, row := range []string{
		"| example.com/panicky/fields | TestMissingField | fields/fields_test.go:14 | panic: runtime error: index out of range [2] with length 2",
		"| example.com/panicky/fields | fail (aborted) |",
		"### Packages that stopped part-way",
	} {
		if !strings.Contains(r.summary, row) {
			t.Errorf("summary lacks %q:\n%s", row, r.summary)
		}
	}
	// TestFirst and calc's TestAdd passed; TestLast never ran.
	if output(r, "passed") != "2" || output(r, "failed") != "1" || output(r, "total") != "3" {
		t.Errorf("outputs:\n%s", r.outputs)
	}
}
