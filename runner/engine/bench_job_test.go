package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// nopJob is a reporter that keeps nothing.
type nopJob struct{}

func (nopJob) Started(report.JobInfo)                   {}
func (nopJob) StepStarted(report.Step, time.Time)       {}
func (nopJob) Line(report.LineKind, string)             {}
func (nopJob) Group(string)                             {}
func (nopJob) EndGroup()                                {}
func (nopJob) StepFinished(report.Step, report.StepEnd) {}
func (nopJob) Annotate(report.Annotation)               {}
func (nopJob) Summary(report.Step, string)              {}
func (nopJob) Finished(report.JobEnd)                   {}

// BenchmarkJobFixedCost is what engine.RunJob adds to a one-step host job
// beyond the step's bare `bash -c`, with a 2,000-file repository in a
// copy-on-write workspace: the job's own cost on its critical path,
// without the run's (event file, git queries), which a run pays once for
// all its jobs, and without the removal of its folder, which the
// scheduler does in the background.
func BenchmarkJobFixedCost(b *testing.B) {
	repo := b.TempDir()
	for i := 0; i < 2000; i++ {
		p := filepath.Join(repo, fmt.Sprintf("pkg%03d", i/50), fmt.Sprintf("f%04d.go", i))
		if i%50 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte("package p\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	wf, err := workflow.Parse("w.yml", []byte("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: 'true'\n"))
	if err != nil {
		b.Fatal(err)
	}
	event := filepath.Join(b.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{}`), 0o644); err != nil {
		b.Fatal(err)
	}
	ws := &workspace.Overlay{Repo: repo, Fallback: func(r string) { b.Logf("%s", r) }}
	// As the scheduler does, the job's folder is removed off its critical
	// path: here after the clock stops.
	var done []string
	deps := Deps{Reporter: nopJob{}, Workspace: ws, WorkDir: b.TempDir(), ToolCache: b.TempDir(),
		RemoveDir: func(dir string) { done = append(done, dir) }}
	var job, bash time.Duration
	c0 := cpu()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := exec.Command("bash", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
		bash += time.Since(start)
		req := &Request{RunID: "1", Workflow: wf, Job: wf.Jobs[0], GitHub: map[string]any{"repository": "acme/widget", "event_name": "push"}, EventPath: event}
		start = time.Now()
		if res := RunJob(context.Background(), req, deps); res.Result != report.Success {
			b.Fatalf("job: %s", res.Result)
		}
		job += time.Since(start)
		for _, d := range done {
			_ = os.RemoveAll(d)
		}
		done = done[:0]
	}
	b.ReportMetric(float64(cpu()-c0)/float64(b.N)/1e6, "cpu-ms/job+bash")
	b.ReportMetric(float64(job-bash)/float64(b.N)/1e6, "ms-fixed/job")
	b.ReportMetric(float64(job)/float64(bash), "x-bash")
}

// cpu is the CPU time this process and its waited-for children have used:
// unlike wall time, it does not grow when other work holds the machine.
func cpu() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}
