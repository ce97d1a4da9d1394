package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// slowEngine is an Engine API proxy in front of the real socket that holds
// every create request for delay before passing it on, and passes it on
// even when the client has gone: a loaded engine that accepted a create
// and finishes it after the client gave up.
func slowEngine(t *testing.T, delay time.Duration) (*Engine, func()) {
	t.Helper()
	real := os.Getenv("DOCKER_HOST")
	if real == "" {
		real = client.DefaultDockerHost
	}
	sockPath := strings.TrimPrefix(real, "unix://")
	if !strings.HasPrefix(real, "unix://") {
		t.Skipf("DOCKER_HOST %s is not a unix socket", real)
	}
	if _, err := os.Stat(sockPath); err != nil {
		t.Skipf("no Docker socket: %v", err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sockPath)
	}}
	target, _ := url.Parse("http://docker")
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = tr
	done := make(chan struct{})
	pending := make(chan struct{}, 64)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/create") {
			proxy.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		pending <- struct{}{}
		defer func() { <-pending }()
		time.Sleep(delay)
		out, _ := http.NewRequestWithContext(context.Background(), r.Method, "http://docker"+r.URL.RequestURI(), bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l); close(done) }()
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+sock), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	// drain waits until every held create has reached the engine and
	// been answered.
	drain := func() {
		for len(pending) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		drain()
		_ = srv.Close()
		<-done
		cli.Close()
	})
	return &Engine{cli: cli}, drain
}

// Issue 14.7: a network (or container) whose create the client cancelled
// is still created by a slow engine; clean-up waits for the create and
// removes it.
func TestCleanupWaitsForCancelledCreates(t *testing.T) {
	direct, err := Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer direct.Close()
	if !direct.ImageExists(context.Background(), "gantry/busybox:latest") {
		t.Skip("gantry/busybox:latest missing: run scripts/setup.sh")
	}
	e, drain := slowEngine(t, 400*time.Millisecond)
	runID := fmt.Sprintf("inflight-%d", time.Now().UnixNano())
	defer func() {
		drain()
		_ = direct.Cleanup(context.Background(), runID)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	if _, err := e.CreateNetwork(ctx, runID, "j", "gantry-"+runID); err == nil {
		t.Error("a cancelled network create reported success")
	}
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	if _, err := e.Start(ctx, Spec{RunID: runID, Job: "j", Name: "gantry-" + runID + "-c", Image: "gantry/busybox:latest", KeepAlive: true}); err == nil {
		t.Error("a cancelled container create reported success")
	}
	cancel()
	if err := e.Cleanup(context.Background(), runID); err != nil {
		t.Fatal(err)
	}
	drain() // whatever the engine still makes, it has made now
	left, err := direct.Leftovers(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left after clean-up: %v", left)
	}
}
