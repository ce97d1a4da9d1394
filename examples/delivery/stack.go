package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/gantry-ci/gantry/internal/container"
)

// Options shape a stack.
type Options struct {
	Repo      string    // the Gantry repository (source of the workflow, actions and shop)
	Workspace string    // where the pipeline's workspace is made (a copy of what it needs)
	Name      string    // the rollout's name; also names the canary containers
	Log       io.Writer // the stack's progress lines; io.Discard when nil
	// Workers and Pause shape the traffic through HAProxy.
	Workers int
	Pause   time.Duration
}

// Stack is production on loopback. Paths are inside Workspace so the
// actions' containers see them through the bound workspace.
type Stack struct {
	Opts        Options
	Dir         string // Workspace/.gantry/stack: configs, sockets, state, logs
	Front       string // http://127.0.0.1:PORT/ (HAProxy)
	Socket      string // HAProxy's runtime API, relative to the workspace
	Exporter    string // HAProxy's Prometheus exporter host:port
	Prometheus  string // http://127.0.0.1:PORT
	Pushgateway string
	Registry    string // 127.0.0.1:PORT
	Grafana     string
	// GrafanaToken is the secret the pipeline's Grafana records need.
	GrafanaToken string
	Stable       string // host:port of the stable shop process
	StableVer    string

	engine  *container.Engine
	procs   []*exec.Cmd
	exited  map[string]chan struct{} // closed when the named process ends
	servers []*http.Server
	grafana *grafanaAPI
	load    *load
	logs    []*os.File
}

