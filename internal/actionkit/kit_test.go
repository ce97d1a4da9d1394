package actionkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestTypedInputs(t *testing.T) {
	k := New(WithGetenv(env(map[string]string{
		"INPUT_RETRIES":   "3",
		"INPUT_RACE":      "yes",
		"INPUT_TIMEOUT":   "90",
		"INPUT_INTERVAL":  "2m",
		"INPUT_PACKAGES":  "./a/...\n./b/..., ./c",
		"INPUT_BAD-INT":   "three",
		"INPUT_BAD-BOOL":  "maybe",
		"INPUT_THRESHOLD": "80%",
		"INPUT_MODE":      "fast",
	})), WithWriter(&bytes.Buffer{}))
	if k.Int("retries", 0) != 3 || !k.Bool("race", false) || k.Duration("timeout", 0) != 90*time.Second || k.Duration("interval", 0) != 2*time.Minute {
		t.Error("typed inputs wrong")
	}
	if got := strings.Join(k.List("packages"), " "); got != "./a/... ./b/... ./c" {
		t.Errorf("list %q", got)
	}
	if k.Float("threshold", 0) != 80 || k.String("missing", "dflt") != "dflt" {
		t.Error("float/default wrong")
	}
	k.Int("bad-int", 1)
	k.Bool("bad-bool", false)
	k.Required("needed")
	k.OneOf("mode", "slow", "slow", "careful")
	err := k.InputErrors()
	for _, want := range []string{"input 'bad-int': \"three\" is not a whole number", "input 'bad-bool'", "input 'needed': is required", "input 'mode'"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors %v lack %q", err, want)
		}
	}
}

func TestAnnotationCapAndSummary(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.md")
	output := filepath.Join(dir, "output")
	for _, f := range []string{summary, output} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	code := Main(func(k *Kit) error {
		for i := 0; i < 13; i++ {
			k.Annotate(Annotation{Level: "error", File: "a_test.go", Line: i + 1, Message: fmt.Sprintf("failure %d", i)})
		}
		k.Annotate(Annotation{Level: "warning", Message: "one warning"})
		k.Summary("## Results\n" + Table([]string{"a", "b|c"}, [][]string{{"1", "x\ny"}}))
		k.SetOutput("count", "13")
		return fmt.Errorf("13 tests failed")
	}, WithGetenv(env(map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_OUTPUT": output})), WithWriter(&log))
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	if n := strings.Count(log.String(), "::error "); n != AnnotationLimit {
		t.Errorf("%d error annotations, want %d:\n%s", n, AnnotationLimit, log.String())
	}
	// The step's reason is over the cap too: logged, not annotated.
	if !strings.Contains(log.String(), "::warning::one warning") || !strings.Contains(log.String(), "Error: 13 tests failed") || strings.Contains(log.String(), "::error::13 tests failed") {
		t.Errorf("log:\n%s", log.String())
	}
	s, _ := os.ReadFile(summary)
	for _, want := range []string{"## Results", `| a | b\|c |`, "| 1 | x y |", "3 more annotations", "failure 12", "**Step failed:** 13 tests failed"} {
		if !strings.Contains(string(s), want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	o, _ := os.ReadFile(output)
	if !strings.Contains(string(o), "count<<") || !strings.Contains(string(o), "13") {
		t.Errorf("output file %q", o)
	}
}

func TestOutsideARunner(t *testing.T) {
	var log bytes.Buffer
	code := Main(func(k *Kit) error {
		k.SetOutput("result", "ok")
		k.Summary("## printed to the log")
		return nil
	}, WithGetenv(env(map[string]string{})), WithWriter(&log))
	if code != 0 || !strings.Contains(log.String(), "output result=ok") || !strings.Contains(log.String(), "--- step summary ---\n## printed to the log") {
		t.Errorf("code %d log %s", code, log.String())
	}
}

func TestFailureReasonIsAnAnnotationUnderTheCap(t *testing.T) {
	var log bytes.Buffer
	code := Main(func(k *Kit) error {
		k.Invalid("retries", "%q is negative", "-1")
		return fmt.Errorf("line one\nline two")
	}, WithGetenv(env(map[string]string{})), WithWriter(&log))
	// Multi-line messages stay one workflow command (newlines escaped).
	if code != 1 || !strings.Contains(log.String(), "::error::") || !strings.Contains(log.String(), "input 'retries': \"-1\" is negative") || !strings.Contains(log.String(), "line one%0Aline two") {
		t.Errorf("code %d log %s", code, log.String())
	}
}
