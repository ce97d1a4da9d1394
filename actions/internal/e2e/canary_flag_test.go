package e2e

import (
	"bytes"
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

// TestCanaryThenFlagUnderRunner: a rollout paused at 25% by an earlier run
// is promoted by the canary action running as a docker action under our
// runner (HAProxy's runtime socket and the state file live in the
// workspace), and the next step flips a flag to 10% only because the canary
// was promoted.
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

	// The earlier run, on the host: 25% to v2, then a manual pause.
	state := filepath.Join(repo, ".gantry", "shop.json")
	deploy := exec.Command(filepath.Join(repo, "dist", "actions", "canary"))
	deploy.Env = append(os.Environ(), "INPUT_VERSION=v2", "INPUT_NAME=shop", "INPUT_CANARY-ADDRESS="+canary,
		"INPUT_STABLE-ADDRESS="+stable, "INPUT_HAPROXY-SOCKET="+sock, "INPUT_HAPROXY-BACKEND=app",
		"INPUT_STEPS=25,pause,100", "INPUT_INTERVAL=1s", "INPUT_STATE-FILE="+state)
	if out, err := deploy.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("paused at 25%")) {
		t.Fatalf("deploy on the host: %v\n%s", err, out)
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
	path := filepath.Join(repo, ".github", "workflows", "release.yml")
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
		RepoDir: repo, Bind: true, EventName: "push", Out: out, WorkRoot: t.TempDir(),
		Payload:         map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/shop"}},
		Containers:      dockerbackend.New(e),
		ActionBuildArgs: map[string]string{"GO_IMAGE": goImage(), "RUNTIME_IMAGE": goImage(), "PREBUILT": "1"},
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !res.Success {
		t.Fatalf("run failed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "flag changed=true canary=promoted") {
		t.Errorf("log:\n%s", out.String())
	}
	// All traffic on v2 now, through the real HAProxy.
	for i := 0; i < 20; i++ {
		resp, err := http.Get(front)
		if err != nil {
			t.Fatal(err)
		}
		v := resp.Header.Get("X-Version")
		resp.Body.Close()
		if v != "v2" {
			t.Fatalf("request %d reached %s after the promotion", i, v)
		}
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
