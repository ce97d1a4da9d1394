package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/recorder"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// runJob runs the one job of wfText in a fresh repository through RunJob,
// the way a forge runner would: contexts given, nothing planned here.
func runJob(t *testing.T, wfText string, files map[string]string, mod func(*Request, *Deps)) (*Result, *recorder.Job, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wf, err := workflow.Parse("w.yml", []byte(wfText))
	if err != nil {
		t.Fatal(err)
	}
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder.Recorder{}
	req := &Request{RunID: "7", Workflow: wf, Job: wf.Jobs[0], GitHub: map[string]any{"repository": "acme/widget", "event_name": "push"}, EventPath: event}
	work := t.TempDir()
	deps := Deps{Reporter: rec.Job(report.JobInfo{JobID: wf.Jobs[0].ID}), Workspace: workspace.Copy{Repo: dir}, WorkDir: work,
		Platforms: map[string]string{"ubuntu-latest": "host"}}
	if mod != nil {
		mod(req, &deps)
	}
	res := RunJob(context.Background(), req, deps)
	return res, rec.Jobs()[0], work
}

func TestJobLayerOfContexts(t *testing.T) {
	t.Parallel()
	res, rec, work := runJob(t, `
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "job=${{ github.job }} env=$GITHUB_JOB"
          [ "${{ github.workspace }}" = "$GITHUB_WORKSPACE" ] && echo workspace-agrees
          [ -d "${{ github.workspace }}" ] && echo workspace-exists
          echo "container=[${{ job.container.id }}] runner=${{ runner.os }}"
`, nil, nil)
	if res.Result != report.Success {
		t.Fatalf("result %s:\n%s", res.Result, rec.Text())
	}
	for _, want := range []string{"job=build env=build", "workspace-agrees", "workspace-exists", "container=[] runner=Linux"} {
		if !strings.Contains(rec.Text(), want) {
			t.Errorf("lacks %q:\n%s", want, rec.Text())
		}
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("job left %d entries in its work dir", len(entries))
	}
}

func TestStepsReportedInOrderWithIndexes(t *testing.T) {
	t.Parallel()
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - run: echo one
      - run: exit 3
      - if: success()
        run: echo never
      - if: always()
        name: cleanup
        run: echo cleaned
`, nil, nil)
	if res.Result != report.Failure {
		t.Fatalf("result %s", res.Result)
	}
	var got []string
	for _, e := range rec.Steps() {
		got = append(got, e.Step.Name+"="+string(e.StepEnd.Conclusion))
		if e.Step.Stage != report.Main {
			t.Errorf("stage %s", e.Step.Stage)
		}
	}
	want := "Run echo one=success,Run exit 3=failure,Run echo never=skipped,cleanup=success"
	if strings.Join(got, ",") != want {
		t.Errorf("steps %v, want %s", got, want)
	}
	idx := []int{}
	for _, e := range rec.Steps() {
		idx = append(idx, e.Step.Index)
	}
	if len(idx) != 4 || idx[0] != 0 || idx[3] != 3 {
		t.Errorf("indexes %v", idx)
	}
	end, ok := rec.End()
	if !ok || end.Result != report.Failure {
		t.Errorf("job end %+v %v", end, ok)
	}
}

func TestPreIfSeesInputsAndSkippedPostIsReported(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: ./act
        with: {mode: setup}
`, map[string]string{
		"act/action.yml": "name: a\ninputs:\n  mode: {description: m}\nruns:\n  using: node20\n  pre: pre.js\n  pre-if: inputs.mode == 'setup'\n  main: main.js\n  post: post.js\n  post-if: inputs.mode == 'never'\n",
		"act/pre.js":     "console.log('pre ran with ' + process.env.INPUT_MODE)\n",
		"act/main.js":    "console.log('main ran')\n",
		"act/post.js":    "console.log('post ran')\n",
	}, nil)
	if res.Result != report.Success {
		t.Fatalf("result %s:\n%s", res.Result, rec.Text())
	}
	if !strings.Contains(rec.Text(), "pre ran with setup") || strings.Contains(rec.Text(), "post ran") {
		t.Errorf("pre-if/post-if wrong:\n%s", rec.Text())
	}
	var stages []string
	for _, e := range rec.Steps() {
		stages = append(stages, string(e.Step.Stage)+"="+string(e.StepEnd.Conclusion))
	}
	if strings.Join(stages, ",") != "pre=success,main=success,post=skipped" {
		t.Errorf("stages %v", stages)
	}
}

func TestSetupFailureNamesTheCause(t *testing.T) {
	t.Parallel()
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: windows-latest
    steps: [{run: echo hi}]
`, nil, nil)
	if res.Result != report.Failure {
		t.Fatalf("result %s", res.Result)
	}
	if !strings.Contains(rec.Text(), "no platform for runs-on [windows-latest]; map a label with -P windows-latest=host") {
		t.Errorf("error:\n%s", rec.Text())
	}
}
