// Package deploy brings the canary up before it gets any traffic: either an
// address that already serves it, or an image the action starts through the
// Docker Engine API and health-checks.
package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dockercontainer "github.com/docker/docker/api/types/container"
	"github.com/gantry-ci/gantry/internal/container"
)

// Spec says how to run the canary.
type Spec struct {
	Name    string // rollout name, part of container names and labels
	Slot    string // router slot the canary goes into
	Version string
	// Address of an already running canary (host:port); Image is then empty.
	Address string
	// Image to start; Port is the port it listens on inside the container.
	Image   string
	Port    int
	Env     map[string]string
	Network string // Docker network to join (default bridge)
	// HealthPath is requested until it answers 2xx before traffic is sent.
	HealthPath    string
	HealthTimeout time.Duration
}

// Instance is a running canary.
type Instance struct {
	Addr      string // host:port the router should use
	Container string // container ID when started here
}

// RunID labels the containers of one rollout so they can be found and
// removed later, even by another workflow run.
func RunID(name string) string { return "canary-" + name }

// Up makes the canary ready. On failure nothing it started is left running.
func Up(ctx context.Context, e *container.Engine, s Spec) (Instance, error) {
	if s.HealthTimeout <= 0 {
		s.HealthTimeout = 2 * time.Minute
	}
	if s.Address != "" {
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			return Instance{}, fmt.Errorf("canary address %q: use host:port", s.Address)
		}
		if err := waitHTTP(ctx, s.Address, s.HealthPath, s.HealthTimeout); err != nil {
			return Instance{}, err
		}
		return Instance{Addr: s.Address}, nil
	}
	if e == nil {
		return Instance{}, errors.New("starting a canary image needs the Docker engine: mount /var/run/docker.sock or give canary-address")
	}
	if s.Port <= 0 {
		return Instance{}, fmt.Errorf("canary image %s: give the port it listens on (canary-port)", s.Image)
	}
	c, err := e.Start(ctx, container.Spec{
		RunID:   RunID(s.Name),
		Job:     s.Slot,
		Name:    ContainerName(s.Name, s.Slot, s.Version),
		Image:   s.Image,
		Env:     s.Env,
		Ports:   []string{fmt.Sprintf("127.0.0.1::%d", s.Port)},
		Network: s.Network,
	})
	if err != nil {
		return Instance{}, fmt.Errorf("start canary %s: %w", s.Image, err)
	}
	fail := func(err error) (Instance, error) {
		_ = c.Remove(context.WithoutCancel(ctx))
		return Instance{}, err
	}
	if err := c.WaitHealthy(ctx, s.HealthTimeout); err != nil {
		return fail(fmt.Errorf("canary %s did not become healthy: %w", s.Image, err))
	}
	ports, err := c.Ports(ctx)
	if err != nil {
		return fail(err)
	}
	hostPort := ports[fmt.Sprint(s.Port)]
	if hostPort == "" {
		return fail(fmt.Errorf("canary %s: port %d is not published", s.Image, s.Port))
	}
	addr := net.JoinHostPort("127.0.0.1", hostPort)
	if err := waitHTTP(ctx, addr, s.HealthPath, s.HealthTimeout); err != nil {
		return fail(fmt.Errorf("%w\ncontainer log:\n%s", err, c.Logs(context.WithoutCancel(ctx), 20)))
	}
	return Instance{Addr: addr, Container: c.ID}, nil
}

// Remove stops and removes a container the action started.
func Remove(ctx context.Context, e *container.Engine, id string) error {
	if id == "" || e == nil {
		return nil
	}
	err := e.Client().ContainerRemove(ctx, id, removeOptions())
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove canary container %s: %w", short(id), err)
	}
	return nil
}

// Running reports whether a container the action started still runs.
func Running(ctx context.Context, e *container.Engine, id string) bool {
	if id == "" || e == nil {
		return false
	}
	info, err := e.Client().ContainerInspect(ctx, id)
	return err == nil && info.State != nil && info.State.Running
}

// ContainerName is stable per rollout, slot and version so a resumed run
// finds the container it started before it was killed.
func ContainerName(name, slot, version string) string {
	h := sha256.Sum256([]byte(version))
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, name+"-"+slot)
	return "gantry-canary-" + clean + "-" + hex.EncodeToString(h[:4])
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// waitHTTP polls the health path until it answers 2xx or the deadline passes.
func waitHTTP(ctx context.Context, addr, path string, timeout time.Duration) error {
	if path == "" {
		return waitTCP(ctx, addr, timeout)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	url := "http://" + addr + path
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("canary health check %s not healthy after %s (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("canary at %s does not accept connections after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func removeOptions() dockercontainer.RemoveOptions {
	return dockercontainer.RemoveOptions{Force: true, RemoveVolumes: true}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
