package testaction

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/test/internal/junit"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

type result struct {
	code    int
	log     string
	summary string
	outputs string
}

// runAction runs the action in-process exactly as the runner would call it:
// INPUT_* variables and the file commands.
func runAction(t *testing.T, inputs map[string]string) result {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
	}
	for _, f := range []string{env["GITHUB_STEP_SUMMARY"], env["GITHUB_OUTPUT"]} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log bytes.Buffer
	code := actionkit.Main(Run, actionkit.WithGetenv(func(k string) string { return env[k] }), actionkit.WithWriter(&log))
	s, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	o, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	return result{code: code, log: log.String(), summary: string(s), outputs: string(o)}
}

func sample(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("../../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func output(r result, name string) string {
	// name<<DELIM\nvalue\nDELIM
	i := strings.Index(r.outputs, name+"<<")
	if i < 0 {
		return ""
	}
	rest := r.outputs[i:]
	lines := strings.SplitN(rest, "\n", 3)
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

func TestSampleWithFailureFlakyAndCoverage(t *testing.T) {
	t.Setenv("SAMPLE_FLAKY_DIR", t.TempDir())
	junitOut := filepath.Join(t.TempDir(), "junit.xml")
	r := runAction(t, map[string]string{"working-directory": sample(t), "retries": "2", "junit-output": junitOut})
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (a test fails)", r.code)
	}
	if output(r, "failed") != "1" || output(r, "flaky") != "1" || output(r, "skipped") != "1" {
		t.Errorf("outputs:\n%s\nlog:\n%s", r.outputs, r.log)
	}
	if !strings.Contains(r.log, "::error file=bad/bad_test.go,line=7,title=TestAdd::Add(2, 2) = 0, want 4") {
		t.Errorf("no annotation at the failing line:\n%s", r.log)
	}
	if !strings.Contains(r.log, "::warning file=flaky/flaky_test.go,line=21,title=flaky test TestSometimes::TestSometimes in example.com/sample/flaky failed, then passed on retry: first run fails") {
		t.Errorf("flaky not reported at its first failure:\n%s", r.log)
	}
	if strings.Contains(r.log, "title=package ") {
		t.Errorf("a package whose tests passed on retry is reported as failed:\n%s", r.log)
	}
	for _, want := range []string{"1 failed", "1 flaky", "| example.com/sample/bad | fail |", "| example.com/sample/flaky | pass |", "**Step failed:** 1 of 6 tests failed", "### Failed tests", "### Flaky tests", "Total coverage:", "Slowest tests"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.summary)
		}
	}
	s, err := junit.Read(junitOut)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fails != 1 || s.Skipped != 1 || s.Tests != 6 {
		t.Errorf("junit totals %+v", s)
	}
}

func TestCoverageThreshold(t *testing.T) {
	ok := runAction(t, map[string]string{"working-directory": sample(t), "packages": "./good", "coverage-threshold": "90", "junit-output": filepath.Join(t.TempDir(), "j.xml")})
	if ok.code != 0 || output(ok, "coverage") != "100.0" {
		t.Errorf("good: exit %d outputs %s log %s", ok.code, ok.outputs, ok.log)
	}
	low := runAction(t, map[string]string{"working-directory": sample(t), "packages": "./lowcov", "coverage-threshold": "90", "junit-output": filepath.Join(t.TempDir(), "j.xml")})
	if low.code != 1 || !strings.Contains(low.log, "below the threshold of 90.0%") || !strings.Contains(low.summary, "## ❌") || !strings.Contains(low.summary, "**Total coverage: 12.5%** (threshold 90.0%)") {
		t.Errorf("lowcov: exit %d log %s", low.code, low.log)
	}
}

func TestShardsPartitionPackages(t *testing.T) {
	seen := map[string]int{}
	for _, s := range []string{"1/2", "2/2"} {
		r := runAction(t, map[string]string{"working-directory": sample(t), "shard": s, "junit-output": filepath.Join(t.TempDir(), "j.xml")})
		for _, p := range []string{"good", "bad", "flaky", "lowcov"} {
			if strings.Contains(r.summary, "| example.com/sample/"+p+" |") {
				seen[p]++
			}
		}
	}
	for _, p := range []string{"good", "bad", "flaky", "lowcov"} {
		if seen[p] != 1 {
			t.Errorf("package %s ran in %d shards, want exactly 1 (%v)", p, seen[p], seen)
		}
	}
}

