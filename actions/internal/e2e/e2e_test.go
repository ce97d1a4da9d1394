package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/internal/vulndbtest"
	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func goImage() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	return "gantry/golang:" + parts[0] + "." + parts[1]
}

func copyPath(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestActionsUnderRunner runs the test and build actions as docker actions of
// a workflow, built from the root Dockerfile with local base images.
func TestActionsUnderRunner(t *testing.T) {
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	if !e.ImageExists(context.Background(), goImage()) {
		t.Skipf("image %s missing: run scripts/setup.sh", goImage())
	}
	root, _ := filepath.Abs("../../..")
	repo := t.TempDir()
	for _, p := range []string{"Dockerfile", ".dockerignore", "actions/test/action.yml", "actions/build/action.yml", "actions/scan/action.yml"} {
		copyPath(t, filepath.Join(root, p), filepath.Join(repo, p))
	}
	copyPath(t, filepath.Join(root, "actions/test/testdata/sample"), filepath.Join(repo, "sample"))
	copyPath(t, filepath.Join(root, "actions/build/testdata/hello"), filepath.Join(repo, "hello"))
	copyPath(t, filepath.Join(root, "actions/scan/testdata/bad"), filepath.Join(repo, "badscan"))
	copyPath(t, filepath.Join(root, "actions/scan/testdata/vulns/vulnapp"), filepath.Join(repo, "badscan", "vulnapp"))
	// Containers cannot download modules: vendor the vulnerable dependency
	// (from this machine's module cache), as an air-gapped repository would.
	vendor := exec.Command("go", "mod", "vendor")
	vendor.Dir = filepath.Join(repo, "badscan", "vulnapp")
	vendor.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := vendor.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v %s", err, out)
	}
	// A vulnerability database in the build context is baked into the image.
	if err := vulndbtest.Write(filepath.Join(repo, "vulndb")); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(repo, "dist", "actions")+"/", "./actions/build", "./actions/test", "./actions/scan", "./actions/scan/cmd/scan-gocode", "./actions/dispatch")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build actions: %v %s", err, out)
	}
	wfText := `
on: push
jobs:
  ci:
    runs-on: self-hosted
    steps:
      - id: tests
        uses: ./actions/test
        continue-on-error: true
        env:
          SAMPLE_FLAKY_DIR: /tmp/flaky
        with:
          working-directory: sample
          retries: 1
          coverage-threshold: 10
      - run: echo "tests outcome=${{ steps.tests.outcome }} passed=${{ steps.tests.outputs.passed }} failed=${{ steps.tests.outputs.failed }} flaky=${{ steps.tests.outputs.flaky }} coverage=${{ steps.tests.outputs.coverage }}"
      - id: build
        uses: ./actions/build
        with:
          working-directory: hello
          targets: linux/amd64
          version: v9.9.9
      - run: |
          echo "build version=${{ steps.build.outputs.version }}"
          cat hello/dist/SHA256SUMS
          ./hello/dist/linux_amd64/hello
      - id: scan
        uses: ./actions/scan
        continue-on-error: true
        with:
          path: badscan
          sarif-file: scan.sarif
      - run: |
          echo "scan outcome=${{ steps.scan.outcome }} high=${{ steps.scan.outputs.high }} medium=${{ steps.scan.outputs.medium }}"
          grep -o 'vuln/GO-2099-0001' scan.sarif | head -1
      - id: accepted
        uses: ./actions/scan
        with:
          path: badscan
          write-baseline: badscan/.gantry/baseline.json
          baseline: badscan/.gantry/baseline.json
      - run: echo "with baseline outcome=${{ steps.accepted.outcome }} new=${{ steps.accepted.outputs.new-findings }}"
`
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repo, ".github", "workflows", "ci.yml")
	if err := os.WriteFile(path, []byte(wfText), 0o644); err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := scheduler.Run(ctx, wf, scheduler.Options{
		RepoDir: repo, EventName: "push", Out: out, WorkRoot: t.TempDir(), SummaryDir: t.TempDir(),
		Payload:         map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/sample"}},
		Containers:      dockerbackend.New(e),
		ActionBuildArgs: map[string]string{"GO_IMAGE": goImage(), "RUNTIME_IMAGE": goImage(), "PREBUILT": "1"},
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !res.Success {
		t.Fatalf("run failed:\n%s", out.String())
	}
	for _, want := range []string{
		"tests outcome=failure passed=", "failed=1 flaky=1 coverage=",
		"sample/bad/bad_test.go:7: error: TestAdd: Add(2, 2) = 0, want 4",
		"build version=v9.9.9", "linux_amd64/hello", "hello_9.9.9_linux_amd64.tar.gz", "hello v9.9.9",
		"scan outcome=failure high=", "with baseline outcome=success new=0", "]   vuln/GO-2099-0001",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var anns []string
	for _, a := range res.Annotations {
		anns = append(anns, a.String())
	}
	joined := strings.Join(anns, "\n")
	if !strings.Contains(joined, "bad_test.go:7") || !strings.Contains(joined, "flaky") {
		t.Errorf("annotations: %s", joined)
	}
	summary, _ := os.ReadFile(res.SummaryPath)
	for _, want := range []string{"unit tests: ", "| example.com/sample/bad | fail |", "Build v9.9.9"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}
