package scheduler

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/plan"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/console"
	"github.com/gantry-ci/gantry/runner/report/recorder"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// syncBuffer is a bytes.Buffer safe for the engine's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// repo makes a repository directory with the given files.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type runOut struct {
	res *Result
	out string
	rec *recorder.Recorder
}

// at is when the first line containing text was reported, by any job.
func (o runOut) at(t *testing.T, text string) time.Time {
	t.Helper()
	for _, j := range o.rec.Jobs() {
		for _, e := range j.Events() {
			if e.Kind == "line" && strings.Contains(e.Text, text) {
				return e.At
			}
		}
	}
	t.Fatalf("no line %q reported:\n%s", text, o.out)
	return time.Time{}
}

func (o runOut) job(t *testing.T, name string) *JobResult {
	t.Helper()
	for _, j := range o.res.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q in %v\n%s", name, o.names(), o.out)
	return nil
}

func (o runOut) names() []string {
	var n []string
	for _, j := range o.res.Jobs {
		n = append(n, j.Name+"="+string(j.Result))
	}
	return n
}

// runWorkflow runs the workflow text in a fresh repository on the host.
func runWorkflow(t *testing.T, wfText string, files map[string]string, mod func(*Options)) runOut {
	t.Helper()
	return runWorkflowCtx(t, context.Background(), wfText, files, mod)
}

func runWorkflowCtx(t *testing.T, ctx context.Context, wfText string, files map[string]string, mod func(*Options)) runOut {
	t.Helper()
	if files == nil {
		files = map[string]string{}
	}
	files[".github/workflows/test.yml"] = wfText
	dir := repo(t, files)
	wf, err := workflow.Parse(filepath.Join(dir, ".github/workflows/test.yml"), []byte(wfText))
	if err != nil {
		t.Fatalf("parse workflow: %v", err)
	}
	out := &syncBuffer{}
	rec := &recorder.Recorder{}
	opts := Options{
		Reporter:  report.Tee(console.New(out, false, false), rec),
		RepoDir:   dir,
		EventName: "push",
		Payload:   map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/widget"}},
		Out:       out,
		Platforms: map[string]string{"ubuntu-latest": "host"},
		WorkRoot:  t.TempDir(),
	}
	opts.SummaryDir = filepath.Join(opts.WorkRoot, "summaries")
	if mod != nil {
		mod(&opts)
	}
	res, err := Run(ctx, wf, opts)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return runOut{res: res, out: out.String(), rec: rec}
}

func TestEnvPrecedenceAndFileCommands(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
env: {LEVEL: workflow, W: w}
jobs:
  build:
    runs-on: ubuntu-latest
    env: {LEVEL: job, J: j}
    steps:
      - run: echo "level=$LEVEL w=$W j=$J"
      - run: echo "level=$LEVEL" 
        env: {LEVEL: step}
      - id: out
        run: |
          echo "greeting=hello" >> "$GITHUB_OUTPUT"
          {
            echo 'multi<<EOF'
            echo 'line one'
            echo 'line two'
            echo 'EOF'
          } >> "$GITHUB_OUTPUT"
          echo "FROM_FILE=yes" >> "$GITHUB_ENV"
          echo "LEVEL=from-env-file" >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin" && printf '#!/bin/sh\necho tool-ran\n' > "$RUNNER_TEMP/bin/mytool" && chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - run: |
          echo "out=${{ steps.out.outputs.greeting }} file=$FROM_FILE level=$LEVEL"
          echo 'multi=${{ toJSON(steps.out.outputs.multi) }}'
          mytool
      - run: echo "step-level=$LEVEL"
        env: {LEVEL: step-wins}
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("run failed:\n%s", o.out)
	}
	for _, want := range []string{
		"level=job w=w j=j",
		"level=step",
		"out=hello file=yes level=from-env-file",
		`multi="line one\nline two"`,
		"tool-ran",
		"step-level=step-wins",
	} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
}

