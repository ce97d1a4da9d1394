package gitea_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/gitea"
	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// fast is the protocol's timing shortened for tests.
var fast = gitea.Timing{
	IdleMin: 10 * time.Millisecond, IdleMax: 80 * time.Millisecond,
	ErrorMin: 10 * time.Millisecond, ErrorMax: 100 * time.Millisecond,
	Report: 50 * time.Millisecond, GiveUp: 30 * time.Second,
}

type runnerOpts struct {
	labels   []string
	capacity int
	dir      string
	once     bool
	eph      bool
	grace    time.Duration
	exec     forge.Executor
	metrics  *selfhosted.Metrics
	name     string
	creds    *forge.Credentials // registered already; registers anew when nil
}

type running struct {
	stop    context.CancelFunc
	done    chan struct{}
	err     error
	pollErr *atomic.Int64
	creds   *forge.Credentials
	proto   *gitea.Protocol
}

func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(60 * time.Second):
		t.Fatal("the runner did not stop")
		return nil
	}
}

func newProto(pollErr *atomic.Int64) *gitea.Protocol {
	p := gitea.New(forge.Options{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		PollError: func(error) {
			if pollErr != nil {
				pollErr.Add(1)
			}
		},
		Version: "test",
	})
	p.Timing = fast
	return p
}

// startRunner registers a runner with srv and serves until the test ends.
func startRunner(t *testing.T, srv *giteatest.Server, o runnerOpts) *running {
	t.Helper()
	if o.labels == nil {
		o.labels = []string{"self-hosted:host", "ubuntu-latest:docker://gantry/debian:bookworm"}
	}
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.grace == 0 {
		o.grace = 30 * time.Second
	}
	if o.name == "" {
		o.name = "r-" + filepath.Base(o.dir)
	}
	labels, err := selfhosted.ParseLabels(o.labels)
	if err != nil {
		t.Fatal(err)
	}
	srv.AddRegistrationToken("regtoken")
	pollErr := &atomic.Int64{}
	p := newProto(pollErr)
	creds := o.creds
	if creds == nil {
		creds, err = p.Register(context.Background(), forge.Registration{URL: srv.URL, Token: "regtoken", Name: o.name, Labels: selfhosted.Names(labels), Ephemeral: o.eph})
		if err != nil {
			t.Fatal(err)
		}
	}
	if o.exec == nil {
		o.exec = &selfhosted.Executor{Labels: labels, WorkRoot: t.TempDir(), Containers: containers(t, o.labels)}
	}
	r := &running{done: make(chan struct{}), pollErr: pollErr, creds: creds, proto: p}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	d := &selfhosted.Runner{
		Protocol: p, Creds: creds, Labels: labels, Executor: o.exec, Dir: o.dir,
		Capacity: o.capacity, Once: o.once, Ephemeral: o.eph, Grace: o.grace, Metrics: o.metrics,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	go func() { r.err = d.Run(ctx); close(r.done) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
			t.Error("runner did not stop at the end of the test")
		}
	})
	return r
}

func wf(runsOn, body string) string {
	return "name: ci\non: push\njobs:\n  build:\n    runs-on: " + runsOn + "\n" + body
}

func waitDone(t *testing.T, srv *giteatest.Server, id int64, within time.Duration) giteatest.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	task, err := srv.WaitDone(ctx, id)
	if err != nil {
		t.Fatalf("task %d not done: %v\nlog:\n%s", id, err, strings.Join(task.Log, "\n"))
	}
	return task
}

func logText(task giteatest.Task) string { return strings.Join(task.Log, "\n") }

// checkSteps asserts step results and that their times are set and in order.
func checkSteps(t *testing.T, task giteatest.Task, want ...runnerv1.Result) {
	t.Helper()
	if len(task.Steps) != len(want) {
		t.Fatalf("steps %+v, want %d", task.Steps, len(want))
	}
	var prev time.Time
	for i, s := range task.Steps {
		if s.Result != want[i] {
			t.Errorf("step %d: %v, want %v\nlog:\n%s", i, s.Result, want[i], logText(task))
		}
		if s.Started.IsZero() || s.Stopped.IsZero() || s.Stopped.Before(s.Started) {
			t.Errorf("step %d: started %v stopped %v", i, s.Started, s.Stopped)
		}
		if s.Started.Before(prev) {
			t.Errorf("step %d started %v before step %d stopped %v", i, s.Started, i-1, prev)
		}
		prev = s.Stopped
		if s.LogIndex+s.LogLength > int64(len(task.Log)) {
			t.Errorf("step %d: log range %d+%d beyond %d rows", i, s.LogIndex, s.LogLength, len(task.Log))
		}
	}
}

