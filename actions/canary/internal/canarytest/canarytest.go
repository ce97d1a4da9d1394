// Package canarytest starts the real parts a canary rollout needs on
// loopback for tests: the demo apps, Debian's HAProxy with its Prometheus
// exporter, and Debian's Prometheus scraping them. Everything stops in
// t.Cleanup.
package canarytest

import (
	"context"

	"fmt"
	"github.com/gantry-ci/gantry/internal/container"
	"io"
	"net"
	"net/http"
	"net/url"
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
)

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Need finds a binary or skips (fails under CI, where setup installs it).
func Need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have %s (scripts/setup.sh installs Debian's %s)", bin, pkg)
		}
		t.Skipf("%s is not installed: apt-get install %s", bin, pkg)
	}
	return p
}

// Start runs a command in its own process group, killed at cleanup.
func Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		f.Close()
		if t.Failed() {
			data, _ := os.ReadFile(log)
			t.Logf("%s log:\n%s", filepath.Base(name), tail(string(data), 30))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitHTTP polls url until it answers 2xx.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within %s (last error %v)", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	buildOnce sync.Once
	demoBin   string
	buildErr  error
)

// DemoApp builds the demo app once per test binary (static, so it also
// runs in a scratch image) and returns its path.
func DemoApp(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gantry-demoapp-")
		if err != nil {
			buildErr = err
			return
		}
		demoBin = filepath.Join(dir, "demoapp")
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", demoBin, "./actions/canary/testdata/demoapp")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build demoapp: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return demoBin
}

