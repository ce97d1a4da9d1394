package gitea_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/gitea"
	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/recorder"
	"github.com/gantry-ci/gantry/runner/selfhosted"
	"github.com/gantry-ci/gantry/runner/workflow"
)

const benchWorkflow = "name: ci\non: push\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo first-line\n"

// BenchmarkTaskOfferedToFirstLog measures, with the real runner's timing,
// the time from the server handing out a task to the task's first log row
// reaching it, against a baseline of the same job run locally through the
// engine to its first reported line (the part no protocol can save).
// queued-to-offered is the poll wait on top (IdleMin when the runner has
// just been busy, up to IdleMax after a long idle spell).
func BenchmarkTaskOfferedToFirstLog(b *testing.B) {
	srv := giteatest.New(b)
	srv.AddRegistrationToken("regtoken")
	p := gitea.New(forge.Options{Version: "bench"})
	creds, err := p.Register(context.Background(), forge.Registration{URL: srv.URL, Token: "regtoken", Name: "bench", Labels: []string{"self-hosted"}})
	if err != nil {
		b.Fatal(err)
	}
	labels, _ := selfhosted.ParseLabels([]string{"self-hosted:host"})
	work := b.TempDir()
	d := &selfhosted.Runner{Protocol: p, Creds: creds, Labels: labels, Dir: b.TempDir(), Grace: time.Second,
		Executor: &selfhosted.Executor{Labels: labels, WorkRoot: work}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()

	wf, err := workflow.Parse("ci.yml", []byte(benchWorkflow))
	if err != nil {
		b.Fatal(err)
	}
	var offered, queued, local time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		added := time.Now()
		id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: benchWorkflow})
		wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := srv.Wait(wctx, func(s *giteatest.Server) bool { return !s.Task(id).FirstLog.IsZero() }); err != nil {
			b.Fatal(err)
		}
		cancel()
		task := srv.Task(id)
		offered += task.FirstLog.Sub(task.Offered)
		queued += task.Offered.Sub(added)

		// Baseline: the same job through the engine alone.
		rec := &firstLine{}
		start := time.Now()
		engine.RunJob(context.Background(), &engine.Request{RunID: "bench", Workflow: wf, Job: wf.Jobs[0], GitHub: map[string]any{}},
			engine.Deps{Reporter: rec, Workspace: emptyWS{}, WorkDir: work, Platforms: map[string]string{"self-hosted": "host"}})
		local += rec.at.Sub(start)

		wctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		_, _ = srv.WaitDone(wctx, id)
		cancel()
	}
	n := float64(b.N)
	b.ReportMetric(float64(offered.Milliseconds())/n, "ms-offered-to-first-log")
	b.ReportMetric(float64(queued.Milliseconds())/n, "ms-queued-to-offered")
	b.ReportMetric(float64(local.Milliseconds())/n, "ms-local-first-line")
	if local > 0 {
		b.ReportMetric(float64(offered)/float64(local), "ratio-vs-local")
	}
}

type firstLine struct {
	recorder.Job
	at time.Time
}

func (f *firstLine) Line(k report.LineKind, text string) {
	if f.at.IsZero() && text == "first-line" {
		f.at = time.Now()
	}
}

type emptyWS struct{}

func (emptyWS) Prepare(_ context.Context, dir, _ string) (string, func() error, error) {
	return dir, func() error { return os.RemoveAll(dir) }, os.MkdirAll(dir, 0o755)
}

// BenchmarkIdleRunner runs a real runner process (this test binary as a
// child, with the runner's default timing) idle against the test server
// for a while, and reports its resident memory and requests per minute.
// Run it with -benchtime=1x.
func BenchmarkIdleRunner(b *testing.B) {
	window := 20 * time.Second
	if s := os.Getenv("GANTRY_BENCH_IDLE"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			window = d
		}
	}
	for i := 0; i < b.N; i++ {
		srv := giteatest.New(b)
		srv.AddRegistrationToken("regtoken")
		dir := b.TempDir()
		p := gitea.New(forge.Options{})
		creds, err := p.Register(context.Background(), forge.Registration{URL: srv.URL, Token: "regtoken", Name: "idle", Labels: []string{"self-hosted"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := selfhosted.Save(dir, &selfhosted.Config{Forge: "gitea", URL: srv.URL, Name: "idle", Labels: []string{"self-hosted:host"}}, creds); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "GANTRY_TEST_RUNNER_DIR="+dir, "GANTRY_TEST_TIMING=default")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Second) // connected and settled
		before := srv.Calls("FetchTask") + srv.Calls("Declare")
		time.Sleep(window)
		after := srv.Calls("FetchTask") + srv.Calls("Declare")
		rss := rssKB(cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		b.ReportMetric(float64(after-before)/window.Minutes(), "requests/min")
		b.ReportMetric(float64(rss)/1024, "MB-rss")
	}
}

func rssKB(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