func stepLog(task giteatest.Task, i int) string {
	s := task.Steps[i]
	return strings.Join(task.Log[s.LogIndex:s.LogIndex+s.LogLength], "\n")
}

const secret = "hunter2-very-secret"

func TestHostJobFailingStepAlwaysStepOutputsAndMasks(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	id := srv.AddTask(giteatest.TaskSpec{
		RunsOn:  []string{"self-hosted"},
		Secrets: map[string]string{"MY_SECRET": secret, "GITHUB_TOKEN": "gta_tasktoken00000001", "KEY": "-----key-first-line-xyz\nsecond-line-of-key-abc"},
		Vars:    map[string]string{"GREETING": "hi"},
		Needs:   map[string]*runnerv1.TaskNeed{"prep": {Result: runnerv1.Result_RESULT_SUCCESS, Outputs: map[string]string{"n": "7"}}},
		Workflow: wf("self-hosted", `    needs: prep
    strategy:
      matrix:
        os: [linux]
    outputs:
      value: ${{ steps.out.outputs.value }}
      leak: ${{ steps.out.outputs.leak }}
    steps:
      - name: hello
        run: echo "${{ vars.GREETING }} $S from ${{ matrix.os }} after ${{ needs.prep.outputs.n }}, token ${{ github.token }}"
        env:
          S: ${{ secrets.MY_SECRET }}
      - id: out
        run: |
          echo "value=42" >> "$GITHUB_OUTPUT"
          echo "leak=$S" >> "$GITHUB_OUTPUT"
        env:
          S: ${{ secrets.MY_SECRET }}
      - name: fail
        run: |
          echo "$K"
          exit 3
        env:
          K: ${{ secrets.KEY }}
      - name: never
        run: echo never-printed
      - name: cleanup
        if: always()
        run: echo "cleanup ${{ secrets.MY_SECRET }}"
`),
	})
	task := waitDone(t, srv, id, 30*time.Second)
	if task.Result != runnerv1.Result_RESULT_FAILURE {
		t.Errorf("result %v, want failure\n%s", task.Result, logText(task))
	}
	checkSteps(t, task, runnerv1.Result_RESULT_SUCCESS, runnerv1.Result_RESULT_SUCCESS, runnerv1.Result_RESULT_FAILURE,
		runnerv1.Result_RESULT_SKIPPED, runnerv1.Result_RESULT_SUCCESS)
	if got := stepLog(task, 0); !strings.Contains(got, "hi *** from linux after 7, token ***") {
		t.Errorf("step 0 log %q", got)
	}
	if got := stepLog(task, 2); strings.Count(got, "***") < 2 {
		t.Errorf("step 2 should print both lines of the key masked: %q", got)
	}
	if got := stepLog(task, 4); !strings.Contains(got, "cleanup ***") {
		t.Errorf("step 4 log %q", got)
	}
	for i, row := range task.Log {
		for _, s := range []string{secret, "gta_tasktoken00000001", "runtime.00000001.jwt", "key-first-line-xyz", "second-line-of-key-abc"} {
			if strings.Contains(row, s) {
				t.Errorf("row %d leaks %q: %q", i, s, row)
			}
		}
	}
	if strings.Contains(logText(task), "never-printed") {
		t.Error("the step after the failure ran")
	}
	if last := task.Log[len(task.Log)-1]; last != "Job failed" {
		t.Errorf("last row %q", last)
	}
	if task.Outputs["value"] != "42" {
		t.Errorf("outputs %v", task.Outputs)
	}
	if _, ok := task.Outputs["leak"]; ok {
		t.Errorf("an output holding a secret reached the server: %v", task.Outputs)
	}
	// Step states went out in order: no state marks a later step done
	// before an earlier one.
	for _, st := range task.States {
		seenOpen := false
		for _, s := range st.Steps {
			if s.Result == runnerv1.Result_RESULT_UNSPECIFIED {
				seenOpen = true
			} else if seenOpen && st.Result == runnerv1.Result_RESULT_UNSPECIFIED {
				t.Errorf("state %v: step %d done after an open one", st, s.Id)
			}
		}
	}
}

