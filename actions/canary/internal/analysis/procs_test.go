package analysis

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// need finds a binary or skips naming the Debian package (under CI, where
// setup installs it, a missing binary fails the test).
func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have %s: apt-get install %s", bin, pkg)
		}
		t.Skipf("%s is not installed: apt-get install %s (Debian package %s)", bin, pkg, pkg)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a process in its own group, killed at cleanup at the latest.
type proc struct {
	cmd  *exec.Cmd
	once sync.Once
}

func (p *proc) stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Wait()
	})
}

func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{cmd: cmd}
	t.Cleanup(func() {
		p.stop()
		f.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			t.Logf("%s log:\n%s", filepath.Base(name), strings.Join(lines, "\n"))
		}
	})
	return p
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within a minute (last error %v)", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promServer is Debian's Prometheus scraping targets every second.
type promServer struct {
	URL  string
	t    *testing.T
	args []string
	p    *proc
	api  v1.API
}

func startPrometheus(t *testing.T, targets ...string) *promServer {
	t.Helper()
	bin := need(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: test\n    static_configs:\n      - targets: [%s]\n",
		strings.Join(quoteAll(targets), ", "))
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s := &promServer{URL: "http://" + addr, t: t, args: []string{bin, "--config.file=" + path,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr, "--log.level=warn"}}
	s.restart()
	c, err := api.NewClient(api.Config{Address: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	s.api = v1.NewAPI(c)
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// restart starts Prometheus (again) on the same address and storage.
func (s *promServer) restart() {
	s.t.Helper()
	s.p = start(s.t, s.args[0], s.args[1:]...)
	waitHTTP(s.t, s.URL+"/-/ready")
}

// value evaluates an instant query now; ok is false on errors and empty
// results.
func (s *promServer) value(query string) (float64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, err := s.api.Query(ctx, query, time.Now())
	if err != nil {
		return 0, false
	}
	if vec, ok := v.(model.Vector); ok && len(vec) == 1 {
		return float64(vec[0].Value), true
	}
	return 0, false
}

// waitFor polls query until its value passes ok.
func (s *promServer) waitFor(query string, ok func(float64) bool) {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v, found := s.value(query)
		if found && ok(v) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Prometheus: %s is %v (found %v) after 90s", query, v, found)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// metricsApp serves client_golang metrics for the servers "canary",
// "stable" and "twin" (which behaves exactly like stable):
//   - http_request_duration_seconds: canary answers in 0.4s, the others in 0.02s;
//   - app_queue_depth: canary 7, the others 3;
//   - app_latency_seconds: a new value each scrape cycling through base +
//     0, 0.01 ... 0.04 with base 0.3 for canary and 0.1 for the others, so
//     stable and twin give identical samples and canary is clearly higher.
func metricsApp(t *testing.T) string {
	reg := prometheus.NewRegistry()
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "request latency", Buckets: prometheus.DefBuckets}, []string{"server"})
	queue := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "app_queue_depth", Help: "queued jobs"}, []string{"server"})
	reg.MustRegister(hist, queue)
	base := map[string]float64{"canary": 0.3, "stable": 0.1, "twin": 0.1}
	for server, b := range base {
		var mu sync.Mutex
		k := 0
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "app_latency_seconds", Help: "sampled latency", ConstLabels: prometheus.Labels{"server": server}},
			func() float64 {
				mu.Lock()
				defer mu.Unlock()
				k++
				return b + 0.01*float64(k%5)
			}))
		if server == "canary" {
			queue.WithLabelValues(server).Set(7)
		} else {
			queue.WithLabelValues(server).Set(3)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				hist.WithLabelValues("canary").Observe(0.4)
				hist.WithLabelValues("stable").Observe(0.02)
				hist.WithLabelValues("twin").Observe(0.02)
			}
		}
	}()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(func() {
		close(stop)
		<-done
		srv.Close()
	})
	return srv.Listener.Addr().String()
}
