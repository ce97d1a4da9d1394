package unleash

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// unleashVersion is the newest unleash-server whose engines field accepts
// node 20 (7.6 and later need node 22).
const unleashVersion = "7.5.1"

const pgBin = "/usr/lib/postgresql/15/bin"

// recorder notes every request the provider makes; requests fail picks
// are answered 503 without reaching the server.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  func(call string) bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	call := req.Method + " " + req.URL.Path
	r.mu.Lock()
	r.calls = append(r.calls, call)
	fail := r.fail != nil && r.fail(call)
	r.mu.Unlock()
	if fail {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(`{"message":"injected failure"}`)), Request: req}, nil
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) failOn(f func(call string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// TestRealServer runs the provider against unleash-server from npm on a
// throwaway PostgreSQL 15 cluster.
func TestRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and unleash-server; skipped with -short")
	}
	base, token := startUnleash(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin := func(method, path, body string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b.String())
		}
	}
	admin("POST", "/api/admin/projects/default/features", `{"name":"checkout","type":"release"}`)

	rec := &recorder{}
	p, err := New(Config{BaseURL: base, Token: token, HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	st, err := p.Get(ctx, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.Rollout != -1 || st.Targeting != nil {
		t.Fatalf("new feature: got %+v, want disabled with no strategies", st)
	}

	on := true
	out, err := p.Set(ctx, "checkout", flagsChange(&on, nil, nil), false)
	if err != nil {
		t.Fatalf("turn on: %v", err)
	}
	if !out.Changed || !out.After.Enabled || out.After.Rollout != 100 {
		t.Fatalf("turn on: got %+v, want changed, enabled, 100%% rollout", out)
	}
	if got := mustGet(t, p, "checkout"); !got.Enabled {
		t.Fatalf("read back after turn on: %+v", got)
	}

	// Dry run: the predicted After, no mutating call, nothing changed.
	rec.take()
	dry, err := p.Set(ctx, "checkout", flagsChange(nil, &rolloutSpec{"", 20}, nil), true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if m := mutating(rec.take()); len(m) > 0 {
		t.Fatalf("dry run made mutating calls %v", m)
	}
	if !dry.Changed || dry.After.Rollout != 20 || !strings.Contains(dry.Diff, `-  "rollout": 100,`) || !strings.Contains(dry.Diff, `+  "rollout": 20,`) {
		t.Fatalf("dry run: changed=%v after=%+v diff:\n%s", dry.Changed, dry.After, dry.Diff)
	}
	if got := mustGet(t, p, "checkout"); got.Rollout != 100 {
		t.Fatalf("dry run changed the server: rollout %d", got.Rollout)
	}

	out, err = p.Set(ctx, "checkout", flagsChange(nil, &rolloutSpec{"", 20}, nil), false)
	if err != nil {
		t.Fatalf("rollout 20: %v", err)
	}
	got := mustGet(t, p, "checkout")
	if got.Rollout != 20 || !got.Enabled {
		t.Fatalf("read back after rollout 20: %+v", got)
	}
	if !jsonEqual(got, out.After) || !jsonEqual(dry.After, out.After) {
		t.Fatalf("After %+v, read back %+v, dry run predicted %+v", out.After, got, dry.After)
	}

	// The same change again is a no-op: no mutating call.
	rec.take()
	same, err := p.Set(ctx, "checkout", flagsChange(nil, &rolloutSpec{"", 20}, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if same.Changed || same.Diff != "" {
		t.Fatalf("unchanged rollout reported changed, diff:\n%s", same.Diff)
	}
	if m := mutating(rec.take()); len(m) > 0 {
		t.Fatalf("unchanged Set made mutating calls %v", m)
	}

	// A named variant for the rollout becomes the strategy's variant.
	out, err = p.Set(ctx, "checkout", flagsChange(nil, &rolloutSpec{"blue", 35}, nil), false)
	if err != nil {
		t.Fatalf("variant rollout: %v", err)
	}
	got = mustGet(t, p, "checkout")
	if got.Rollout != 35 || got.RolloutVariant != "blue" {
		t.Fatalf("read back after variant rollout: %+v", got)
	}
	if _, ok := got.Variants["blue"]; !ok {
		t.Fatalf("variant blue missing from %v", got.Variants)
	}

	// Targeting replaces the strategy list: two strategies, then one.
	two := json.RawMessage(`[
		{"name": "flexibleRollout", "parameters": {"rollout": 50, "stickiness": "default", "groupId": "checkout"},
		 "constraints": [{"contextName": "appName", "operator": "IN", "values": ["web"]}]},
		{"name": "default", "title": "everyone else"}]`)
	if _, err := p.Set(ctx, "checkout", flagsChange(nil, nil, two), false); err != nil {
		t.Fatalf("targeting: %v", err)
	}
	got = mustGet(t, p, "checkout")
	var ss []strategy
	if err := json.Unmarshal(got.Targeting, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Parameters["rollout"] != "50" || len(ss[0].Constraints) != 1 || ss[1].Name != "default" || ss[1].Title != "everyone else" || got.Rollout != 50 {
		t.Fatalf("read back after targeting: %s", got.Targeting)
	}
	rec.take()
	if out, err := p.Set(ctx, "checkout", flagsChange(nil, nil, two), false); err != nil || out.Changed {
		t.Fatalf("same targeting again: changed=%v err=%v diff:\n%s", out.Changed, err, out.Diff)
	}
	if m := mutating(rec.take()); len(m) > 0 {
		t.Fatalf("unchanged targeting made mutating calls %v", m)
	}
	if _, err := p.Set(ctx, "checkout", flagsChange(nil, nil, json.RawMessage(`[{"name":"default"}]`)), false); err != nil {
		t.Fatalf("targeting to one strategy: %v", err)
	}
	if got = mustGet(t, p, "checkout"); string(got.Targeting) != `[{"name":"default"}]` || got.Rollout != -1 {
		t.Fatalf("read back after one-strategy targeting: rollout %d, %s", got.Rollout, got.Targeting)
	}

	off := false
	if _, err := p.Set(ctx, "checkout", flagsChange(&off, nil, nil), false); err != nil {
		t.Fatalf("turn off: %v", err)
	}
	if got = mustGet(t, p, "checkout"); got.Enabled {
		t.Fatalf("still enabled after turn off: %+v", got)
	}

	// A change Unleash takes as several calls fails at the last one (the
	// switch on, after both strategies were written): the previous state
	// is put back, so the failure changes nothing.
	before := mustGet(t, p, "checkout")
	rec.failOn(func(call string) bool { return strings.HasSuffix(call, "/on") })
	_, err = p.Set(ctx, "checkout", flagsChange(&on, nil, two), false)
	rec.failOn(nil)
	checkErr(t, err, token, "503", "injected failure", "previous state was put back")
	if got = mustGet(t, p, "checkout"); !jsonEqual(got, before) {
		t.Fatalf("after a failed change: %+v, want the state before %+v", got, before)
	}
	// When putting it back fails too, the error says so and what to check.
	// Only the first write goes through: strategy 1 is replaced, adding
	// strategy 2 fails, and so does replacing strategy 1 back.
	writes := 0
	rec.failOn(func(call string) bool {
		if strings.HasPrefix(call, "GET ") {
			return false
		}
		writes++
		return writes > 1
	})
	_, err = p.Set(ctx, "checkout", flagsChange(nil, nil, two), false)
	rec.failOn(nil)
	checkErr(t, err, token, "putting the previous state back failed too", "check feature \"checkout\"")
	if _, err := p.Set(ctx, "checkout", flagsChange(nil, nil, json.RawMessage(`[{"name":"default"}]`)), false); err != nil {
		t.Fatalf("clean up by hand: %v", err)
	}

	// Errors from the real server.
	_, err = p.Get(ctx, "no-such-flag")
	checkErr(t, err, token, "not found", "no-such-flag", "project")
	bad, _ := New(Config{BaseURL: base, Token: "*:*.wrong"})
	_, err = bad.Get(ctx, "checkout")
	checkErr(t, err, token, "401")
	wrongEnv, _ := New(Config{BaseURL: base, Token: token, Environment: "staging"})
	checkErr(t, wrongEnv.Validate(ctx), token, `"staging"`, "development")
	_, err = wrongEnv.Get(ctx, "checkout")
	checkErr(t, err, token, `"staging"`, "environment input")
}

func checkErr(t *testing.T, err error, token string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	if strings.Contains(err.Error(), token) {
		t.Fatalf("error leaks the token: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func mutating(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}

// startUnleash starts PostgreSQL and unleash-server and returns the server's
// base URL and an admin token. Both stop when the test ends.
func startUnleash(t *testing.T) (string, string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the real Unleash test needs node 20+ and npm")
	}
	for _, b := range []string{"initdb", "postgres", "pg_isready", "createdb"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			t.Skipf("PostgreSQL 15 is not installed (%s missing); apt-get install postgresql-15", filepath.Join(pgBin, b))
		}
	}
	server := installUnleash(t)

	// PostgreSQL refuses to run as root: run it as the postgres user.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "gantry-unleash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	initdb := exec.CommandContext(ctx, filepath.Join(pgBin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "unleash", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pgPort := freePort(t)
	pg := startProcess(t, filepath.Join(dir, "postgres.log"), cred, nil, filepath.Join(pgBin, "postgres"),
		"-D", filepath.Join(dir, "data"), "-h", "127.0.0.1", "-p", pgPort, "-k", dir, "-F")
	// SIGINT is PostgreSQL's fast shutdown.
	t.Cleanup(func() { stopProcess(pg, syscall.SIGINT) })
	poll(t, ctx, "PostgreSQL to accept connections", filepath.Join(dir, "postgres.log"), func() bool {
		return exec.CommandContext(ctx, filepath.Join(pgBin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", pgPort).Run() == nil
	})
	if out, err := exec.CommandContext(ctx, filepath.Join(pgBin, "createdb"), "-h", "127.0.0.1", "-p", pgPort, "-U", "unleash", "unleash").CombinedOutput(); err != nil {
		t.Fatalf("createdb: %v\n%s", err, out)
	}

	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	token := "*:*." + hex.EncodeToString(secret)
	httpPort := freePort(t)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC",
		"DATABASE_URL=postgres://unleash@127.0.0.1:" + pgPort + "/unleash", "DATABASE_SSL=false",
		"HTTP_HOST=127.0.0.1", "HTTP_PORT=" + httpPort,
		"INIT_ADMIN_API_TOKENS=" + token,
		"LOG_LEVEL=warn", "CHECK_VERSION=false", "SEND_TELEMETRY=false", "SCARF_ANALYTICS=false", "DO_NOT_TRACK=1",
	}
	ul := startProcess(t, filepath.Join(dir, "unleash.log"), nil, env, node, server)
	t.Cleanup(func() { stopProcess(ul, syscall.SIGTERM) })
	base := "http://127.0.0.1:" + httpPort
	poll(t, ctx, "unleash-server /health", filepath.Join(dir, "unleash.log"), func() bool {
		if ul.ProcessState != nil {
			return false
		}
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base, token
}

// installUnleash returns the server script of unleash-server, installing it
// into a cache directory reused between runs.
func installUnleash(t *testing.T) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("no home directory for the unleash-server cache: %v", err)
	}
	cache := filepath.Join(home, ".cache", "gantry", "unleash-server")
	server := filepath.Join(cache, "node_modules", "unleash-server", "dist", "server.js")
	pkg := filepath.Join(cache, "node_modules", "unleash-server", "package.json")
	if b, err := os.ReadFile(pkg); err == nil {
		var meta struct{ Version string }
		if json.Unmarshal(b, &meta) == nil && meta.Version == unleashVersion {
			if _, err := os.Stat(server); err == nil {
				return server
			}
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed; the real Unleash test installs unleash-server with npm")
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Skipf("cannot create the unleash-server cache %s: %v", cache, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Logf("installing unleash-server@%s into %s (first run only)", unleashVersion, cache)
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-save", "unleash-server@"+unleashVersion)
	cmd.Dir = cache
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm install unleash-server@%s failed (no registry access?): %v\n%s", unleashVersion, err, tail(out))
	}
	if _, err := os.Stat(server); err != nil {
		t.Skipf("npm installed unleash-server@%s but %s is missing", unleashVersion, server)
	}
	return server
}

func startProcess(t *testing.T, logPath string, cred *syscall.Credential, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		_ = logf.Chown(int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = env
	// Own process group, so stopping it takes its children along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	waits.Store(cmd, done)
	return cmd
}

var waits sync.Map // *exec.Cmd -> chan struct{} closed when it exited

// stopProcess signals the process group, and kills it if it is still there
// after 30s.
func stopProcess(cmd *exec.Cmd, sig syscall.Signal) {
	v, _ := waits.Load(cmd)
	done := v.(chan struct{})
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	// Stragglers in the group (none expected) go too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func poll(t *testing.T, ctx context.Context, what, logPath string, ready func() bool) {
	t.Helper()
	for !ready() {
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(logPath)
			t.Fatalf("timed out waiting for %s; log:\n%s", what, tail(b))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func tail(b []byte) string {
	const n = 4000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func mustGet(t *testing.T, p *Provider, key string) flags.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := p.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return st
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return errors.Join(err1, err2) == nil && bytes.Equal(x, y)
}