func TestNeedsIsAGraphNotStages(t *testing.T) {
	t.Parallel()
	// c needs only a; b is slow. c must finish before b does.
	o := runWorkflow(t, `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [{run: echo a}]
  b:
    runs-on: ubuntu-latest
    steps: [{run: "sleep 2; echo b-done"}]
  c:
    needs: a
    runs-on: ubuntu-latest
    steps: [{run: echo c-done}]
  d:
    needs: [b, c]
    runs-on: ubuntu-latest
    steps:
      - run: echo "d sees ${{ needs.c.result }}"
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	if o.at(t, "c-done").After(o.at(t, "b-done")) {
		t.Errorf("c waited for b (stage planning):\n%s", o.out)
	}
	if !strings.Contains(o.out, "d sees success") {
		t.Errorf("needs context missing:\n%s", o.out)
	}
}

func TestSkippedDependentsAndStatusFunctions(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  fails:
    runs-on: ubuntu-latest
    steps:
      - run: exit 3
      - run: echo never
      - if: failure()
        run: echo cleanup-after-failure
      - if: always()
        run: echo always-ran
      - if: success()
        run: echo not-this
  dependent:
    needs: fails
    runs-on: ubuntu-latest
    steps: [{run: echo should-not-run}]
  reporter:
    needs: fails
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo "report ${{ needs.fails.result }}"
  always:
    needs: dependent
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo "dependent was ${{ needs.dependent.result }}"
`, nil, nil)
	if o.res.Success {
		t.Fatalf("run should fail:\n%s", o.out)
	}
	for _, c := range []struct{ job, result string }{{"fails", "failure"}, {"dependent", "skipped"}, {"reporter", "success"}, {"always", "success"}} {
		if got := o.job(t, c.job).Result; string(got) != c.result {
			t.Errorf("job %s = %s, want %s", c.job, got, c.result)
		}
	}
	for _, want := range []string{"cleanup-after-failure", "always-ran", "report failure", "dependent was skipped"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
	for _, not := range []string{"never", "not-this", "should-not-run"} {
		if strings.Contains(o.out, not+"\n") {
			t.Errorf("output has %q:\n%s", not, o.out)
		}
	}
}

func TestContinueOnErrorStepAndJob(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  soft:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps: [{run: exit 1}]
  steps:
    runs-on: ubuntu-latest
    steps:
      - id: bad
        continue-on-error: true
        run: exit 1
      - run: echo "outcome=${{ steps.bad.outcome }} conclusion=${{ steps.bad.conclusion }}"
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("continue-on-error should keep the run green:\n%s", o.out)
	}
	if !strings.Contains(o.out, "outcome=failure conclusion=success") {
		t.Errorf("steps context wrong:\n%s", o.out)
	}
}

