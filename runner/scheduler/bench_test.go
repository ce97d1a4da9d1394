package scheduler

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/plan"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// BenchmarkStepOverhead measures what a host run: step costs on top of a bare
// `bash -c` of the same script, both measured in this run. The reported
// ms-over-bash is per step (target: under 5).
func BenchmarkStepOverhead(b *testing.B) {
	const steps = 20
	var sb strings.Builder
	sb.WriteString("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n")
	for i := 0; i < steps; i++ {
		sb.WriteString("      - run: 'true'\n")
	}
	dir := b.TempDir()
	path := filepath.Join(dir, "w.yml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	wf, err := workflow.ParseFile(path)
	if err != nil {
		b.Fatal(err)
	}
	one := "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: 'true'\n"
	wfOne, err := workflow.Parse(path, []byte(one))
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{RepoDir: dir, Bind: true, Out: io.Discard, WorkRoot: b.TempDir(), Payload: map[string]any{"ref": "refs/heads/main"}}
	runOnce := func(w *workflow.Workflow) time.Duration {
		start := time.Now()
		res, err := Run(context.Background(), w, opts)
		if err != nil || !res.Success {
			b.Fatalf("run: %v", err)
		}
		return time.Since(start)
	}
	var bash, many, single time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for k := 0; k < steps-1; k++ {
			if err := exec.Command("bash", "-c", "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
		bash += time.Since(start)
		many += runOnce(wf)
		single += runOnce(wfOne)
	}
	// (many - single) is the cost of steps-1 extra steps, without job set-up.
	perStep := float64(many-single) / float64(b.N*(steps-1))
	perBash := float64(bash) / float64(b.N*(steps-1))
	b.ReportMetric((perStep-perBash)/1e6, "ms-over-bash/step")
	b.ReportMetric(perStep/perBash, "x-bash")
}

// BenchmarkPlanMatrix256 plans a job with a 256-cell matrix: evaluation of the
// matrix, expansion, include/exclude and display names (target: under 50 ms).
func BenchmarkPlanMatrix256(b *testing.B) {
	src := `
on: push
jobs:
  m:
    runs-on: self-hosted
    strategy:
      matrix:
        a: [a0, a1, a2, a3]
        b: [b0, b1, b2, b3]
        c: ["${{ github.ref }}", c1, c2, c3]
        d: [d0, d1, d2, d3]
        include: [{a: a1, extra: true}]
    steps: [{run: 'true'}]
`
	wf, err := workflow.Parse("w.yml", []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	r := &run{wf: wf, github: map[string]any{"ref": "refs/heads/main"}, inputs: map[string]any{}}
	job := wf.Jobs[0]
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		ctxs := r.baseContexts(nil)
		cells, keys, err := plan.Expand(job, &expr.Env{Contexts: ctxs})
		if err != nil || len(cells) != 256 {
			b.Fatalf("%d cells: %v", len(cells), err)
		}
		for _, c := range cells {
			_ = plan.DisplayName(job, c, keys, ctxs, true)
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/1e6, "ms/plan")
}
