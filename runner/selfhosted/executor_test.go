package selfhosted

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/recorder"
)

func TestExecutor(t *testing.T) {
	labels, _ := ParseLabels([]string{"self-hosted:host"})
	work := t.TempDir()
	e := &Executor{Labels: labels, WorkRoot: work}
	run := func(wf string, needs map[string]forge.Need) (*forge.Outcome, string, error) {
		rec := &recorder.Job{}
		out, err := e.Execute(context.Background(), &forge.Job{ServerID: "1", Workflow: []byte(wf), JobID: "j", Needs: needs,
			Secrets: map[string]string{"S": "sssecret"}, Masks: []string{"tttoken"}}, rec)
		var lines []string
		for _, ev := range rec.Events() {
			if ev.Kind == "line" {
				lines = append(lines, ev.Text)
			}
		}
		return out, strings.Join(lines, "\n"), err
	}

	out, log, err := run("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: echo \"$GITHUB_WORKSPACE\" | grep -c /work/ ; ls -A | wc -l; echo sssecret tttoken\n", nil)
	if err != nil || out.Result != report.Success {
		t.Fatalf("%v %v\n%s", out, err, log)
	}
	if !strings.Contains(log, "1\n0\n*** ***") {
		t.Errorf("want an empty workspace under the job folder and masked values:\n%s", log)
	}

	_, _, err = run("on: push\njobs:\n  j:\n    runs-on: [gpu]\n    steps:\n      - run: echo\n", nil)
	if !errors.Is(err, ErrUnknownLabel) || !strings.Contains(err.Error(), "workflow.yml:3:3:") {
		t.Errorf("unknown label: %v", err)
	}
	_, _, err = run("on: push\njobs:\n  j:\n    uses: o/r/.github/workflows/x.yml@v1\n", nil)
	if err == nil || !strings.Contains(err.Error(), "reusable workflow") {
		t.Errorf("reusable: %v", err)
	}
	out, _, err = run("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    if: success()\n    steps:\n      - run: echo ran\n",
		map[string]forge.Need{"a": {Result: report.Failure}})
	if err != nil || out.Result != report.Skipped {
		t.Errorf("if: success() after a failed need: %+v %v", out, err)
	}
	out, log, err = run("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    if: failure()\n    steps:\n      - run: echo ran\n",
		map[string]forge.Need{"a": {Result: report.Failure}})
	if err != nil || out.Result != report.Success || !strings.Contains(log, "ran") {
		t.Errorf("if: failure() after a failed need: %+v %v", out, err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("job folders left: %v", entries)
	}
}