func TestMatrixIncludeExcludeOutputsAndNames(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [linux, mac]
        go: ["1.25", "1.26"]
        exclude: [{os: mac, go: "1.25"}]
        include: [{os: linux, extra: yes}]
    outputs:
      seen: ${{ steps.o.outputs.cell }}
    steps:
      - id: o
        run: echo "cell=${{ matrix.os }}-${{ matrix.go }}-${{ matrix.extra }} index=${{ strategy.job-index }}/${{ strategy.job-total }}" | tee -a "$GITHUB_OUTPUT"
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "merged=${{ needs.build.outputs.seen }}"
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	for _, want := range []string{"cell=linux-1.25-yes", "cell=linux-1.26-yes", "cell=mac-1.26-", "merged=", "build (linux, 1.25, yes)", "build (mac, 1.26)", "/3"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
	if strings.Contains(o.out, "cell=mac-1.25") {
		t.Errorf("excluded cell ran:\n%s", o.out)
	}
}

func TestFailFastCancelsSiblings(t *testing.T) {
	t.Parallel()
	start := time.Now()
	o := runWorkflow(t, `
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2, 3]
    steps:
      - run: |
          if [ "${{ matrix.n }}" = 1 ]; then exit 1; fi
          sleep 30
`, nil, nil)
	if time.Since(start) > 20*time.Second {
		t.Errorf("fail-fast did not cancel the siblings (took %s)", time.Since(start))
	}
	results := map[string]int{}
	for _, j := range o.res.Jobs {
		results[string(j.Result)]++
	}
	if results["failure"] != 1 || results["cancelled"] != 2 {
		t.Errorf("results %v, want 1 failure and 2 cancelled:\n%s", results, o.out)
	}
}

func TestMaxParallelOne(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        n: [1, 2, 3]
    steps:
      - run: |
          echo "start ${{ matrix.n }}"
          sleep 0.3
          echo "end ${{ matrix.n }}"
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	// With one at a time, every start is followed by its own end.
	re := regexp.MustCompile(`(start|end) (\d)`)
	var seq []string
	for _, m := range re.FindAllStringSubmatch(o.out, -1) {
		seq = append(seq, m[1]+m[2])
	}
	for i := 0; i+1 < len(seq); i += 2 {
		if seq[i][:5] != "start" || seq[i+1] != "end"+seq[i][5:] {
			t.Fatalf("cells overlapped: %v", seq)
		}
	}
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	o := runWorkflow(t, `
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - timeout-minutes: 0.02
        run: sleep 30
      - if: always()
        run: echo after-timeout
`, nil, nil)
	if time.Since(start) > 15*time.Second {
		t.Fatalf("timeout not enforced")
	}
	if o.res.Success || !strings.Contains(o.out, "timed out") || !strings.Contains(o.out, "after-timeout") {
		t.Errorf("want a timed-out failure and the always() step:\n%s", o.out)
	}
}

func TestJobTimeout(t *testing.T) {
	t.Parallel()
	start := time.Now()
	o := runWorkflow(t, `
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    timeout-minutes: 0.02
    steps:
      - run: sleep 30
`, nil, nil)
	if time.Since(start) > 15*time.Second {
		t.Fatalf("job timeout not enforced")
	}
	if got := o.job(t, "slow").Result; got != "failure" {
		t.Errorf("result %s, want failure:\n%s", got, o.out)
	}
}

func TestSecretMasking(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  leak:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "token is ${{ secrets.TOKEN }}"
          echo "env has $TOK"
          echo "::add-mask::dynamic-value-42"
          echo "later dynamic-value-42"
        env: {TOK: "${{ secrets.TOKEN }}"}
`, nil, func(o *Options) { o.Secrets = map[string]string{"TOKEN": "s3cr3t-value"} })
	if strings.Contains(o.out, "s3cr3t-value") || strings.Contains(o.out, "dynamic-value-42") {
		t.Errorf("secret leaked:\n%s", o.out)
	}
	if !strings.Contains(o.out, "token is ***") || !strings.Contains(o.out, "later ***") {
		t.Errorf("masked lines missing:\n%s", o.out)
	}
}

func TestWorkflowCommandsAndSummary(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  cmds:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "::error file=main.go,line=3,col=5,title=Boom::it broke"
          echo "::warning::careful"
          echo "::group::My group"
          echo inside
          echo "::endgroup::"
          echo "::stop-commands::pause1"
          echo "::error::not a command now"
          echo "::pause1::"
          echo "## Summary title" >> "$GITHUB_STEP_SUMMARY"
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	var anns []string
	for _, a := range o.res.Annotations {
		anns = append(anns, a.String())
	}
	joined := strings.Join(anns, "\n")
	if !strings.Contains(joined, "main.go") || !strings.Contains(joined, "it broke") || !strings.Contains(joined, "careful") {
		t.Errorf("annotations %q", joined)
	}
	if strings.Contains(joined, "not a command now") {
		t.Errorf("stop-commands ignored: %q", joined)
	}
	if !strings.Contains(o.out, "::error::not a command now") {
		t.Errorf("line under stop-commands not printed as is:\n%s", o.out)
	}
	data, err := os.ReadFile(o.res.SummaryPath)
	if err != nil || !strings.Contains(string(data), "## Summary title") {
		t.Errorf("summary %q: %v", data, err)
	}
}

func TestShells(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	var steps strings.Builder
	steps.WriteString("      - shell: sh\n        run: echo \"sh-ok\"\n")
	steps.WriteString("      - shell: bash\n        run: 'set -o | grep -q pipefail && echo bash-pipefail'\n")
	steps.WriteString("      - shell: 'bash -c \"cat {0}\"'\n        run: echo custom-shell-body\n")
	if _, err := exec.LookPath("python3"); err == nil {
		steps.WriteString("      - shell: python3 {0}\n        run: print('py-' + 'ok')\n")
	}
	o := runWorkflow(t, "on: push\njobs:\n  s:\n    runs-on: ubuntu-latest\n    steps:\n"+steps.String(), files, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	for _, want := range []string{"sh-ok", "bash-pipefail", "custom-shell-body"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
}

func TestWorkingDirectoryAndDefaults(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
defaults:
  run: {working-directory: sub}
jobs:
  wd:
    runs-on: ubuntu-latest
    steps:
      - run: cat marker.txt
      - working-directory: sub/deeper
        run: cat inner.txt
`, map[string]string{"sub/marker.txt": "in-sub\n", "sub/deeper/inner.txt": "in-deeper\n"}, nil)
	if !o.res.Success || !strings.Contains(o.out, "in-sub") || !strings.Contains(o.out, "in-deeper") {
		t.Errorf("working directories wrong:\n%s", o.out)
	}
}

