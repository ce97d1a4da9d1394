package dockerbackend

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	dcontainer "github.com/docker/docker/api/types/container"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// BenchmarkContainerJobOverhead compares a one-step container job run by the
// engine with creating, starting, waiting for and removing a bare container
// of the same image through the Engine API, both in this run (target: under
// 1.3x).
func BenchmarkContainerJobOverhead(b *testing.B) {
	e := connect(b)
	cli := e.Client()
	ctx := context.Background()
	const image = "gantry/busybox:latest"
	dir := b.TempDir()
	path := filepath.Join(dir, "w.yml")
	src := "on: push\njobs:\n  j:\n    runs-on: bench\n    container: " + image + "\n    steps:\n      - run: 'true'\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	wf, err := workflow.ParseFile(path)
	if err != nil {
		b.Fatal(err)
	}
	backend := New(e)
	var bare, job time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := cli.ContainerCreate(ctx, &dcontainer.Config{Image: image, Cmd: []string{"sh", "-c", "true"}}, nil, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := cli.ContainerStart(ctx, resp.ID, dcontainer.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		waitC, errC := cli.ContainerWait(ctx, resp.ID, dcontainer.WaitConditionNotRunning)
		select {
		case <-waitC:
		case err := <-errC:
			b.Fatal(err)
		}
		if err := cli.ContainerRemove(ctx, resp.ID, dcontainer.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		bare += time.Since(start)

		start = time.Now()
		res, err := scheduler.Run(ctx, wf, scheduler.Options{RepoDir: dir, Bind: true, Out: io.Discard, WorkRoot: b.TempDir(),
			Payload: map[string]any{"ref": "refs/heads/main"}, Containers: backend, Platforms: map[string]string{"bench": image}})
		if err != nil || !res.Success {
			b.Fatalf("run: %v", err)
		}
		job += time.Since(start)
	}
	b.ReportMetric(float64(job)/float64(bare), "x-bare-container")
	b.ReportMetric(float64(bare)/float64(b.N)/1e6, "ms-bare")
	b.ReportMetric(float64(job)/float64(b.N)/1e6, "ms-job")
}
