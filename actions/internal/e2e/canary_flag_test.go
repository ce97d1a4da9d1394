package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// TestCanaryThenFlagUnderRunner: under our runner, with the canary action
// in its container, one workflow run shifts 25% of real HAProxy traffic to
// the canary and pauses; a later run promotes it from the saved state, and
// its next step flips a flag to 10% only because the canary was promoted.
func TestCanaryThenFlagUnderRunner(t *testing.T) {
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
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install haproxy)")
	}
	root, _ := filepath.Abs("../../..")
	repo, err := os.MkdirTemp("/tmp", "gc") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(repo) })
	for _, p := range []string{"Dockerfile", ".dockerignore", "actions/flag/action.yml", "actions/canary/action.yml"} {
		copyPath(t, filepath.Join(root, p), filepath.Join(repo, p))
	}
	if err := os.MkdirAll(filepath.Join(repo, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "flags", "flags.json"), []byte(e2eFlags), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(repo, "dist", "actions")+"/", "./actions/flag", "./actions/canary", "./actions/dispatch")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build actions: %v %s", err, out)
	}

	app := func(version string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Version", version)
			_, _ = io.WriteString(w, version)
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	stable, canary := app("v1"), app("v2")
	sock := filepath.Join(repo, "hap.sock")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := fmt.Sprintf("global\n  stats socket %s mode 666 level admin\ndefaults\n  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\nfrontend web\n  bind 127.0.0.1:%d\n  default_backend app\nbackend app\n  balance roundrobin\n  server blue %s weight 100\n  server green 127.0.0.1:9 weight 0\n", sock, port, stable)
	if err := os.WriteFile(filepath.Join(repo, "haproxy.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	hp := exec.Command(haproxy, "-f", filepath.Join(repo, "haproxy.cfg"), "-db")
	hp.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-hp.Process.Pid, syscall.SIGKILL); _ = hp.Wait() })
	front := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The first run deploys v2 from the action's container; with the
	// runner's network set to host (gantry run --network host) it reaches
	// the apps on this machine's loopback to health-check the canary.
	deployWF := fmt.Sprintf(`
on: push
jobs:
  deploy:
    runs-on: self-hosted
    steps:
      - id: canary
        uses: ./actions/canary
        with:
          version: v2
          name: shop
          canary-address: %s
          stable-address: %s
          haproxy-socket: hap.sock
          haproxy-backend: app
          steps: 25,pause,100
          interval: 1s
          state-file: .gantry/shop.json
      - run: echo "deploy result=${{ steps.canary.outputs.result }} weight=${{ steps.canary.outputs.final-weight }}"
`, canary, stable)
	out := runWorkflow(t, e, repo, "deploy.yml", deployWF)
	if !strings.Contains(out, "deploy result=paused weight=25") {
		t.Fatalf("the deploy run did not pause at 25%%:\n%s", out)
	}
	// Within 3 points of the target, as the issue asks: where the
	// round-robin starts decides between 24 and 25.
	if n := versionsOf(t, front, 100)["v2"]; n < 22 || n > 28 {
		t.Errorf("%d of 100 requests reached v2 while paused at 25%%", n)
	}

	wfText := `
on: push
jobs:
  release:
    runs-on: self-hosted
    steps:
      - id: canary
        uses: ./actions/canary
        with:
          action: promote
          name: shop
          haproxy-socket: hap.sock
          haproxy-backend: app
          state-file: .gantry/shop.json
      - id: flag
        if: steps.canary.outputs.result == 'promoted'
        uses: ./actions/flag
        with:
          flag: new-checkout
          file: flags/flags.json
          state: on
          rollout: 10
          reason: canary ${{ steps.canary.outputs.result }} at ${{ steps.canary.outputs.final-weight }}%
      - run: echo "flag changed=${{ steps.flag.outputs.changed }} canary=${{ steps.canary.outputs.result }}"
`
	out = runWorkflow(t, e, repo, "release.yml", wfText)
	if !strings.Contains(out, "flag changed=true canary=promoted") {
		t.Errorf("log:\n%s", out)
	}
	// All traffic on v2 now, through the real HAProxy.
	if got := versionsOf(t, front, 20); got["v2"] != 20 {
		t.Errorf("after the promotion: %v", got)
	}
	var flags struct {
		Flags map[string]struct {
			State     string
			Targeting json.RawMessage
		}
	}
	b, _ := os.ReadFile(filepath.Join(repo, "flags", "flags.json"))
	if err := json.Unmarshal(b, &flags); err != nil {
		t.Fatal(err)
	}
	f := flags.Flags["new-checkout"]
	if f.State != "ENABLED" || !strings.Contains(strings.ReplaceAll(string(f.Targeting), " ", ""), `["on",10]`) {
		t.Errorf("flag after the canary: %+v", f)
	}
}

// runWorkflow runs one workflow of repo under our runner on the real engine,
// with docker actions on the host network, and fails the test unless it
// succeeds.
func runWorkflow(t *testing.T, e *container.Engine, repo, name, wfText string) string {
	t.Helper()
	path := filepath.Join(repo, ".github", "workflows", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
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
	res, err := engine.Run(ctx, wf, engine.Options{
		RepoDir: repo, Bind: true, EventName: "push", Out: out, WorkRoot: t.TempDir(), Network: "host",
		Payload:         map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/shop"}},
		Containers:      dockerbackend.New(e),
		ActionBuildArgs: map[string]string{"GO_IMAGE": goImage(), "RUNTIME_IMAGE": goImage(), "PREBUILT": "1"},
	})
	if err != nil {
		t.Fatalf("run %s: %v\n%s", name, err, out.String())
	}
	if !res.Success {
		t.Fatalf("run %s failed:\n%s", name, out.String())
	}
	return out.String()
}

// versionsOf counts which version answered n requests to url.
func versionsOf(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		got[resp.Header.Get("X-Version")]++
		resp.Body.Close()
	}
	return got
}
