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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startNginx runs Debian's nginx on loopback with the sample config in
// testdata and an upstream file rendered at 0%.
func startNginx(t *testing.T, stable, canary string) (string, *Nginx) {
	return startNginxEdited(t, stable, canary, nil)
}

// startNginxEdited is startNginx with the sample config passed through edit.
func startNginxEdited(t *testing.T, stable, canary string, edit func(string) string) (string, *Nginx) {
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
	conf := fillTemplate(t, "nginx.conf", dir, map[string]any{
		"Dir": dir, "PidFile": n.PidFile, "UpstreamFile": upstream, "Port": port})
	if edit != nil {
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(conf, []byte(edit(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
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
	for _, percent := range []int{10, 25, 50, 100, 0} {
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

func TestNginxHeaderAndCookieRoutes(t *testing.T) {
	front, n := startNginx(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, n, 0); err != nil {
		t.Fatal(err)
	}
	if err := n.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	const total = 200
	only(t, "header at weight 0", hits(t, front, total, header("X-Canary", "always")), "canary", total)
	only(t, "no header", hits(t, front, total, nil), "stable", total)
	only(t, "other header value", hits(t, front, 20, header("X-Canary", "never")), "stable", 20)

	// A value nginx would otherwise read as a regex or a keyword.
	if err := n.RouteMatch(ctx, Match{Cookie: "beta_users", Value: "~default"}); err != nil {
		t.Fatal(err)
	}
	only(t, "cookie at weight 0", hits(t, front, total, cookie("beta_users", "~default")), "canary", total)
	only(t, "cookie with another value", hits(t, front, 20, cookie("beta_users", "default")), "stable", 20)
	only(t, "header still routed", hits(t, front, 20, header("X-Canary", "always")), "canary", 20)

	// Weights leave the routes alone.
	if err := SetAndVerify(ctx, n, 25); err != nil {
		t.Fatal(err)
	}
	only(t, "header at 25%", hits(t, front, 50, header("X-Canary", "always")), "canary", 50)
	share(t, "no header at 25%", hits(t, front, total, nil), "canary", total, 25)

	if err := n.ClearMatches(ctx); err != nil {
		t.Fatal(err)
	}
	share(t, "header after clearing at 25%", hits(t, front, total, header("X-Canary", "always")), "canary", total, 25)
	if err := SetAndVerify(ctx, n, 0); err != nil {
		t.Fatal(err)
	}
	only(t, "cookie after clearing at 0%", hits(t, front, 50, cookie("beta_users", "~default")), "stable", 50)

	if err := n.RouteMatch(ctx, Match{Cookie: "beta-users", Value: "1"}); err == nil || !strings.Contains(err.Error(), "rename the cookie") {
		t.Errorf("a cookie name nginx cannot read: %v", err)
	}
}

// With the plain proxy_pass the routes would be ignored: refused, and the
// file nginx runs on stays as it was.
func TestNginxRouteNeedsTheVariable(t *testing.T) {
	front, n := startNginxEdited(t, app(t, "stable"), app(t, "canary"), func(conf string) string {
		return strings.Replace(conf, "proxy_pass http://$gantry_app;", "proxy_pass http://app;", 1)
	})
	ctx := context.Background()
	before, err := os.ReadFile(n.UpstreamFile)
	if err != nil {
		t.Fatal(err)
	}
	err = n.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"})
	if err == nil || !strings.Contains(err.Error(), "proxy_pass http://$gantry_app;") {
		t.Errorf("route without the variable in use: %v", err)
	}
	if after, _ := os.ReadFile(n.UpstreamFile); string(after) != string(before) {
		t.Errorf("the upstream file changed after a refused route:\n%s", after)
	}
	// Weights still work with the plain proxy_pass.
	if err := SetAndVerify(ctx, n, 100); err != nil {
		t.Fatal(err)
	}
	only(t, "100% with the plain proxy_pass", hits(t, front, 50, nil), "canary", 50)
}

func TestNginxFinalize(t *testing.T) {
	front, n := startNginx(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, n, 50); err != nil {
		t.Fatal(err)
	}
	if err := n.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Finalize(ctx, Stable); err != nil {
		t.Fatal(err)
	}
	only(t, "after finalizing onto stable", hits(t, front, 200, nil), "stable", 200)
	only(t, "pinned after finalizing onto stable", hits(t, front, 50, header("X-Canary", "always")), "stable", 50)
	data, _ := os.ReadFile(n.UpstreamFile)
	if !strings.Contains(string(data), "server "+n.Canary+" down;") || strings.Contains(string(data), matchComment) {
		t.Errorf("after finalizing onto stable the file is\n%s", data)
	}

	if err := SetAndVerify(ctx, n, 50); err != nil {
		t.Fatal(err)
	}
	if err := n.Finalize(ctx, Canary); err != nil {
		t.Fatal(err)
	}
	only(t, "after finalizing onto the canary", hits(t, front, 200, nil), "canary", 200)
	data, _ = os.ReadFile(n.UpstreamFile)
	if !strings.Contains(string(data), "server "+n.Stable+" down;") {
		t.Errorf("after finalizing onto the canary the file is\n%s", data)
	}
	if w, err := n.Weight(ctx); err != nil || w != 100 {
		t.Errorf("weight after finalizing onto the canary: %d, %v", w, err)
	}
}

func TestNginxSwappedRoles(t *testing.T) {
	front, n := startNginx(t, app(t, "v1"), app(t, "v2"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, n, 30); err != nil {
		t.Fatal(err)
	}
	s := n.Swapped()
	if w, err := s.Weight(ctx); err != nil || w != 70 {
		t.Errorf("swapped router reads %d%% (%v), want 70", w, err)
	}
	if err := SetAndVerify(ctx, s, 25); err != nil {
		t.Fatal(err)
	}
	if w, err := n.Weight(ctx); err != nil || w != 75 {
		t.Errorf("original router reads %d%% (%v), want 75", w, err)
	}
	share(t, "25% to the swapped canary", hits(t, front, 200, nil), "v1", 200, 25)
	if err := s.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	only(t, "pinned to the swapped canary", hits(t, front, 50, header("X-Canary", "always")), "v1", 50)
}

func TestNginxSetAddressMovesTheCanary(t *testing.T) {
	// The controller starts with no canary address, then points the slot.
	front, n := startNginx(t, app(t, "stable"), "")
	ctx := context.Background()
	if err := n.SetWeight(ctx, 10); err == nil {
		t.Error("a canary share without a canary address was accepted")
	}
	if w, err := n.Weight(ctx); err != nil || w != 0 {
		t.Errorf("weight with no canary: %d, %v", w, err)
	}
	if err := n.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err == nil {
		t.Error("a route without a canary address was accepted")
	}
	first := app(t, "first")
	host, p, _ := net.SplitHostPort(first)
	port, _ := strconv.Atoi(p)
	if err := n.SetAddress(ctx, Canary, host, port); err != nil {
		t.Fatal(err)
	}
	if n.Canary != first {
		t.Errorf("Canary is %q after SetAddress, want %q", n.Canary, first)
	}
	if err := SetAndVerify(ctx, n, 25); err != nil {
		t.Fatal(err)
	}
	if err := n.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}

	// Moving the canary keeps the weight and the route.
	third := app(t, "third")
	host, p, _ = net.SplitHostPort(third)
	port, _ = strconv.Atoi(p)
	if err := n.SetAddress(ctx, Canary, host, port); err != nil {
		t.Fatal(err)
	}
	if w, err := n.Weight(ctx); err != nil || w != 25 {
		t.Errorf("weight after moving the canary: %d, %v", w, err)
	}
	got := hits(t, front, 200, nil)
	share(t, "25% to the moved canary", got, "third", 200, 25)
	if got["first"] != 0 {
		t.Errorf("the old canary still gets traffic: %v", got)
	}
	only(t, "pinned to the moved canary", hits(t, front, 50, header("X-Canary", "always")), "third", 50)

	// An address nginx rejects leaves the running one.
	if err := n.SetAddress(ctx, Canary, "bad host", 80); err == nil || !strings.Contains(err.Error(), "old ones stay") {
		t.Errorf("bad address: %v", err)
	}
	if n.Canary != third {
		t.Errorf("Canary is %q after a rejected address, want %q", n.Canary, third)
	}
	if err := n.SetAddress(ctx, Canary, host, 70000); err == nil {
		t.Error("port 70000 was accepted")
	}
	only(t, "pinned after a rejected address", hits(t, front, 20, header("X-Canary", "always")), "third", 20)
}