func (s *Stack) logf(format string, args ...any) {
	if s.Opts.Log != nil {
		fmt.Fprintf(s.Opts.Log, format+"\n", args...)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	p, err := freePort()
	return fmt.Sprintf("127.0.0.1:%d", p), err
}

// Need says which Debian packages of the stack are missing.
func Need() error {
	var missing []string
	for bin, pkg := range map[string]string{"haproxy": "haproxy", "prometheus": "prometheus",
		"prometheus-pushgateway": "prometheus-pushgateway", "docker-registry": "docker-registry"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the production stack needs Debian's %s: run scripts/setup.sh (apt-get install %s)",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	return nil
}

// Start prepares the workspace and starts the stack with version v1 of the
// shop serving. On error everything started is stopped again.
func Start(ctx context.Context, e *container.Engine, opts Options) (_ *Stack, err error) {
	if err := Need(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = "shop"
	}
	if opts.Workers == 0 {
		opts.Workers = 4
	}
	if opts.Pause == 0 {
		opts.Pause = 20 * time.Millisecond
	}
	s := &Stack{Opts: opts, engine: e, Dir: filepath.Join(opts.Workspace, ".gantry", "stack"), StableVer: "v1"}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := prepareWorkspace(ctx, opts.Repo, opts.Workspace); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	// The production flags file starts as the repository's.
	if err := copyFile(filepath.Join(opts.Workspace, "examples/shop/flags/flags.json"), filepath.Join(s.Dir, "flags.json")); err != nil {
		return nil, err
	}
	steps := []func(context.Context) error{s.startStable, s.startHAProxy, s.startRegistry, s.startPushgateway, s.startGrafana, s.startPrometheus}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	s.load = startLoad(s.Front, opts.Workers, opts.Pause)
	// Two scrapes of HAProxy's counters before any analysis window opens.
	if err := s.waitQuery(ctx, `count_over_time(haproxy_server_http_responses_total{proxy="app",server="blue",code="2xx"}[30s]) >= 2`, time.Minute); err != nil {
		return nil, err
	}
	return s, nil
}

// start runs a command of the stack in its own process group, logging to
// Dir/NAME.log.
func (s *Stack) start(name string, argv ...string) error {
	f, err := os.Create(filepath.Join(s.Dir, name+".log"))
	if err != nil {
		return err
	}
	s.logs = append(s.logs, f)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	s.procs = append(s.procs, cmd)
	done := make(chan struct{})
	if s.exited == nil {
		s.exited = map[string]chan struct{}{}
	}
	s.exited[name] = done
	go func() { _ = cmd.Wait(); close(done) }()
	return nil
}

func (s *Stack) waitHTTP(ctx context.Context, name, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited[name]:
			// Gone: whatever answers on its port is not ours (ports are
			// picked free, but another program may take one first).
			data, _ := os.ReadFile(filepath.Join(s.Dir, name+".log"))
			return fmt.Errorf("%s exited; its log:\n%s", name, tail(string(data), 15))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				// Still running after answering: the answer was its own.
				select {
				case <-s.exited[name]:
					continue
				case <-time.After(200 * time.Millisecond):
				}
				return nil
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			data, _ := os.ReadFile(filepath.Join(s.Dir, name+".log"))
			return fmt.Errorf("%s did not answer %s within a minute (%v); its log:\n%s", name, url, err, tail(string(data), 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *Stack) startStable(ctx context.Context) error {
	bin := filepath.Join(s.Dir, "shop-"+s.StableVer)
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version="+s.StableVer, "-o", bin, ".")
	build.Dir = filepath.Join(s.Opts.Workspace, "examples", "shop")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the stable shop: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.Stable = addr
	if err := s.start("shop-"+s.StableVer, "env", "LISTEN="+addr, "FLAGS_FILE="+filepath.Join(s.Dir, "flags.json"), bin); err != nil {
		return err
	}
	s.logf("stack: shop %s (stable) on %s", s.StableVer, addr)
	return s.waitHTTP(ctx, "shop-"+s.StableVer, "http://"+addr+"/healthz")
}

func (s *Stack) startHAProxy(ctx context.Context) error {
	front, err := freeAddr()
	if err != nil {
		return err
	}
	if s.Exporter, err = freeAddr(); err != nil {
		return err
	}
	s.Front = "http://" + front + "/"
	s.Socket = ".gantry/stack/haproxy.sock"
	cfg := fmt.Sprintf(`global
  stats socket %s mode 666 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind %s
  default_backend app
frontend metrics
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
backend app
  balance roundrobin
  server blue %s weight 100
  server green 127.0.0.1:9 weight 0
`, filepath.Join(s.Opts.Workspace, s.Socket), front, s.Exporter, s.Stable)
	path := filepath.Join(s.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := s.start("haproxy", "haproxy", "-f", path, "-db"); err != nil {
		return err
	}
	s.logf("stack: HAProxy on %s (backend app: blue=%s, green idle), exporter %s", s.Front, s.Stable, s.Exporter)
	return s.waitHTTP(ctx, "haproxy", s.Front+"healthz")
}

func (s *Stack) startRegistry(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.Registry = addr
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(s.Dir, "registry"), addr)
	path := filepath.Join(s.Dir, "registry.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := s.start("registry", "docker-registry", "serve", path); err != nil {
		return err
	}
	s.logf("stack: registry (Debian's docker-registry) on %s", addr)
	return s.waitHTTP(ctx, "registry", "http://"+addr+"/v2/")
}

func (s *Stack) startPushgateway(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.Pushgateway = "http://" + addr
	if err := s.start("pushgateway", "prometheus-pushgateway", "--web.listen-address="+addr, "--log.level=warn"); err != nil {
		return err
	}
	s.logf("stack: Pushgateway on %s", s.Pushgateway)
	return s.waitHTTP(ctx, "pushgateway", s.Pushgateway+"/-/ready")
}

func (s *Stack) startGrafana(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return err
	}
	s.GrafanaToken = hex.EncodeToString(tok)
	s.grafana = &grafanaAPI{token: s.GrafanaToken}
	srv := &http.Server{Handler: s.grafana, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	s.servers = append(s.servers, srv)
	s.Grafana = "http://" + l.Addr().String()
	s.logf("stack: Grafana annotations API on %s", s.Grafana)
	return nil
}

func (s *Stack) startPrometheus(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	s.Prometheus = "http://" + addr
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: haproxy
    static_configs: [{targets: [%q]}]
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{targets: [%q]}]
  - job_name: shop
    static_configs: [{targets: [%q], labels: {server: blue}}]
`, s.Exporter, strings.TrimPrefix(s.Pushgateway, "http://"), s.Stable)
	path := filepath.Join(s.Dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	if err := s.start("prometheus", "prometheus", "--config.file="+path, "--storage.tsdb.path="+filepath.Join(s.Dir, "prometheus"),
		"--web.listen-address="+addr, "--log.level=warn"); err != nil {
		return err
	}
	s.logf("stack: Prometheus on %s (scraping HAProxy, the Pushgateway and the stable shop every second)", s.Prometheus)
	return s.waitHTTP(ctx, "prometheus", s.Prometheus+"/-/ready")
}

// waitQuery waits until Prometheus answers query with a series.
func (s *Stack) waitQuery(ctx context.Context, query string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		v, ok, err := s.Query(ctx, query)
		if err == nil && ok && v >= 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus has no data for %s after %s (%v)", query, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Close stops the stack and removes what the pipeline left on the engine:
// the canary containers of the rollout and the images pushed to the stack's
// registry. It is safe to call twice.
func (s *Stack) Close() error {
	var errs []error
	if s.load != nil {
		s.load.Stop()
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	s.servers = nil
	for _, p := range s.procs {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
	}
	for _, done := range s.exited {
		<-done
	}
	s.exited = nil
	s.procs = nil
	for _, f := range s.logs {
		f.Close()
	}
	s.logs = nil
	if s.engine != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.engine.Cleanup(ctx, "canary-"+s.Opts.Name); err != nil {
			errs = append(errs, err)
		}
		if s.Registry != "" {
			errs = append(errs, s.removeImages(ctx))
		}
	}
	return errors.Join(errs...)
}

// removeImages removes the images tagged for this stack's registry.
func (s *Stack) removeImages(ctx context.Context) error {
	imgs, err := s.engine.Client().ImageList(ctx, image.ListOptions{})
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	var errs []error
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, s.Registry+"/") {
				if _, err := s.engine.Client().ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
					errs = append(errs, fmt.Errorf("remove image %s: %w", tag, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}