func TestTriggerFilterSkipsWorkflow(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on:
  push:
    branches: [release/**]
jobs:
  x:
    runs-on: ubuntu-latest
    steps: [{run: echo ran}]
`, nil, nil)
	if !o.res.Skipped || len(o.res.Jobs) != 0 {
		t.Errorf("workflow should not run for refs/heads/main: %+v\n%s", o.res, o.out)
	}
}

func TestCancellationKillsTreeAndRunsAlways(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				time.Sleep(200 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
	}()
	o := runWorkflowCtx(t, ctx, `
on: push
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 300 &
          echo $! > `+pidFile+`
          wait
      - run: echo skipped-on-cancel
      - if: always()
        run: echo cleanup-ran
`, nil, nil)
	if o.res.Success {
		t.Errorf("cancelled run reported success")
	}
	if !strings.Contains(o.out, "cleanup-ran") || strings.Contains(o.out, "skipped-on-cancel\n") {
		t.Errorf("always() step handling wrong:\n%s", o.out)
	}
	data, _ := os.ReadFile(pidFile)
	pid := strings.TrimSpace(string(data))
	if pid != "" {
		if _, err := os.Stat("/proc/" + pid); err == nil {
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			if !strings.Contains(string(stat), ") Z") {
				t.Errorf("background child %s survived cancellation", pid)
			}
		}
	}
}

func TestJobConcurrencyGroupSerialises(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  one:
    runs-on: ubuntu-latest
    concurrency: shared
    steps: [{run: "echo one-start; sleep 0.5; echo one-end"}]
  two:
    runs-on: ubuntu-latest
    concurrency: shared
    steps: [{run: "echo two-start; sleep 0.5; echo two-end"}]
`, nil, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	i1s, i1e := o.at(t, "one-start"), o.at(t, "one-end")
	i2s, i2e := o.at(t, "two-start"), o.at(t, "two-end")
	if !(i1e.Before(i2s) || i2e.Before(i1s)) {
		t.Errorf("jobs in one concurrency group overlapped:\n%s", o.out)
	}
}

func TestLocalCompositeAction(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - id: greet
        uses: ./.github/actions/greet
        with: {who: world}
      - run: echo "composite said ${{ steps.greet.outputs.message }}"
`, map[string]string{
		".github/actions/greet/action.yml": `
name: greet
inputs:
  who: {description: who, required: true}
  punct: {description: p, default: "!"}
outputs:
  message: {description: m, value: "${{ steps.inner.outputs.msg }}"}
runs:
  using: composite
  steps:
    - id: inner
      shell: bash
      run: echo "msg=hello ${{ inputs.who }}${{ inputs.punct }}" >> "$GITHUB_OUTPUT"
    - uses: ./.github/actions/nested
      with: {value: deep}
`,
		".github/actions/nested/action.yml": `
name: nested
inputs:
  value: {description: v}
runs:
  using: composite
  steps:
    - shell: sh
      run: echo "nested got ${{ inputs.value }} at $GITHUB_ACTION_PATH"
`,
	}, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	for _, want := range []string{"composite said hello world!", "nested got deep at ", "/.github/actions/nested"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
}

func TestNodeActionWithPrePostAndState(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	o := runWorkflow(t, `
on: push
jobs:
  n:
    runs-on: ubuntu-latest
    steps:
      - id: act
        uses: ./act
        with: {name: gantry}
      - run: echo "node output ${{ steps.act.outputs.result }}"
`, map[string]string{
		"act/action.yml": "name: n\ninputs:\n  name: {description: n}\noutputs:\n  result: {description: r}\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n  post: post.js\n",
		"act/pre.js":     "const fs=require('fs'); fs.appendFileSync(process.env.GITHUB_STATE, 'from_pre=p1\\n'); console.log('pre ran');\n",
		"act/main.js":    "const fs=require('fs'); console.log('main got ' + process.env.INPUT_NAME + ' state ' + process.env.STATE_from_pre); fs.appendFileSync(process.env.GITHUB_OUTPUT, 'result=ok-' + process.env.INPUT_NAME + '\\n'); fs.appendFileSync(process.env.GITHUB_STATE, 'from_main=m1\\n');\n",
		"act/post.js":    "console.log('post sees ' + process.env.STATE_from_main);\n",
	}, nil)
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	for _, want := range []string{"pre ran", "main got gantry state p1", "node output ok-gantry", "post sees m1"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
	if o.at(t, "pre ran").After(o.at(t, "main got")) || o.at(t, "post sees").Before(o.at(t, "node output")) {
		t.Errorf("pre/main/post order wrong:\n%s", o.out)
	}
}

func TestReusableWorkflow(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  call:
    uses: ./.github/workflows/called.yml
    with: {greeting: hi}
    secrets: inherit
  use:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: echo "called said ${{ needs.call.outputs.said }}"
`, map[string]string{".github/workflows/called.yml": `
on:
  workflow_call:
    inputs:
      greeting: {type: string, required: true}
    outputs:
      said: {value: "${{ jobs.inner.outputs.text }}"}
jobs:
  inner:
    runs-on: ubuntu-latest
    outputs: {text: "${{ steps.s.outputs.text }}"}
    steps:
      - id: s
        run: echo "text=${{ inputs.greeting }} with ${{ secrets.TOKEN }}" >> "$GITHUB_OUTPUT"
`}, func(o *Options) { o.Secrets = map[string]string{"TOKEN": "tok"} })
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	// The output carries a secret, so GitHub (and gantry) drops it.
	if !strings.Contains(o.out, "called said") {
		t.Errorf("caller did not run:\n%s", o.out)
	}
}

func TestRemoteActionFromCacheAndSelfCheckout(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	actionDir := filepath.Join(cache, "acme", "hello", "v1")
	if err := os.MkdirAll(actionDir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := "name: hello\ninputs:\n  who: {description: w, default: 'cache'}\noutputs:\n  said: {description: s, value: '${{ steps.s.outputs.said }}'}\nruns:\n  using: composite\n  steps:\n    - id: s\n      shell: bash\n      run: echo \"said=hello ${{ inputs.who }} from $GITHUB_ACTION_PATH\" >> \"$GITHUB_OUTPUT\"\n"
	if err := os.WriteFile(filepath.Join(actionDir, "action.yml"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runWorkflow(t, `
on: push
jobs:
  remote:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cat marker.txt
      - id: h
        uses: acme/hello@v1
      - run: echo "${{ steps.h.outputs.said }}"
`, map[string]string{"marker.txt": "checked-out-content\n"}, func(o *Options) { o.ActionCache = cache })
	if !o.res.Success {
		t.Fatalf("failed:\n%s", o.out)
	}
	for _, want := range []string{"the workspace already holds it", "checked-out-content", "hello cache from " + actionDir} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
	missing := runWorkflow(t, `
on: push
jobs:
  remote:
    runs-on: ubuntu-latest
    steps:
      - run: echo should-not-run
      - uses: acme/missing@v2
`, nil, func(o *Options) { o.ActionCache = cache })
	if missing.res.Success || !strings.Contains(missing.out, "acme/missing@v2 is not in the action cache") || strings.Contains(missing.out, "]   should-not-run") {
		t.Errorf("a missing action must fail the job before any step:\n%s", missing.out)
	}
}

func TestMatrixFilter(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [linux, mac]
        n: [1, 2]
    steps:
      - run: echo "cell ${{ matrix.os }}-${{ matrix.n }}"
`, nil, func(o *Options) { o.Matrix = MatrixFilter{"os": {"mac"}, "absent": {"x"}} })
	if len(o.res.Jobs) != 2 || strings.Contains(o.out, "cell linux") || !strings.Contains(o.out, "cell mac-2") {
		t.Errorf("--matrix os:mac should keep 2 cells: %v\n%s", o.names(), o.out)
	}
}

func TestReusableWorkflowFromActionCache(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	wfDir := filepath.Join(cache, "acme", "shared", "v1", ".github", "workflows")
	if err := os.MkdirAll(wfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	called := "on:\n  workflow_call:\n    inputs:\n      n: {type: number, default: 1}\n    outputs:\n      double: {value: '${{ jobs.calc.outputs.d }}'}\njobs:\n  calc:\n    runs-on: ubuntu-latest\n    outputs: {d: '${{ steps.s.outputs.d }}'}\n    steps:\n      - id: s\n        run: echo \"d=$(( ${{ inputs.n }} * 2 ))\" >> \"$GITHUB_OUTPUT\"\n"
	if err := os.WriteFile(filepath.Join(wfDir, "calc.yml"), []byte(called), 0o644); err != nil {
		t.Fatal(err)
	}
	o := runWorkflow(t, `
on: push
jobs:
  call:
    uses: acme/shared/.github/workflows/calc.yml@v1
    with:
      n: 21
  show:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: echo "double is ${{ needs.call.outputs.double }}"
`, nil, func(o *Options) { o.ActionCache = cache })
	if !o.res.Success || !strings.Contains(o.out, "double is 42") {
		t.Errorf("reusable workflow from the cache:\n%s", o.out)
	}
}

func TestJobDisplayName(t *testing.T) {
	t.Parallel()
	cell := map[string]any{"os": "linux", "go": "1.26", "cfg": map[string]any{"cc": "gcc"}}
	keys := []string{"os", "go", "cfg"}
	ctxs := map[string]any{"github": map[string]any{"ref_name": "main"}}
	for _, tt := range []struct {
		name     string
		cell     map[string]any
		isMatrix bool
		want     string
	}{
		{"", nil, false, "build"},
		{"Build ${{ github.ref_name }}", nil, false, "Build main"},
		{"", cell, true, "build (linux, 1.26, gcc)"},
		{"Build", cell, true, "Build (linux, 1.26, gcc)"},
		{"Build on ${{ matrix.os }}", cell, true, "Build on linux"},
		{"", map[string]any{"os": ""}, true, "build"},
	} {
		job := &workflow.Job{ID: "build", Name: tt.name}
		if got := plan.DisplayName(job, tt.cell, keys, ctxs, tt.isMatrix); got != tt.want {
			t.Errorf("name %q cell %v: got %q, want %q", tt.name, tt.cell, got, tt.want)
		}
	}
}

func TestDryRunCreatesNothing(t *testing.T) {
	t.Parallel()
	work := t.TempDir()
	o := runWorkflow(t, `
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    container: {image: gantry/does-not-exist}
    strategy: {matrix: {v: [1, 2]}}
    steps:
      - uses: some/action@v1
      - run: touch "$GITHUB_WORKSPACE/made"
  b:
    needs: a
    strategy: {matrix: {v: "${{ fromJSON(needs.a.outputs.list) }}"}}
    runs-on: ubuntu-latest
    steps: [{run: echo b}]
`, nil, func(o *Options) {
		o.DryRun = true
		o.WorkRoot = work
		o.ActionCache = t.TempDir()
	})
	if !o.res.Success {
		t.Fatalf("dry run failed:\n%s", o.out)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("dry run made %d entries in the work root", len(entries))
	}
	if got := o.names(); strings.Join(got, ",") != "a (1)=success,a (2)=success,b=success" {
		t.Errorf("jobs %v", got)
	}
	for _, want := range []string{"*DRYRUN* Run some/action@v1", "matrix is decided at run time"} {
		if !strings.Contains(o.out, want) {
			t.Errorf("lacks %q:\n%s", want, o.out)
		}
	}
}
