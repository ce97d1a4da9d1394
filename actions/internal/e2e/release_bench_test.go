package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/gantry-ci/gantry/internal/release"
	"github.com/gantry-ci/gantry/internal/tarball"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// BenchmarkScanStepStart measures what a job pays before and for a scan
// step: with the released image present (a job on a runner that has pulled
// it once) against building the root Dockerfile without a cache, what every
// job on github.com paid before releases pinned images. It reports both
// and their ratio.
func BenchmarkScanStepStart(b *testing.B) {
	r := newReleaseEnv(b)
	ctx := context.Background()
	repo := b.TempDir()
	const version = "v0.9.0-bench"
	res, err := release.Run(ctx, release.Options{Repo: r.root, Registry: r.registry + "/gantry-ci", Version: version,
		Platforms: []string{"linux/amd64"}, Bases: map[string]string{"git": "gantry/debian:bookworm"}, Only: []string{"scan"},
		Push: true, OutDir: repo, BuildBin: r.buildBin})
	if err != nil {
		b.Fatal(err)
	}
	img := res[0].Image
	defer r.removeImages(b, img+":"+version+"-linux-amd64", img+"@"+res[0].Digest)
	if err := os.MkdirAll(filepath.Join(repo, "site"), 0o755); err != nil {
		b.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(repo, "site", "index.html"), []byte("<p>hi</p>\n"), 0o644)
	wfText := `
on: push
jobs:
  scan:
    runs-on: self-hosted
    steps:
      - uses: ./actions/scan
        with:
          path: site
          scanners: secrets
`
	path := filepath.Join(repo, ".github", "workflows", "scan.yml")
	_ = os.MkdirAll(filepath.Dir(path), 0o755)
	_ = os.WriteFile(path, []byte(wfText), 0o644)
	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		b.Fatal(err)
	}
	var pinned, built time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out := &syncBuf{}
		rr, err := scheduler.Run(ctx, wf, scheduler.Options{RepoDir: repo, EventName: "push", Out: out, WorkRoot: b.TempDir(), SummaryDir: b.TempDir(),
			Payload: map[string]any{"ref": "refs/heads/main"}, Containers: dockerbackend.New(r.engine)})
		if err != nil || !rr.Success {
			b.Fatalf("scan job: %v\n%s", err, out.String())
		}
		pinned += time.Since(start)

		// The root Dockerfile from the source, as a job without a release
		// builds it (local base images stand in for golang:1.26-bookworm).
		start = time.Now()
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(tarball.Write(pw, r.root, tarball.Options{Skip: func(rel string, isDir bool) bool {
				return rel == ".git" || rel == "dist" || strings.HasPrefix(rel, ".gantry")
			}}))
		}()
		tag := "gantry-bench/dockerfile-build:" + version
		args := map[string]*string{"GO_IMAGE": ptr(goImage()), "RUNTIME_IMAGE": ptr(goImage())}
		resp, err := r.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{Tags: []string{tag}, Dockerfile: "Dockerfile", BuildArgs: args, NoCache: true, Remove: true, ForceRemove: true})
		if err != nil {
			b.Fatal(err)
		}
		stream, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(stream, []byte(`"errorDetail"`)) || !bytes.Contains(stream, []byte("Successfully built")) {
			if bytes.Contains(stream, []byte("proxy.golang.org")) {
				// A build container here reaches no module proxy: only the
				// pinned half can be measured on this machine.
				b.Logf("the Dockerfile build cannot download modules here; reporting the pinned image only")
				b.ReportMetric(pinned.Seconds()/float64(i+1), "s-job-pinned-image")
				return
			}
			b.Fatalf("Dockerfile build failed:\n%s", stream)
		}
		built += time.Since(start)
		r.removeImages(b, tag)
	}
	b.ReportMetric(pinned.Seconds()/float64(b.N), "s-job-pinned-image")
	b.ReportMetric(built.Seconds()/float64(b.N), "s-dockerfile-build")
	b.ReportMetric(float64(built)/float64(pinned), "x-build-over-pinned")
}

func ptr(s string) *string { return &s }
