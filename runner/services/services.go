// Package services runs the runtime services a GitHub job expects next to
// it, for one `gantry run`: the cache (v2 Twirp and legacy APIs) and the v4
// artifact service, on one HTTP server, and hands out the environment
// (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL, ACTIONS_CACHE_URL, ...) that
// points steps at it: host steps at 127.0.0.1, job containers and docker
// actions at an address of this machine that containers reach.
package services

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/runner/services/artifact"
	"github.com/gantry-ci/gantry/runner/services/auth"
	"github.com/gantry-ci/gantry/runner/services/cache"
)

// Config says what to serve for a run.
type Config struct {
	RunID string
	// Repo is owner/name: caches are kept per repository.
	Repo string
	// Scopes are the refs whose caches the run restores, the current ref
	// first (the one it saves to), then the base and default branches.
	Scopes []string
	// CacheDir is the cache store (shared by runs); CacheMaxBytes its limit.
	CacheDir      string
	CacheMaxBytes int64
	// ArtifactDir is the run's artifact folder.
	ArtifactDir      string
	ArtifactMaxBytes int64
	// ContainerHost is an address of this machine that containers reach
	// (the Docker bridge's gateway); empty when no containers run.
	ContainerHost string
	// Log receives what the user should know that no client shows (a
	// corrupted cache entry dropped); nowhere when nil.
	Log func(msg string)
}

// Services are the running services of one run.
type Services struct {
	// Env is for processes on the host; ContainerEnv for processes in
	// containers (the same keys, with the container-reachable address).
	Env, ContainerEnv map[string]string
	// Token is the run's ACTIONS_RUNTIME_TOKEN (mask it).
	Token     string
	Cache     *cache.Store
	Artifacts *artifact.Service

	srv       *http.Server
	listeners []net.Listener
	done      chan struct{}
}

// DefaultCacheDir is the cache store under the user's cache folder.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the user cache folder for the Actions cache: %w", err)
	}
	return filepath.Join(d, "gantry", "cache"), nil
}

// uuidOf makes a stable UUID-shaped id, the form GitHub's backend ids have.
func uuidOf(s string) string {
	h := sha256.Sum256([]byte(s))
	x := fmt.Sprintf("%x", h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// Start starts the services and their HTTP server.
func Start(ctx context.Context, cfg Config) (*Services, error) {
	if len(cfg.Scopes) == 0 || cfg.Scopes[0] == "" {
		return nil, errors.New("services: the run's ref (cache scope) is unknown")
	}
	if cfg.CacheDir == "" {
		d, err := DefaultCacheDir()
		if err != nil {
			return nil, err
		}
		cfg.CacheDir = d
	}
	is, err := auth.NewIssuer()
	if err != nil {
		return nil, err
	}
	store, err := cache.Open(cfg.CacheDir, cfg.CacheMaxBytes)
	if err != nil {
		return nil, err
	}
	if cfg.Log != nil {
		store.OnCorrupt = func(e cache.Entry, err error) {
			cfg.Log(fmt.Sprintf("cache entry %q (%s) is corrupted and was dropped: %v", e.Key, e.Scope, err))
		}
	}
	runBackend := uuidOf("run:" + cfg.Repo + ":" + cfg.RunID)
	jobBackend := uuidOf("job:" + cfg.Repo + ":" + cfg.RunID)
	token, err := is.Token(runBackend, jobBackend, "", 72*time.Hour)
	if err != nil {
		store.Close()
		return nil, err
	}
	s := &Services{Token: token, Cache: store, done: make(chan struct{})}
	s.Artifacts = &artifact.Service{Auth: is, Dir: cfg.ArtifactDir, RunBackendID: runBackend, MaxBytes: cfg.ArtifactMaxBytes}
	mux := http.NewServeMux()
	(&cache.Service{Store: store, Auth: is, Repo: cfg.Repo, Scopes: dedupe(cfg.Scopes), Log: cfg.Log}).Register(mux)
	s.Artifacts.Register(mux)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("services: listen on 127.0.0.1: %w", err)
	}
	s.listeners = append(s.listeners, ln)
	s.Env = s.env("http://" + ln.Addr().String() + "/")
	if cfg.ContainerHost != "" {
		cln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.ContainerHost, "0"))
		if err != nil {
			ln.Close()
			store.Close()
			return nil, fmt.Errorf("services: listen on %s for job containers: %w", cfg.ContainerHost, err)
		}
		s.listeners = append(s.listeners, cln)
		s.ContainerEnv = s.env("http://" + cln.Addr().String() + "/")
	}
	for _, l := range s.listeners {
		go func(l net.Listener) { _ = s.srv.Serve(l) }(l)
	}
	return s, nil
}

func (s *Services) env(url string) map[string]string {
	return map[string]string{
		"ACTIONS_RUNTIME_TOKEN":    s.Token,
		"ACTIONS_RESULTS_URL":      url,
		"ACTIONS_CACHE_URL":        url,
		"ACTIONS_CACHE_SERVICE_V2": "True",
	}
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Close stops the server and drops unfinished uploads.
func (s *Services) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	s.Artifacts.Close()
	s.Cache.Close()
	return err
}

// LocalAddressIn returns this machine's address inside one of the subnets
// (CIDRs) given, e.g. the Docker bridge's gateway, or "" when it has none.
func LocalAddressIn(subnets []string) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, sn := range subnets {
		_, want, err := net.ParseCIDR(strings.TrimSpace(sn))
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && want.Contains(ipn.IP) {
				return ipn.IP.String()
			}
		}
	}
	return ""
}