func TestContainerJob(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	id := srv.AddTask(giteatest.TaskSpec{
		RunsOn:  []string{"ubuntu-latest"},
		Secrets: map[string]string{"MY_SECRET": secret},
		Workflow: wf("ubuntu-latest", `    steps:
      - run: test -f /.dockerenv && echo "inside debian $(cat /etc/debian_version | cut -d. -f1)"
      - run: echo "secret $S"
        env:
          S: ${{ secrets.MY_SECRET }}
`),
	})
	task := waitDone(t, srv, id, 90*time.Second)
	if task.Result != runnerv1.Result_RESULT_SUCCESS {
		t.Fatalf("result %v\n%s", task.Result, logText(task))
	}
	checkSteps(t, task, runnerv1.Result_RESULT_SUCCESS, runnerv1.Result_RESULT_SUCCESS)
	if !strings.Contains(stepLog(task, 0), "inside debian 12") || !strings.Contains(stepLog(task, 1), "secret ***") {
		t.Errorf("log:\n%s", logText(task))
	}
	if n := leftoverContainers(t, id); n != 0 {
		t.Errorf("%d containers of the job are left", n)
	}
}

func TestServerCancelsMidJob(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", `    steps:
      - run: echo started; sleep 60; echo not-reached
      - if: always()
        run: echo after-cancel
`)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Wait(ctx, func(s *giteatest.Server) bool {
		return strings.Contains(logText(s.Task(id)), "started")
	}); err != nil {
		t.Fatal("the step did not start")
	}
	start := time.Now()
	srv.Cancel(id)
	task := waitDone(t, srv, id, 20*time.Second)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	log := logText(task)
	if strings.Contains(log, "not-reached") || !strings.Contains(log, "after-cancel") || task.Log[len(task.Log)-1] != "Job cancelled" {
		t.Errorf("log:\n%s", log)
	}
	// The runner goes on serving.
	id2 := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo second\n")})
	if task := waitDone(t, srv, id2, 20*time.Second); task.Result != runnerv1.Result_RESULT_SUCCESS {
		t.Errorf("second task %v", task.Result)
	}
}

func TestServerErrorsAndDroppedConnections(t *testing.T) {
	srv := giteatest.New(t)
	srv.Fault = func(proc string, n int) giteatest.Fault {
		switch {
		case proc == "FetchTask" && n <= 2:
			return giteatest.Unavailable
		case proc == "FetchTask" && n%5 == 0:
			return giteatest.DropBefore
		case proc == "UpdateLog" && n%3 == 0:
			return giteatest.DropAfter
		case proc == "UpdateLog" && n%7 == 0:
			return giteatest.DropBefore
		case proc == "UpdateTask" && n%4 == 0:
			return giteatest.DropAfter
		case proc == "UpdateTask" && n%5 == 0:
			return giteatest.Unavailable
		}
		return giteatest.None
	}
	r := startRunner(t, srv, runnerOpts{capacity: 2})
	var ids []int64
	for i := range 6 {
		ids = append(ids, srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", fmt.Sprintf(`    outputs:
      n: ${{ steps.s.outputs.n }}
    steps:
      - run: for i in $(seq 1 40); do echo "job %d line $i"; sleep 0.005; done
      - id: s
        run: echo "n=%d" >> "$GITHUB_OUTPUT"
`, i, i))}))
	}
	for i, id := range ids {
		task := waitDone(t, srv, id, 60*time.Second)
		if task.Result != runnerv1.Result_RESULT_SUCCESS || task.Picks != 1 {
			t.Errorf("task %d: %v, picked %d times", id, task.Result, task.Picks)
		}
		if task.Outputs["n"] != fmt.Sprint(i) {
			t.Errorf("task %d outputs %v", id, task.Outputs)
		}
		// Every line arrived once, in order.
		var lines []string
		for _, row := range task.Log {
			if strings.HasPrefix(row, fmt.Sprintf("job %d line", i)) {
				lines = append(lines, row)
			}
		}
		if len(lines) != 40 {
			t.Errorf("task %d: %d lines, want 40:\n%s", id, len(lines), logText(task))
		}
		for k, l := range lines {
			if l != fmt.Sprintf("job %d line %d", i, k+1) {
				t.Errorf("task %d row %d = %q", id, k, l)
				break
			}
		}
	}
	if r.pollErr.Load() == 0 {
		t.Error("no failed call was counted")
	}
}

func TestFourRunnersHundredJobs(t *testing.T) {
	srv := giteatest.New(t)
	for i := range 4 {
		startRunner(t, srv, runnerOpts{capacity: 2, name: fmt.Sprintf("fleet-%d", i)})
	}
	var ids []int64
	for i := range 100 {
		ids = append(ids, srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"},
			Workflow: wf("self-hosted", fmt.Sprintf("    steps:\n      - run: echo task-%03d\n", i))}))
	}
	byRunner := map[int64]int{}
	for i, id := range ids {
		task := waitDone(t, srv, id, 120*time.Second)
		if task.Result != runnerv1.Result_RESULT_SUCCESS || task.Picks != 1 {
			t.Errorf("task %d: %v, picked %d times", id, task.Result, task.Picks)
		}
		want := fmt.Sprintf("task-%03d", i)
		if n := strings.Count(logText(task), "task-"); n != 1 || !strings.Contains(logText(task), want) {
			t.Errorf("task %d log:\n%s", id, logText(task))
		}
		byRunner[task.RunnerID]++
	}
	if len(byRunner) < 2 {
		t.Errorf("one runner took every job: %v", byRunner)
	}
}

func TestBadInputFailsTheJobAndTheRunnerGoesOn(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	cases := []struct {
		name, workflow, want string
	}{
		{"unparsable", "jobs: [\n  nope", "does not parse"},
		{"unknown label", wf("gpu-box", "    steps:\n      - run: echo hi\n"), "unknown label"},
		{"unresolvable action", wf("self-hosted", "    steps:\n      - uses: no-such-owner/no-such-action@v9\n"), "no-such-owner/no-such-action"},
	}
	var ids []int64
	for _, c := range cases {
		ids = append(ids, srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: c.workflow}))
	}
	good := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo fine\n")})
	for i, c := range cases {
		task := waitDone(t, srv, ids[i], 30*time.Second)
		if task.Result != runnerv1.Result_RESULT_FAILURE || !strings.Contains(logText(task), c.want) {
			t.Errorf("%s: %v\n%s", c.name, task.Result, logText(task))
		}
	}
	if task := waitDone(t, srv, good, 30*time.Second); task.Result != runnerv1.Result_RESULT_SUCCESS {
		t.Errorf("good job after bad ones: %v", task.Result)
	}
}

func TestWrongTokens(t *testing.T) {
	srv := giteatest.New(t)
	srv.AddRegistrationToken("good")
	var n atomic.Int64
	p := newProto(&n)
	_, err := p.Register(context.Background(), forge.Registration{URL: srv.URL, Token: "bad", Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("register with a wrong token: %v", err)
	}
	// A repository URL pasted instead of the instance's finds the instance.
	creds, err := p.Register(context.Background(), forge.Registration{URL: srv.URL + "/owner/repo/", Token: "good", Name: "x", Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(creds.Data), `"address":"`+srv.URL+`"`) {
		t.Errorf("credentials %s", creds.Data)
	}
	bad := *creds
	bad.Data = []byte(strings.Replace(string(creds.Data), `"token":"`, `"token":"x`, 1))
	_, err = p.Connect(context.Background(), &bad, []string{"self-hosted"})
	if err == nil || !strings.Contains(err.Error(), "register the runner again") {
		t.Errorf("connect with a wrong runner token: %v", err)
	}
	if _, err := p.Connect(context.Background(), creds, []string{"self-hosted", "extra"}); err != nil {
		t.Fatal(err)
	}
	rs := srv.Runners()
	if len(rs) != 1 || rs[0].Declarations != 1 || strings.Join(rs[0].Labels, ",") != "self-hosted,extra" || rs[0].Version != "gantry-test" {
		t.Errorf("declared runner %+v", rs)
	}
}

func TestTasksVersionAndIdleBackoff(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Wait(ctx, func(s *giteatest.Server) bool { return len(s.Polls()) >= 3 })
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo v\n")})
	waitDone(t, srv, id, 20*time.Second)
	_ = srv.Wait(ctx, func(s *giteatest.Server) bool { return len(s.Polls()) >= 8 })
	// Each poll sends back the version the server last answered, except
	// the poll after a task, which asks again with 0 (other tasks may wait).
	polls := srv.Polls()
	tasks := 0
	for i, p := range polls {
		if p.Task {
			tasks++
		}
		if i == 0 {
			continue
		}
		want := polls[i-1].Answered
		if polls[i-1].Task {
			want = 0
		}
		if p.Asked != want {
			t.Errorf("poll %d asked with version %d, want %d: %+v", i, p.Asked, want, polls)
		}
	}
	if tasks != 1 {
		t.Errorf("%d polls got a task: %+v", tasks, polls)
	}
}

func TestSIGTERMLetsJobsFinishWithinGraceThenCancels(t *testing.T) {
	srv := giteatest.New(t)
	r := startRunner(t, srv, runnerOpts{grace: 20 * time.Second})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo begin; sleep 1; echo end\n")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.Wait(ctx, func(s *giteatest.Server) bool { return strings.Contains(logText(s.Task(id)), "begin") })
	r.stop()
	next := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo x\n")})
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if task := srv.Task(id); !task.Done || task.Result != runnerv1.Result_RESULT_SUCCESS || !strings.Contains(logText(task), "end") {
		t.Errorf("the running job did not finish: %+v", task.Result)
	}
	if task := srv.Task(next); task.Picks != 0 {
		t.Error("a stopping runner took a new job")
	}

	r2 := startRunner(t, srv, runnerOpts{grace: 300 * time.Millisecond})
	id3 := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo long; sleep 60\n")})
	_ = srv.Wait(ctx, func(s *giteatest.Server) bool { return strings.Contains(logText(s.Task(id3)), "long") })
	start := time.Now()
	r2.stop()
	if err := r2.wait(t); err != nil {
		t.Fatal(err)
	}
	task := srv.Task(id3)
	if !task.Done || task.Result != runnerv1.Result_RESULT_CANCELLED || !task.LogArchived || time.Since(start) > 15*time.Second {
		t.Errorf("after the grace period: %v archived=%v in %v", task.Result, task.LogArchived, time.Since(start))
	}
}

func TestEphemeralTakesOneJob(t *testing.T) {
	srv := giteatest.New(t)
	a := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo one\n")})
	b := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo two\n")})
	r := startRunner(t, srv, runnerOpts{eph: true, capacity: 4})
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if ta, tb := srv.Task(a), srv.Task(b); ta.Result != runnerv1.Result_RESULT_SUCCESS || tb.Picks != 0 {
		t.Errorf("ephemeral runner: first %v, second picked %d times", ta.Result, tb.Picks)
	}
	if len(srv.Runners()) != 0 {
		t.Error("the server kept the ephemeral runner")
	}
}

func TestMetricsAndHealth(t *testing.T) {
	srv := giteatest.New(t)
	m := selfhosted.NewMetrics()
	r := startRunner(t, srv, runnerOpts{metrics: m})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo m\n")})
	waitDone(t, srv, id, 20*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		body = scrape(t, m, "/metrics")
		if strings.Contains(body, `gantry_runner_jobs_total{result="success"} 1`) && strings.Contains(body, "gantry_runner_jobs_running 0") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`gantry_runner_jobs_total{result="success"} 1`, "gantry_runner_job_duration_seconds_count 1",
		"gantry_runner_queue_wait_seconds_count 1", "gantry_runner_jobs_running 0", "gantry_runner_poll_errors_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	if got := scrape(t, m, "/healthz"); got != "ok\n" {
		t.Errorf("healthz while serving: %q", got)
	}
	r.stop()
	_ = r.wait(t)
	if got := scrape(t, m, "/healthz"); got == "ok\n" {
		t.Error("healthz ok after stop")
	}
}

func TestCapacityRunsJobsAtOnce(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{capacity: 2})
	meet := t.TempDir()
	// Each job waits for the other's file: both succeed only if they run together.
	job := func(mine, theirs string) string {
		return wf("self-hosted", fmt.Sprintf("    steps:\n      - run: touch %s/%s; for i in $(seq 200); do [ -f %s/%s ] && exit 0; sleep 0.05; done; exit 1\n", meet, mine, meet, theirs))
	}
	a := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: job("a", "b")})
	b := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: job("b", "a")})
	for _, id := range []int64{a, b} {
		if task := waitDone(t, srv, id, 30*time.Second); task.Result != runnerv1.Result_RESULT_SUCCESS {
			t.Errorf("task %d: %v", id, task.Result)
		}
	}

	// With capacity 1 the jobs never overlap.
	srv2 := giteatest.New(t)
	startRunner(t, srv2, runnerOpts{capacity: 1})
	var ids []int64
	for range 3 {
		ids = append(ids, srv2.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: sleep 0.2\n")}))
	}
	var prev giteatest.Task
	for i, id := range ids {
		task := waitDone(t, srv2, id, 30*time.Second)
		if i > 0 && task.Offered.Before(prev.Stopped) {
			t.Errorf("task %d was taken at %v, before task %d stopped at %v", id, task.Offered, prev.ID, prev.Stopped)
		}
		prev = task
	}
}

func TestLongLogInBatches(t *testing.T) {
	srv := giteatest.New(t)
	startRunner(t, srv, runnerOpts{})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: seq 1 2500\n")})
	task := waitDone(t, srv, id, 30*time.Second)
	var nums []string
	for _, row := range task.Log {
		if row != "" && strings.Trim(row, "0123456789") == "" {
			nums = append(nums, row)
		}
	}
	if len(nums) != 2500 || nums[0] != "1" || nums[2499] != "2500" {
		t.Fatalf("%d number rows (first %v)", len(nums), nums[:min(3, len(nums))])
	}
	for i, n := range nums {
		if n != fmt.Sprint(i+1) {
			t.Fatalf("row %d = %s", i, n)
		}
	}
	if task.Log[len(task.Log)-1] != "Job succeeded" {
		t.Errorf("last row %q", task.Log[len(task.Log)-1])
	}
}

// TestActionsFromTheInstanceDefaultURL: an action missing from the cache is
// cloned from the URL the task's gitea_default_actions_url names (here a
// local folder of bare repositories standing in for the instance).
func TestActionsFromTheInstanceDefaultURL(t *testing.T) {
	mirror := t.TempDir()
	src := t.TempDir()
	git := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	actionYML := "name: hello\ninputs:\n  who: {required: true}\nruns:\n  using: composite\n  steps:\n    - run: echo \"hello from the instance, ${{ inputs.who }}\"\n      shell: bash\n"
	if err := os.WriteFile(filepath.Join(src, "action.yml"), []byte(actionYML), 0o644); err != nil {
		t.Fatal(err)
	}
	git(src, "init", "-q")
	git(src, "add", ".")
	git(src, "commit", "-qm", "action")
	git(src, "tag", "v1")
	if err := os.MkdirAll(filepath.Join(mirror, "acme"), 0o755); err != nil {
		t.Fatal(err)
	}
	git(mirror, "clone", "-q", "--bare", src, filepath.Join(mirror, "acme", "hello.git"))

	srv := giteatest.New(t)
	labels, _ := selfhosted.ParseLabels([]string{"self-hosted:host"})
	startRunner(t, srv, runnerOpts{labels: []string{"self-hosted:host"}, exec: &selfhosted.Executor{
		Labels: labels, WorkRoot: t.TempDir(), Actions: action.CacheSource{CacheDir: t.TempDir()},
	}})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Context: map[string]any{"gitea_default_actions_url": mirror},
		Workflow: wf("self-hosted", "    steps:\n      - uses: acme/hello@v1\n        with:\n          who: gitea\n")})
	task := waitDone(t, srv, id, 30*time.Second)
	if task.Result != runnerv1.Result_RESULT_SUCCESS || !strings.Contains(logText(task), "hello from the instance, gitea") {
		t.Errorf("%v\n%s", task.Result, logText(task))
	}
}
