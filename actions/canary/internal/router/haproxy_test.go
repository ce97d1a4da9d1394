package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startHAProxy runs Debian's haproxy on loopback in front of two apps.
func startHAProxy(t *testing.T, stable, canary string) (frontend string, h *HAProxy) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must have haproxy (scripts/setup.sh installs it)")
		}
		t.Skip("haproxy is not installed")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	port := freePort(t)
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend web
  bind 127.0.0.1:%d
  default_backend app
backend app
  balance roundrobin
  server stable %s weight 100
  server canary %s weight 0
`, sock, port, stable, canary)
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/", port), &HAProxy{Socket: sock, Backend: "app", Stable: "stable", Canary: "canary"}
}

func app(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestHAProxyWeightsSplitRealTraffic(t *testing.T) {
	front, h := startHAProxy(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, percent := range []int{0, 10, 25, 50, 100} {
		if err := SetAndVerify(ctx, h, percent); err != nil {
			t.Fatal(err)
		}
		const n = 400
		canary := 0
		for i := 0; i < n; i++ {
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
		got := 100 * canary / n
		t.Logf("weight %d%%: %d of %d requests to the canary", percent, canary, n)
		if got < percent-3 || got > percent+3 {
			t.Errorf("weight %d%%: %d%% of the traffic went to the canary", percent, got)
		}
	}
	if err := h.SetWeight(ctx, 101); err == nil {
		t.Error("a weight over 100 was accepted")
	}
	bad := &HAProxy{Socket: h.Socket, Backend: "app", Stable: "stable", Canary: "nosuch"}
	if err := bad.SetWeight(ctx, 10); err == nil {
		t.Error("an unknown server was accepted")
	}
}
