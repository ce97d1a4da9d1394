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

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// canaryRig is a repository with the canary and flag actions (prebuilt),
// a real HAProxy on loopback whose backend app has a stable slot "blue" and
// an empty slot "green", and its runtime socket in the workspace.
type canaryRig struct {
	e     *container.Engine
	repo  string
	front string // HAProxy's frontend URL
}

func newCanaryRig(t *testing.T, stable string) *canaryRig {
	t.Helper()
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
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(repo, "dist", "actions")+"/", "./actions/flag", "./actions/canary", "./actions/dispatch")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build actions: %v %s", err, out)
	}

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
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &canaryRig{e: e, repo: repo, front: fmt.Sprintf("http://127.0.0.1:%d/", port)}
}

// versionApp serves its version on every path (and in X-Version); status
// answers /status as JSON.
func versionApp(t *testing.T, version, status string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Version", version)
		if r.URL.Path == "/status" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"version": %q, "status": %q}`, version, status)
			return
		}
		_, _ = io.WriteString(w, version)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestCanaryThenFlagUnderRunner: under our runner, with the canary action
// in its container, one workflow run shifts 25% of real HAProxy traffic to
// the canary and pauses; a later run promotes it from the saved state, and
// its next step flips a flag to 10% only because the canary was promoted.
func TestCanaryThenFlagUnderRunner(t *testing.T) {
	stable, canary := versionApp(t, "v1", "ok"), versionApp(t, "v2", "ok")
	r := newCanaryRig(t, stable)
	e, repo, front := r.e, r.repo, r.front
	if err := os.MkdirAll(filepath.Join(repo, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "flags", "flags.json"), []byte(e2eFlags), 0o644); err != nil {
		t.Fatal(err)
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
	return runWorkflowExpect(t, e, repo, name, wfText, true)
}

// runWorkflowExpect is runWorkflow for a run that must succeed or fail.
func runWorkflowExpect(t *testing.T, e *container.Engine, repo, name, wfText string, success bool) string {
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
	res, err := scheduler.Run(ctx, wf, scheduler.Options{
		RepoDir: repo, Bind: true, EventName: "push", Out: out, WorkRoot: t.TempDir(), Network: "host",
		Payload:         map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/shop"}},
		Containers:      dockerbackend.New(e),
		ActionBuildArgs: map[string]string{"GO_IMAGE": goImage(), "RUNTIME_IMAGE": goImage(), "PREBUILT": "1"},
	})
	if err != nil {
		t.Fatalf("run %s: %v\n%s", name, err, out.String())
	}
	if res.Success != success {
		t.Fatalf("run %s: success %v, want %v:\n%s", name, res.Success, success, out.String())
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

// TestBadCanaryFailsJobUnderRunner: a canary whose status check fails is
// rolled back by the action in its container within failure-limit + 1
// intervals; the job fails, a failure() step sees rolled-back=true, and all
// traffic is back on the stable version.
func TestBadCanaryFailsJobUnderRunner(t *testing.T) {
	stable, canary := versionApp(t, "v1", "ok"), versionApp(t, "v2", "degraded")
	r := newCanaryRig(t, stable)
	wf := fmt.Sprintf(`
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
          canary-address: %[1]s
          stable-address: %[2]s
          haproxy-socket: hap.sock
          haproxy-backend: app
          steps: 20,50,100
          interval: 1s
          state-file: .gantry/shop.json
          analysis: |
            failure-limit: 1
            web:
              - name: canary-status
                url: http://%[1]s/status
                status: 200
                json-path: status
                equals: ok
      - if: failure()
        run: echo "after failure rolled-back=${{ steps.canary.outputs.rolled-back }} result=${{ steps.canary.outputs.result }} weight=${{ steps.canary.outputs.final-weight }}"
`, canary, stable)
	out := runWorkflowExpect(t, r.e, r.repo, "deploy.yml", wf, false)
	if !strings.Contains(out, "after failure rolled-back=true result=rolled-back weight=0") {
		t.Errorf("the failure() step did not see the rollback:\n%s", out)
	}
	if !strings.Contains(out, "FAIL: status = degraded") {
		t.Errorf("the log does not say what the check saw:\n%s", out)
	}
	if got := versionsOf(t, r.front, 20); got["v1"] != 20 {
		t.Errorf("after the rollback: %v", got)
	}
	var st struct{ History []json.RawMessage }
	b, err := os.ReadFile(filepath.Join(r.repo, ".gantry", "shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.History) == 0 || len(st.History) > 2 {
		t.Errorf("rolled back after %d analysed intervals, want 1..failure-limit+1 = 2:\n%s", len(st.History), out)
	}
}