// Cleanup removes the demo app build; call it from TestMain.
func Cleanup() {
	if demoBin != "" {
		os.RemoveAll(filepath.Dir(demoBin))
	}
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// App runs the demo app on loopback and returns host:port.
func App(t testing.TB, version string, failRate float64) string {
	t.Helper()
	bin := DemoApp(t)
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	Start(t, bin, "-listen", addr, "-version", version, "-fail-rate", fmt.Sprint(failRate))
	WaitHTTP(t, "http://"+addr+"/healthz", 30*time.Second)
	return addr
}

// HAProxy is a running haproxy with a two-slot backend.
type HAProxy struct {
	Front   string // http://127.0.0.1:port/
	Socket  string // runtime API
	Backend string
	Metrics string // host:port of the Prometheus exporter
	MapFile string // header/cookie routes
	// StateFile is the config's server-state-file, loaded at every start
	// (it need not exist).
	StateFile string
	Slots     [2]string

	t    testing.TB
	bin  string
	path string
	cmd  *exec.Cmd
}

// Restart stops haproxy and starts it again from its config, as a reload's
// new process would: runtime changes survive only through StateFile.
func (h *HAProxy) Restart() {
	h.t.Helper()
	_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	_ = h.cmd.Wait()
	_ = os.Remove(h.Socket)
	h.start()
}

func (h *HAProxy) start() {
	h.t.Helper()
	h.cmd = Start(h.t, h.bin, "-f", h.path, "-db")
	WaitHTTP(h.t, "http://"+h.Metrics+"/metrics", 30*time.Second)
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(h.Socket); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("haproxy made no socket %s", h.Socket)
}

// StartHAProxy runs haproxy: backend "app" with slots blue (serving stable)
// and green (idle, pointing at canaryAddr, which may be a placeholder).
func StartHAProxy(t testing.TB, stableAddr, canaryAddr string) *HAProxy {
	t.Helper()
	bin := Need(t, "haproxy", "haproxy")
	dir := t.TempDir()
	h := &HAProxy{Socket: filepath.Join(dir, "admin.sock"), Backend: "app", MapFile: filepath.Join(dir, "canary.map"),
		StateFile: filepath.Join(dir, "servers.state"), Slots: [2]string{"blue", "green"}, t: t, bin: bin}
	if err := os.WriteFile(h.MapFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port, mport := FreePort(t), FreePort(t)
	h.Front = fmt.Sprintf("http://127.0.0.1:%d/", port)
	h.Metrics = fmt.Sprintf("127.0.0.1:%d", mport)
	cfg := fmt.Sprintf(`global
  stats socket %s mode 600 level admin
  server-state-file %s
defaults
  mode http
  load-server-state-from-file global
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind 127.0.0.1:%d
  default_backend app
frontend metrics
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
backend app
  balance roundrobin
  http-request set-var(txn.gantry_canary) req.hdrs,map_reg(%s)
  use-server blue if { var(txn.gantry_canary) -m str blue }
  use-server green if { var(txn.gantry_canary) -m str green }
  server blue %s weight 100
  server green %s weight 0
`, h.Socket, h.StateFile, port, h.Metrics, h.MapFile, stableAddr, canaryAddr)
	h.path = filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(h.path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	h.start()
	return h
}

// StartPrometheus runs Prometheus scraping targets every second and
// returns its base URL.
func StartPrometheus(t testing.TB, targets ...string) string {
	t.Helper()
	bin := Need(t, "prometheus", "prometheus")
	dir := t.TempDir()
	var quoted []string
	for _, tg := range targets {
		quoted = append(quoted, fmt.Sprintf("%q", tg))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: canary-test
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	Start(t, bin, "--config.file="+path, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	WaitHTTP(t, "http://"+addr+"/-/ready", 60*time.Second)
	return "http://" + addr
}

// Load sends requests to url from a few workers until stop is closed and
// counts answers by the X-Version header.
type Load struct {
	mu     sync.Mutex
	counts map[string]int
	errors int
	stop   chan struct{}
	done   sync.WaitGroup
}

// StartLoad begins sending traffic; it stops at cleanup.
func StartLoad(t testing.TB, url string, workers int, pause time.Duration) *Load {
	l := &Load{counts: map[string]int{}, stop: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := 0; i < workers; i++ {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for {
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				resp, err := client.Get(url)
				l.mu.Lock()
				if err != nil {
					l.errors++
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					l.counts[resp.Header.Get("X-Version")]++
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.Stop)
	return l
}

// Stop ends the load (safe to call twice).
func (l *Load) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.done.Wait()
}

// Split sends n sequential requests and returns the share (0-100) answered
// by version.
func Split(url, version string, n int) (float64, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	hits := 0
	for i := 0; i < n; i++ {
		resp, err := client.Get(url)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Version") == version {
			hits++
		}
	}
	return 100 * float64(hits) / float64(n), nil
}

// Counts returns how many answers each version gave so far.
func (l *Load) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.counts))
	for k, v := range l.counts {
		out[k] = v
	}
	return out
}

// Engine connects to Docker or skips (fails under CI).
func Engine(t testing.TB) *container.Engine {
	t.Helper()
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine (scripts/setup.sh): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// DemoImage builds a scratch image holding the demo app (listening on
// :8080, version and failure rate from VERSION and FAIL_RATE).
func DemoImage(t testing.TB, e *container.Engine) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(DemoApp(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demoapp"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	df := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM scratch\nCOPY demoapp /demoapp\nEXPOSE 8080\nENTRYPOINT [\"/demoapp\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, err := e.BuildImage(context.Background(), dir, df, nil, "gantry-canary-demo")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// Leftovers fails the test if containers of the rollout are still there.
func Leftovers(t testing.TB, e *container.Engine, runID string) {
	t.Helper()
	left, err := e.Leftovers(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// WaitSeries waits until Prometheus answers query with at least one
// series, e.g. until it has scraped a target twice.
func WaitSeries(t testing.TB, prom, query string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"metric"`) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus at %s has no data for %s after %s", prom, query, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Nginx is a running nginx whose upstream file the canary router renders.
type Nginx struct {
	Front        string
	UpstreamFile string
	PidFile      string
	Args         string // -p DIR -c FILE, for the action's nginx-args
}

// StartNginx runs nginx in front of stable, including the upstream file
// (rendered with the stable alone by render) and proxying to $gantry_app.
func StartNginx(t testing.TB, render func() string) *Nginx {
	t.Helper()
	bin := Need(t, "nginx", "nginx-light")
	dir := t.TempDir()
	n := &Nginx{UpstreamFile: filepath.Join(dir, "upstream.conf"), PidFile: filepath.Join(dir, "nginx.pid")}
	if err := os.WriteFile(n.UpstreamFile, []byte(render()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	n.Front = fmt.Sprintf("http://127.0.0.1:%d/", port)
	conf := filepath.Join(dir, "nginx.conf")
	cfg := fmt.Sprintf(`worker_processes 1;
pid %s;
error_log %s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %s/tmp;
  proxy_temp_path %s/tmp;
  include %s;
  server {
    listen 127.0.0.1:%d;
    location / { proxy_pass http://$gantry_app; }
  }
}
`, n.PidFile, dir, dir, dir, n.UpstreamFile, port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	n.Args = "-p " + dir + " -c " + conf
	Start(t, bin, "-p", dir, "-c", conf, "-g", "daemon off;")
	WaitHTTP(t, n.Front, 30*time.Second)
	return n
}

const pgBin = "/usr/lib/postgresql/15/bin"

// StartPostgres runs a throwaway PostgreSQL 15 cluster on loopback (as the
// postgres user when the tests run as root, since it refuses root) and
// returns a URL to its database.
func StartPostgres(t testing.TB) string {
	t.Helper()
	for _, b := range []string{"initdb", "postgres", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI must have PostgreSQL 15 (scripts/setup.sh installs postgresql)")
			}
			t.Skipf("PostgreSQL 15 is not installed: apt-get install postgresql-15")
		}
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root with no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "gantry-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	initdb := exec.Command(filepath.Join(pgBin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "gantry", "--auth=trust", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := FreePort(t)
	pg := exec.Command(filepath.Join(pgBin, "postgres"), "-D", filepath.Join(dir, "data"), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir, "-F")
	pg.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-pg.Process.Pid, syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = pg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-pg.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(time.Minute)
	for exec.Command(filepath.Join(pgBin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("PostgreSQL did not accept connections within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Sprintf("postgres://gantry@127.0.0.1:%d/postgres?sslmode=disable", port)
}
