package fleet_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/runner/fleet"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/gitea"
	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/forge/github"
	"github.com/gantry-ci/gantry/runner/forge/github/githubtest"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

var hostLabels = []selfhosted.Label{{Name: "self-hosted", Platform: "host"}}

func logger() *slog.Logger {
	if os.Getenv("GANTRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// gauge wraps the real executor and records how many jobs ran at once.
type gauge struct {
	forge.Executor
	now, peak atomic.Int64
	mu        sync.Mutex
	ran       map[string]int // server job id -> runs
}

func (g *gauge) Execute(ctx context.Context, job *forge.Job, rep report.Job) (*forge.Outcome, error) {
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	defer g.now.Add(-1)
	g.mu.Lock()
	g.ran[job.ServerID]++
	g.mu.Unlock()
	return g.Executor.Execute(ctx, job, rep)
}

func newGauge(t *testing.T) *gauge {
	return &gauge{Executor: &selfhosted.Executor{Labels: hostLabels, WorkRoot: t.TempDir(), NoContainers: "host jobs only"}, ran: map[string]int{}}
}

type supervised struct {
	stop context.CancelFunc
	done chan error
}

func supervise(t *testing.T, s *fleet.Supervisor) *supervised {
	ctx, stop := context.WithCancel(context.Background())
	run := &supervised{stop: stop, done: make(chan error, 1)}
	go func() { run.done <- s.Run(ctx) }()
	t.Cleanup(func() { stop(); <-run.done })
	return run
}

func (r *supervised) end(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("supervisor: %v", err)
		}
		r.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("the supervisor did not stop")
	}
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the fleet's folder: %s", e.Name())
	}
}

func giteaProto() *gitea.Protocol {
	p := gitea.New(forge.Options{Logger: logger(), Version: "test"})
	p.Timing = gitea.Timing{IdleMin: 10 * time.Millisecond, IdleMax: 80 * time.Millisecond,
		ErrorMin: 10 * time.Millisecond, ErrorMax: 100 * time.Millisecond, Report: 50 * time.Millisecond, GiveUp: 30 * time.Second}
	return p
}

// Ten queued Gitea tasks, --max-runners 3: every task done once, each by
// its own ephemeral runner, never more than three at once.
func TestGiteaTenJobsThreeRunners(t *testing.T) {
	srv := giteatest.New(t)
	srv.AddRegistrationToken("fleet-token")
	var ids []int64
	for i := range 10 {
		ids = append(ids, srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"},
			Workflow: fmt.Sprintf("name: ci\non: push\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo job-%d; sleep 0.4\n", i)}))
	}
	p := giteaProto()
	g := newGauge(t)
	var alive, peakAlive atomic.Int64
	dir := t.TempDir()
	s := &fleet.Supervisor{Max: 3, Dir: dir, Prefix: "fleet", Protocol: p, Labels: hostLabels, Executor: g,
		Grace: 10 * time.Second, Logger: logger(), BackoffMin: 10 * time.Millisecond,
		Provisioner: &fleet.GiteaEphemeral{Protocol: p, URL: srv.URL, Token: "fleet-token", Labels: []string{"self-hosted"}},
		OnWorker: func(_ string, d int) {
			n := alive.Add(int64(d))
			for p := peakAlive.Load(); n > p && !peakAlive.CompareAndSwap(p, n); p = peakAlive.Load() {
			}
		}}
	run := supervise(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runners := map[int64]int64{}
	for _, id := range ids {
		task, err := srv.WaitDone(ctx, id)
		if err != nil {
			t.Fatalf("task %d not done: %v\n%s", id, err, strings.Join(task.Log, "\n"))
		}
		if task.Result != runnerv1.Result_RESULT_SUCCESS || task.Picks != 1 {
			t.Errorf("task %d: result %v, handed out %d times", id, task.Result, task.Picks)
		}
		if other, ok := runners[task.RunnerID]; ok {
			t.Errorf("runner %d ran tasks %d and %d; an ephemeral runner takes one", task.RunnerID, other, id)
		}
		runners[task.RunnerID] = id
	}
	run.end(t)
	if p := g.peak.Load(); p > 3 || p < 2 {
		t.Errorf("%d jobs ran at once; want up to 3 (and more than 1: the fleet scales)", p)
	}
	if p := peakAlive.Load(); p > 3 {
		t.Errorf("%d runners alive at once, --max-runners is 3", p)
	}
	for id, n := range g.ran {
		if n != 1 {
			t.Errorf("job %s ran %d times", id, n)
		}
	}
	if len(g.ran) != 10 {
		t.Errorf("%d jobs ran, want 10", len(g.ran))
	}
	// Gitea deletes a runner after its task; the idle ones stopped at the
	// end stay (the protocol cannot remove them) and never ran a task.
	left := srv.Runners()
	if len(left) > 3 {
		t.Errorf("%d runners still registered; at most the 3 idle ones may be", len(left))
	}
	for _, r := range left {
		if _, ran := runners[r.ID]; ran {
			t.Errorf("runner %s ran a task and is still registered", r.Name)
		}
	}
	emptyDir(t, dir)
}

