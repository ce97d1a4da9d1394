package canaryaction

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/deploy"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/container"
)

// deployer starts canaries from an image, or adopts a running address.
type deployer struct {
	engine *container.Engine // nil when no image is deployed
	spec   deploy.Spec
}

func (d *deployer) Up(ctx context.Context, slot string) (state.Release, error) {
	s := d.spec
	s.Slot = slot
	inst, err := deploy.Up(ctx, d.engine, s)
	if err != nil {
		return state.Release{}, err
	}
	return state.Release{Version: s.Version, Slot: slot, Addr: inst.Addr, Image: s.Image, Container: inst.Container}, nil
}

func (d *deployer) Remove(ctx context.Context, r state.Release) error {
	return deploy.Remove(ctx, d.engine, r.Container)
}

func (d *deployer) Alive(ctx context.Context, r state.Release) bool {
	return deploy.Running(ctx, d.engine, r.Container)
}

// Healthy asks the release's health path directly, a few times, so one
// slow answer does not count as a broken stable.
func (d *deployer) Healthy(ctx context.Context, r state.Release) error {
	if r.Addr == "" {
		return nil
	}
	path := d.spec.HealthPath
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for i := 0; i < 3; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr+path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			err = fmt.Errorf("%s answered %s", req.URL, resp.Status)
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	return last
}
