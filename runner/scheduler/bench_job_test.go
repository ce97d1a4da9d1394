package scheduler

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// benchRepo makes a repository of n files in folders of 50, plus the
// workflow, and returns its folder and the parsed workflow.
func benchRepo(b *testing.B, n int, wfText string) (string, *workflow.Workflow) {
	b.Helper()
	dir := b.TempDir()
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("pkg%03d", i/50), fmt.Sprintf("file%04d.go", i))
		if i%50 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte("package p\n\n// some source text of a typical size for a Go file in a repository\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	path := filepath.Join(dir, ".github", "workflows", "w.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(wfText), 0o644); err != nil {
		b.Fatal(err)
	}
	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		b.Fatal(err)
	}
	return dir, wf
}

func bareBash(b *testing.B, n int) time.Duration {
	b.Helper()
	start := time.Now()
	for k := 0; k < n; k++ {
		if err := exec.Command("bash", "-c", "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func benchRun(b *testing.B, wf *workflow.Workflow, opts Options) time.Duration {
	b.Helper()
	start := time.Now()
	res, err := Run(context.Background(), wf, opts)
	if err != nil || !res.Success {
		b.Fatalf("run: %v %+v", err, res)
	}
	return time.Since(start)
}

// BenchmarkHostJobFixedCost is what a one-step host job costs beyond its
// step's bare `bash -c`, with a 2,000-file repository and each job's own
// workspace: copy-on-write (the default) and, for comparison, a full copy.
// Target: under 10 ms per job with the default.
func BenchmarkHostJobFixedCost(b *testing.B) {
	const wfText = "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: 'true'\n"
	dir, wf := benchRepo(b, 2000, wfText)
	for _, tc := range []struct {
		name string
		ws   workspace.Provider
	}{
		{"overlay", defaultWorkspace(dir)},
		{"copy", workspace.Copy{Repo: dir}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opts := Options{RepoDir: dir, Workspace: tc.ws, Out: io.Discard, WorkRoot: b.TempDir(), Payload: map[string]any{"ref": "refs/heads/main"}, ToolCache: b.TempDir()}
			var job, bash time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bash += bareBash(b, 1)
				job += benchRun(b, wf, opts)
			}
			b.ReportMetric(float64(job-bash)/float64(b.N)/1e6, "ms-fixed/job")
			b.ReportMetric(float64(job)/float64(bash), "x-bash")
		})
	}
}

// BenchmarkNeeds20 runs a 20-job workflow where each job needs the one
// before (the longest chain 20 jobs can make), each job one host step,
// with the default workspaces. Target: under 0.5 s a run.
func BenchmarkNeeds20(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("on: push\njobs:\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&sb, "  j%02d:\n    runs-on: self-hosted\n", i)
		if i > 0 {
			fmt.Fprintf(&sb, "    needs: j%02d\n", i-1)
		}
		sb.WriteString("    steps:\n      - run: echo $GITHUB_JOB\n")
	}
	dir, wf := benchRepo(b, 49, sb.String())
	opts := Options{RepoDir: dir, Out: io.Discard, WorkRoot: b.TempDir(), Payload: map[string]any{"ref": "refs/heads/main"}, ToolCache: b.TempDir()}
	var run, bash time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bash += bareBash(b, 20)
		run += benchRun(b, wf, opts)
	}
	b.ReportMetric(float64(run)/float64(b.N)/1e9, "s/run")
	b.ReportMetric(float64(run)/float64(bash), "x-bash")
}

// Benchmark50Steps runs one host job of 50 `run:` steps against 50 bare
// `bash -c` runs of the same script.
func Benchmark50Steps(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n")
	for i := 0; i < 50; i++ {
		sb.WriteString("      - run: 'true'\n")
	}
	dir, wf := benchRepo(b, 49, sb.String())
	opts := Options{RepoDir: dir, Out: io.Discard, WorkRoot: b.TempDir(), Payload: map[string]any{"ref": "refs/heads/main"}, ToolCache: b.TempDir()}
	var run, bash time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bash += bareBash(b, 50)
		run += benchRun(b, wf, opts)
	}
	b.ReportMetric(float64(run)/float64(b.N)/1e6, "ms/50-steps")
	b.ReportMetric(float64(bash)/float64(b.N)/1e6, "ms/50-bash")
	b.ReportMetric(float64(run)/float64(bash), "x-bash")
}
