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
	"strconv"
	"strings"
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

// startHAProxy runs Debian's haproxy on loopback with the sample config in
// testdata: slot blue serves blueAddr, slot green greenAddr.
func startHAProxy(t *testing.T, blueAddr, greenAddr string) (frontend string, h *HAProxy) {
	t.Helper()
	frontend, h, _ = startHAProxyWith(t, blueAddr, greenAddr, false)
	return frontend, h
}

// startHAProxyWith is startHAProxy with, when keepState, a server-state
// file the router writes; restart stops HAProxy and starts it again from
// the same config, as a reload's new process would.
func startHAProxyWith(t *testing.T, blueAddr, greenAddr string, keepState bool) (frontend string, h *HAProxy, restart func()) {
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
	mapFile := filepath.Join(dir, "gantry-canary.map")
	if err := os.WriteFile(mapFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stateFile := ""
	if keepState {
		stateFile = filepath.Join(dir, "gantry.state")
	}
	port := freePort(t)
	path := fillTemplate(t, "haproxy.cfg", dir, map[string]any{
		"Socket": sock, "Port": port, "MapFile": mapFile, "Blue": blueAddr, "Green": greenAddr, "StateFile": stateFile})
	var cmd *exec.Cmd
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = os.Remove(sock)
	}
	start := func() {
		cmd = exec.Command(bin, "-f", path, "-db")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(sock); err == nil {
				if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
					c.Close()
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("haproxy did not start")
	}
	start()
	t.Cleanup(stop)
	restart = func() { stop(); start() }
	h = &HAProxy{Socket: sock, Backend: "app", Stable: "blue", Canary: "green", MapFile: mapFile, StateFile: stateFile}
	return fmt.Sprintf("http://127.0.0.1:%d/", port), h, restart
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
	for _, percent := range []int{0, 10, 25, 50, 100} { // 25 is the split the brief pins down
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
	bad := &HAProxy{Socket: h.Socket, Backend: "app", Stable: "blue", Canary: "nosuch"}
	if err := bad.SetWeight(ctx, 10); err == nil {
		t.Error("an unknown server was accepted")
	}
	noBackend := &HAProxy{Socket: h.Socket, Backend: "nosuch", Stable: "blue", Canary: "green"}
	if _, err := noBackend.Weight(ctx); err == nil || !strings.Contains(err.Error(), "backend nosuch exist") {
		t.Errorf("an unknown backend: %v", err)
	}
}

// adminState reads a server's admin state bits and weight.
func adminState(t *testing.T, h *HAProxy, server string) serverState {
	t.Helper()
	all, err := h.states(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.state(all, server)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHAProxyHeaderAndCookieRoutes(t *testing.T) {
	front, h := startHAProxy(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, h, 0); err != nil {
		t.Fatal(err)
	}
	const n = 200
	if err := h.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	// Twice is harmless: the entry is replaced, not duplicated.
	if err := h.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	only(t, "header at weight 0", hits(t, front, n, header("X-Canary", "always")), "canary", n)
	only(t, "header in other case", hits(t, front, 20, header("x-canary", "ALWAYS")), "canary", 20)
	only(t, "no header", hits(t, front, n, nil), "stable", n)
	only(t, "other header value", hits(t, front, 20, header("X-Canary", "never")), "stable", 20)

	// A name chosen at run time, and a value with regex metacharacters.
	if err := h.RouteMatch(ctx, Match{Cookie: "beta_users", Value: "v1.2+rc"}); err != nil {
		t.Fatal(err)
	}
	only(t, "cookie at weight 0", hits(t, front, n, cookie("beta_users", "v1.2+rc")), "canary", n)
	only(t, "cookie with a near value", hits(t, front, 20, cookie("beta_users", "v1x2+rc")), "stable", 20)
	only(t, "header still routed", hits(t, front, 20, header("X-Canary", "always")), "canary", 20)

	if err := h.ClearMatches(ctx); err != nil {
		t.Fatal(err)
	}
	only(t, "header after clearing", hits(t, front, n, header("X-Canary", "always")), "stable", n)
	only(t, "cookie after clearing", hits(t, front, 20, cookie("beta_users", "v1.2+rc")), "stable", 20)
	if err := SetAndVerify(ctx, h, 25); err != nil {
		t.Fatal(err)
	}
	share(t, "header after clearing at 25%", hits(t, front, 400, header("X-Canary", "always")), "canary", 400, 25)

	// Routes follow the role: on the swapped router they pin the other slot.
	if err := h.Swapped().RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	only(t, "header on the swapped router", hits(t, front, 50, header("X-Canary", "always")), "stable", 50)
	if err := h.ClearMatches(ctx); err != nil {
		t.Fatal(err)
	}

	if err := h.RouteMatch(ctx, Match{Header: "X Canary", Value: "1"}); err == nil {
		t.Error("a header name with a space was accepted")
	}
	noMap := *h
	noMap.MapFile = ""
	if err := noMap.RouteMatch(ctx, Match{Header: "X-Canary", Value: "1"}); err == nil || !strings.Contains(err.Error(), "no map file") {
		t.Errorf("route without a map file: %v", err)
	}
	if err := noMap.ClearMatches(ctx); err != nil {
		t.Errorf("clearing without a map file: %v", err)
	}
	if err := (&HAProxy{Socket: h.Socket, Backend: "app", MapFile: "/nonexistent/canary.map"}).ClearMatches(ctx); err == nil || !strings.Contains(err.Error(), "clear routes") {
		t.Errorf("clearing a map haproxy does not have: %v", err)
	}
	wrongMap := *h
	wrongMap.MapFile = "/nonexistent/canary.map"
	if err := wrongMap.RouteMatch(ctx, Match{Header: "X-Canary", Value: "1"}); err == nil || !strings.Contains(err.Error(), "no map /nonexistent/canary.map loaded") {
		t.Errorf("route into a map haproxy does not have: %v", err)
	}
}

func TestHAProxyFinalizeDrainsTheLoser(t *testing.T) {
	front, h := startHAProxy(t, app(t, "stable"), app(t, "canary"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, h, 50); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}

	// Rolled back: everything on stable, even pinned requests.
	if err := h.Finalize(ctx, Stable); err != nil {
		t.Fatal(err)
	}
	only(t, "after finalizing onto stable", hits(t, front, 200, nil), "stable", 200)
	only(t, "pinned after finalizing onto stable", hits(t, front, 50, header("X-Canary", "always")), "stable", 50)
	if s := adminState(t, h, "green"); s.admin&adminForcedDrain == 0 || s.weight != 0 {
		t.Errorf("the canary is not drained at weight 0: %+v", s)
	}
	if w, err := h.Weight(ctx); err != nil || w != 0 {
		t.Errorf("weight after finalizing onto stable: %d, %v", w, err)
	}

	// A later rollout gives the drained slot weight again: it must serve.
	if err := SetAndVerify(ctx, h, 25); err != nil {
		t.Fatal(err)
	}
	if s := adminState(t, h, "green"); s.admin != 0 {
		t.Errorf("the canary is still drained after SetWeight gave it weight: %+v", s)
	}
	share(t, "25% after a drain", hits(t, front, 400, nil), "canary", 400, 25)

	// Promoted: everything on the canary, stable drained.
	if err := h.Finalize(ctx, Canary); err != nil {
		t.Fatal(err)
	}
	only(t, "after finalizing onto the canary", hits(t, front, 200, nil), "canary", 200)
	if s := adminState(t, h, "blue"); s.admin&adminForcedDrain == 0 || s.weight != 0 {
		t.Errorf("stable is not drained at weight 0: %+v", s)
	}
	if w, err := h.Weight(ctx); err != nil || w != 100 {
		t.Errorf("weight after finalizing onto the canary: %d, %v", w, err)
	}

	// A slot an operator put in maintenance is not silently taken back.
	if err := h.setState(ctx, "blue", "maint"); err != nil {
		t.Fatal(err)
	}
	if err := h.SetWeight(ctx, 50); err == nil || !strings.Contains(err.Error(), "maintenance") {
		t.Errorf("weight onto a server in maintenance: %v", err)
	}
}

func TestHAProxySwappedRoles(t *testing.T) {
	front, h := startHAProxy(t, app(t, "v1"), app(t, "v2"))
	ctx := context.Background()
	if err := SetAndVerify(ctx, h, 30); err != nil {
		t.Fatal(err)
	}
	s := h.Swapped()
	if w, err := s.Weight(ctx); err != nil || w != 70 {
		t.Errorf("swapped router reads %d%% (%v), want 70", w, err)
	}
	// v2 (green) is stable now; the canary share goes to blue, serving v1.
	if err := SetAndVerify(ctx, s, 25); err != nil {
		t.Fatal(err)
	}
	if w, err := h.Weight(ctx); err != nil || w != 75 {
		t.Errorf("original router reads %d%% (%v), want 75", w, err)
	}
	share(t, "25% to the swapped canary", hits(t, front, 400, nil), "v1", 400, 25)
	if err := s.Finalize(ctx, Stable); err != nil {
		t.Fatal(err)
	}
	only(t, "swapped router finalized onto stable", hits(t, front, 100, nil), "v2", 100)
}

func TestHAProxySetAddressMovesTheCanary(t *testing.T) {
	front, h := startHAProxy(t, app(t, "stable"), "127.0.0.1:9")
	third := app(t, "third")
	host, p, _ := net.SplitHostPort(third)
	port, _ := strconv.Atoi(p)
	ctx := context.Background()
	if err := h.SetAddress(ctx, Canary, host, port); err != nil {
		t.Fatal(err)
	}
	if s := adminState(t, h, "green"); s.addr != host || s.port != port {
		t.Errorf("green is at %s:%d", s.addr, s.port)
	}
	if err := SetAndVerify(ctx, h, 25); err != nil {
		t.Fatal(err)
	}
	share(t, "25% to the moved canary", hits(t, front, 400, nil), "third", 400, 25)
	if err := h.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	only(t, "pinned to the moved canary", hits(t, front, 50, header("X-Canary", "always")), "third", 50)

	// A host name is resolved before it reaches HAProxy.
	if err := h.SetAddress(ctx, Canary, "localhost", port); err != nil {
		t.Fatal(err)
	}
	only(t, "canary at localhost", hits(t, front, 50, header("X-Canary", "always")), "third", 50)

	if err := h.SetAddress(ctx, Canary, host, 0); err == nil {
		t.Error("port 0 was accepted")
	}
	if err := h.SetAddress(ctx, Canary, "no-such-host.invalid", port); err == nil {
		t.Error("an unresolvable host was accepted")
	}
	bad := *h
	bad.Canary = "nosuch"
	if err := bad.SetAddress(ctx, Canary, host, port); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("an unknown server: %v", err)
	}
}

// TestHAProxyStateSurvivesRestart: with a state file, the split, a drained
// server, a moved address and the header route all come back when HAProxy
// starts again from its config; without one, the config's weights return.
func TestHAProxyStateSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	stable, canary, moved := app(t, "stable"), app(t, "canary"), app(t, "moved")

	front, h, restart := startHAProxyWith(t, stable, canary, true)
	if err := h.SetWeight(ctx, 30); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(moved)
	p, _ := strconv.Atoi(port)
	if err := h.SetAddress(ctx, Canary, host, p); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteMatch(ctx, Match{Header: "X-Canary", Value: "always"}); err != nil {
		t.Fatal(err)
	}
	// Regex escapes in the key must read back the same from the file.
	if err := h.RouteMatch(ctx, Match{Cookie: "beta_users", Value: "v1.2+rc"}); err != nil {
		t.Fatal(err)
	}
	restart()
	if w, err := h.Weight(ctx); err != nil || w != 30 {
		t.Fatalf("weight after the restart: %d, %v; want 30", w, err)
	}
	share(t, "after the restart", hits(t, front, 100, nil), "moved", 100, 30)
	only(t, "routed after the restart", hits(t, front, 10, header("X-Canary", "always")), "moved", 10)
	only(t, "cookie routed after the restart", hits(t, front, 10, cookie("beta_users", "v1.2+rc")), "moved", 10)
	share(t, "near-miss cookie after the restart", hits(t, front, 100, cookie("beta_users", "v1x2+rc")), "moved", 100, 30)

	// Finalize drains the loser; that too outlives a restart.
	if err := h.Finalize(ctx, Canary); err != nil {
		t.Fatal(err)
	}
	restart()
	if s := adminState(t, h, "blue"); s.admin&adminForcedDrain == 0 {
		t.Errorf("blue is not draining after the restart: admin %#x", s.admin)
	}
	only(t, "finalized, after the restart", hits(t, front, 20, nil), "moved", 20)

	// The control: no state file, and a restart forgets the split.
	_, h2, restart2 := startHAProxyWith(t, stable, canary, false)
	if err := h2.SetWeight(ctx, 30); err != nil {
		t.Fatal(err)
	}
	restart2()
	if w, err := h2.Weight(ctx); err != nil || w != 0 {
		t.Errorf("without a state file the restart kept weight %d (%v); want the config's 0", w, err)
	}
}