func TestCommandWithJUnit(t *testing.T) {
	dir := t.TempDir()
	report := `<testsuite name="pytest" tests="2"><testcase name="test_ok" classname="t" time="0.1"/><testcase name="test_bad" classname="t" time="0.2" file="tests/test_x.py" line="12"><failure message="assert 1 == 2">trace</failure></testcase></testsuite>`
	if err := os.WriteFile(filepath.Join(dir, "report.src"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runAction(t, map[string]string{"working-directory": dir, "command": "cp report.src out.xml; exit 1", "junit-file": "out.xml", "junit-output": filepath.Join(t.TempDir(), "j.xml")})
	if r.code != 1 || output(r, "failed") != "1" || output(r, "passed") != "1" {
		t.Errorf("exit %d outputs %s log %s", r.code, r.outputs, r.log)
	}
	if !strings.Contains(r.log, "file=tests/test_x.py,line=12") {
		t.Errorf("annotation missing:\n%s", r.log)
	}
	missing := runAction(t, map[string]string{"working-directory": dir, "command": "true"})
	if missing.code != 1 || !strings.Contains(missing.log, "input 'junit-file': is required") {
		t.Errorf("command without junit-file: %d %s", missing.code, missing.log)
	}
}

func TestE2EHTTPChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	dir := t.TempDir()
	checks := filepath.Join(dir, "checks.yml")
	if err := os.WriteFile(checks, []byte("checks:\n  - name: health\n    request: GET /healthz\n    body-contains: ok\n    max-latency: 2s\n  - name: api\n    request: GET /api\n    status: 200\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module e2e\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runAction(t, map[string]string{"suite": "e2e", "working-directory": dir, "base-url": srv.URL, "http-checks": checks, "command": "echo '<testsuites/>' > none.xml", "junit-file": "none.xml", "junit-output": filepath.Join(t.TempDir(), "j.xml")})
	if r.code != 1 || output(r, "passed") != "1" || output(r, "failed") != "1" {
		t.Errorf("exit %d outputs %s log %s", r.code, r.outputs, r.log)
	}
	if !strings.Contains(r.summary, "| http-checks | fail |") || !strings.Contains(r.log, "status 500, want 200") {
		t.Errorf("summary %s\nlog %s", r.summary, r.log)
	}
}

func TestBuildFailureAnnotatedAtCompilerPosition(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":        "module brk\n\ngo 1.22\n",
		"p/p.go":        "package p\n\nfunc F() int { return \"x\" }\n",
		"p/p_test.go":   "package p\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { F() }\n",
		"ok/ok_test.go": "package ok\n\nimport \"testing\"\n\nfunc TestOK(t *testing.T) {}\n",
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runAction(t, map[string]string{"working-directory": dir, "junit-output": filepath.Join(t.TempDir(), "j.xml")})
	if r.code != 1 || output(r, "passed") != "1" {
		t.Errorf("exit %d outputs %s", r.code, r.outputs)
	}
	if !strings.Contains(r.log, "::error file=p/p.go,line=3,title=build failed%3A brk/p::cannot use") {
		t.Errorf("no annotation at the compiler's position:\n%s", r.log)
	}
	if !strings.Contains(r.summary, "1 packages failed to build or run") {
		t.Errorf("summary:\n%s", r.summary)
	}
}

func TestInvalidInputsNameTheInput(t *testing.T) {
	r := runAction(t, map[string]string{"working-directory": sample(t), "retries": "-1", "coverage-threshold": "120", "shard": "5/4", "suite": "smoke"})
	for _, want := range []string{"input 'retries'", "input 'coverage-threshold'", "input 'shard'", "input 'suite': \"smoke\" is not one of unit, integration, e2e"} {
		if !strings.Contains(r.log, want) {
			t.Errorf("log lacks %q:\n%s", want, r.log)
		}
	}
	if r.code != 1 || strings.Contains(r.log, "go test") {
		t.Errorf("exit %d; tests must not run with bad inputs:\n%s", r.code, r.log)
	}
}

func TestShardsSplitTestsWhenFewerPackagesThanShards(t *testing.T) {
	var ran []string
	for _, s := range []string{"1/2", "2/2"} {
		r := runAction(t, map[string]string{"working-directory": sample(t), "packages": "./bad", "shard": s, "junit-output": filepath.Join(t.TempDir(), "j.xml")})
		if output(r, "total") != "1" || !strings.Contains(r.log, "of 2 tests (fewer packages than shards)") {
			t.Errorf("shard %s: outputs %s log %s", s, r.outputs, r.log)
		}
		for _, name := range []string{"TestAdd", "TestAddZero"} {
			if strings.Contains(r.summary, "| example.com/sample/bad | "+name+" |") {
				ran = append(ran, name)
			}
		}
	}
	if strings.Join(ran, ",") != "TestAdd,TestAddZero" && strings.Join(ran, ",") != "TestAddZero,TestAdd" {
		t.Errorf("tests ran %v, want each exactly once", ran)
	}
}

func TestCoverageMergesProfiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	_ = os.WriteFile(a, []byte("mode: atomic\nx.go:1.1,2.2 3 1\nx.go:3.1,4.2 1 0\n"), 0o644)
	_ = os.WriteFile(b, []byte("mode: atomic\nx.go:1.1,2.2 3 0\nx.go:3.1,4.2 1 2\n"), 0o644)
	if got := totalCoverage(a); got != 75 {
		t.Errorf("one profile %v", got)
	}
	if got := totalCoverage(a, b); got != 100 {
		t.Errorf("merged %v, want 100 (each block covered by one run)", got)
	}
	if got := totalCoverage(filepath.Join(dir, "none")); got != -1 {
		t.Errorf("missing profile %v", got)
	}
}
