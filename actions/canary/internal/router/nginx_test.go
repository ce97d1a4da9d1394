package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startNginx runs Debian's nginx on loopback with an included upstream file.
func startNginx(t *testing.T, stable, canary string) (string, *Nginx) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must have nginx (scripts/setup.sh installs it)")
		}
		t.Skip("nginx is not installed")
	}
	dir := t.TempDir()
	port := freePort(t)
	upstream := filepath.Join(dir, "upstream.conf")
	n := &Nginx{UpstreamFile: upstream, Upstream: "app", Stable: stable, Canary: canary, Binary: bin,
		Args: []string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf")}, PidFile: filepath.Join(dir, "nginx.pid")}
	if err := os.WriteFile(upstream, []byte(n.Render(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`worker_processes 1;
pid %s;
error_log %s/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %s/tmp;
  proxy_temp_path %s/tmp;
  include %s;
  server {
    listen 127.0.0.1:%d;
    location / { proxy_pass http://app; }
  }
}
`, n.PidFile, dir, dir, dir, upstream, port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	cmd := exec.Command(bin, append(n.Args, "-g", "daemon off;")...)
	// Its own process group, so the workers go with the master; no pipes,
	// so Wait cannot hang on a worker that still holds them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", port), n
}

func TestNginxWeightsSplitRealTraffic(t *testing.T) {
	front, n := startNginx(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, percent := range []int{10, 50, 100, 0} {
		if err := SetAndVerify(ctx, n, percent); err != nil {
			t.Fatal(err)
		}
		const total = 200
		canary := 0
		for i := 0; i < total; i++ {
			resp, err := client.Get(front)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) == "canary" {
				canary++
			}
		}
		got := 100 * canary / total
		t.Logf("weight %d%%: %d of %d requests to the canary", percent, canary, total)
		if got < percent-3 || got > percent+3 {
			t.Errorf("weight %d%%: %d%% of the traffic went to the canary", percent, got)
		}
	}
	// A configuration nginx rejects leaves the old weights in place.
	bad := *n
	bad.Canary = "not a valid address"
	if err := bad.SetWeight(ctx, 30); err == nil || !strings.Contains(err.Error(), "old ones stay") {
		t.Errorf("bad config: %v", err)
	}
	if w, err := n.Weight(ctx); err != nil || w != 0 {
		t.Errorf("after a rejected change the weight is %d (%v), want 0", w, err)
	}
}
