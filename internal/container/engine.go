// Package container runs job containers, services and docker actions on a
// Docker engine through its Engine API (never the docker CLI).
package container

import (
	"context"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/hashicorp/go-multierror"
)

// Labels put on everything gantry creates, so clean-up finds it.
const (
	LabelManaged = "gantry.managed"
	LabelRun     = "gantry.run"
	LabelJob     = "gantry.job"
)

// Engine is a connection to a Docker engine.
type Engine struct {
	cli    *client.Client
	flight inflight // creates still under way, which clean-up waits for
}

// Connect connects to the engine DOCKER_HOST names (or the default socket)
// and checks that it answers.
func Connect(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = client.DefaultDockerHost
		}
		cli.Close()
		return nil, fmt.Errorf("no Docker engine answers at %s (%v); start one (bash scripts/setup.sh does), set DOCKER_HOST, or run jobs on this machine with -P ubuntu-latest=host", host, err)
	}
	// Negotiate now, before the client is shared: left to the first request,
	// concurrent first requests race on the client's version fields.
	cli.NegotiateAPIVersion(pctx)
	return &Engine{cli: cli}, nil
}

// Client is the underlying Engine API client.
func (e *Engine) Client() *client.Client { return e.cli }

// Close releases the connection.
func (e *Engine) Close() error { return e.cli.Close() }

func labels(runID, job string) map[string]string {
	l := map[string]string{LabelManaged: "true", LabelRun: runID}
	if job != "" {
		l[LabelJob] = job
	}
	return l
}

// Cleanup removes every container, network and volume labelled with the run.
func (e *Engine) Cleanup(ctx context.Context, runID string) error {
	return e.cleanup(ctx, filters.NewArgs(filters.Arg("label", LabelRun+"="+runID)))
}

// CleanupAll removes everything gantry ever created on this engine.
func (e *Engine) CleanupAll(ctx context.Context) error {
	return e.cleanup(ctx, filters.NewArgs(filters.Arg("label", LabelManaged+"=true")))
}

func (e *Engine) cleanup(ctx context.Context, f filters.Args) error {
	e.flight.wait(ctx)
	var errs *multierror.Error
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		errs = multierror.Append(errs, fmt.Errorf("list containers: %w", err))
	}
	for _, c := range cs {
		if err := e.removeContainer(ctx, c.ID); err != nil {
			errs = multierror.Append(errs, fmt.Errorf("remove container %s: %w", c.ID[:12], err))
		}
	}
	nets, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		errs = multierror.Append(errs, fmt.Errorf("list networks: %w", err))
	}
	for _, n := range nets {
		if err := e.cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = multierror.Append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
		}
	}
	vols, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		errs = multierror.Append(errs, fmt.Errorf("list volumes: %w", err))
	}
	for _, v := range vols.Volumes {
		if err := e.cli.VolumeRemove(ctx, v.Name, true); err != nil && !cerrdefs.IsNotFound(err) {
			errs = multierror.Append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
		}
	}
	return errs.ErrorOrNil()
}

// Leftovers lists what is still labelled with the run: for tests and for
// reporting after clean-up.
func (e *Engine) Leftovers(ctx context.Context, runID string) ([]string, error) {
	f := filters.NewArgs(filters.Arg("label", LabelRun+"="+runID))
	var out []string
	cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, "container "+c.ID[:12])
	}
	nets, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		out = append(out, "network "+n.Name)
	}
	vols, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		return nil, err
	}
	for _, v := range vols.Volumes {
		out = append(out, "volume "+v.Name)
	}
	return out, nil
}

// CreateNetwork makes a bridge network for a job, labelled with the run.
func (e *Engine) CreateNetwork(ctx context.Context, runID, job, name string) (string, error) {
	var id string
	cancelled, err := e.creating(ctx, func(ctx context.Context) error {
		resp, err := e.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: labels(runID, job)})
		id = resp.ID
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", name, err)
	}
	if cancelled {
		_ = e.RemoveNetwork(context.WithoutCancel(ctx), id)
		return "", fmt.Errorf("create network %s: %w", name, context.Cause(ctx))
	}
	return id, nil
}

// RemoveNetwork removes a network; a missing one is not an error.
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	if err := e.cli.NetworkRemove(ctx, id); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove network: %w", err)
	}
	return nil
}

// removeContainer force-removes a container. One whose removal is already
// under way (started by a process that was then killed) is waited for, so
// its volumes and network are free when clean-up gets to them.
func (e *Engine) removeContainer(ctx context.Context, id string) error {
	err := e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err == nil || cerrdefs.IsNotFound(err) {
		return nil
	}
	if !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already in progress") {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if _, ierr := e.cli.ContainerInspect(wctx, id); cerrdefs.IsNotFound(ierr) {
			return nil
		}
		select {
		case <-wctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