func githubProto() *github.Protocol {
	return &github.Protocol{PollTimeout: 300 * time.Millisecond, RenewInterval: 50 * time.Millisecond, Logger: logger()}
}

// GitHub: each runner from a JIT config generated through go-github; ten
// jobs, three runners; at the end no runner is left registered.
func TestGitHubJITTenJobsThreeRunners(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	var jobs []*githubtest.Job
	for i := range 10 {
		jobs = append(jobs, srv.Queue(githubtest.JobSpec{Name: fmt.Sprintf("job-%d", i), YAML: "steps:\n  - run: echo hello; sleep 0.4\n"}))
	}
	p := githubProto()
	prov, err := fleet.NewGitHubJIT(p, srv.RepoURL(), srv.PAT(), nil, []string{"self-hosted"})
	if err != nil {
		t.Fatal(err)
	}
	g := newGauge(t)
	dir := t.TempDir()
	run := supervise(t, &fleet.Supervisor{Max: 3, Dir: dir, Prefix: "jit", Protocol: p, Labels: hostLabels, Executor: g,
		Grace: 10 * time.Second, Logger: logger(), BackoffMin: 10 * time.Millisecond, Provisioner: prov})
	for _, j := range jobs {
		snap := srv.Wait(j, 60*time.Second)
		if len(snap.Completions) != 1 || snap.Completions[0].Conclusion != "succeeded" || snap.AcquireCount != 1 {
			t.Errorf("job %s: completions %+v, acquired %d times", j.ID, snap.Completions, snap.AcquireCount)
		}
	}
	run.end(t)
	if p := g.peak.Load(); p > 3 || p < 2 {
		t.Errorf("%d jobs ran at once; want up to 3 (and more than 1)", p)
	}
	if len(g.ran) != 10 {
		t.Errorf("%d jobs ran, want 10", len(g.ran))
	}
	for id, n := range g.ran {
		if n != 1 {
			t.Errorf("job %s ran %d times", id, n)
		}
	}
	for name, n := range srv.JobsByRunner() {
		if n != 1 {
			t.Errorf("runner %s ran %d jobs", name, n)
		}
	}
	if left := srv.Agents(); len(left) != 0 {
		t.Errorf("runners left registered: %v", left)
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("%d sessions left open", n)
	}
	emptyDir(t, dir)
}

// SIGTERM while a job runs: the job finishes within the grace period and
// is reported, no new runner is started, and nothing is left.
func TestStopLetsRunningJobFinish(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	j := srv.Queue(githubtest.JobSpec{Name: "long", YAML: "steps:\n  - run: echo started; sleep 1.5; echo finished\n"})
	p := githubProto()
	prov, err := fleet.NewGitHubJIT(p, srv.RepoURL(), srv.PAT(), nil, []string{"self-hosted"})
	if err != nil {
		t.Fatal(err)
	}
	g := newGauge(t)
	dir := t.TempDir()
	run := supervise(t, &fleet.Supervisor{Max: 2, Dir: dir, Prefix: "stop", Protocol: p, Labels: hostLabels, Executor: g,
		Grace: 20 * time.Second, Logger: logger(), BackoffMin: 10 * time.Millisecond, Provisioner: prov})
	deadline := time.Now().Add(30 * time.Second)
	for g.now.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the job never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	run.end(t)
	snap := srv.Snapshot(j)
	if len(snap.Completions) != 1 || snap.Completions[0].Conclusion != "succeeded" {
		t.Errorf("the running job was not let finish: %+v", snap.Completions)
	}
	if left := srv.Agents(); len(left) != 0 {
		t.Errorf("runners left registered: %v", left)
	}
	emptyDir(t, dir)
}

// A wrong token fails the supervisor at once with the reason, and the
// token is not in it.
func TestBadTokenFailsFast(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := githubProto()
	prov, err := fleet.NewGitHubJIT(p, srv.RepoURL(), "ghp_wrongtoken123", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// A folder a killed supervisor left is tidied too.
	if err := os.MkdirAll(filepath.Join(dir, "workers", "bad-0000", "inflight"), 0o700); err != nil {
		t.Fatal(err)
	}
	err = (&fleet.Supervisor{Max: 2, Dir: dir, Prefix: "bad", Protocol: p, Provisioner: prov, Executor: newGauge(t)}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrongtoken") {
		t.Fatalf("want a 401 without the token, got %v", err)
	}
	emptyDir(t, dir)
}
