package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	cerrdefs "github.com/containerd/errdefs"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// Mount binds a host path into the container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Spec describes a container to create.
type Spec struct {
	RunID      string
	Job        string
	Name       string
	Image      string
	Env        map[string]string
	Entrypoint []string
	Cmd        []string
	Ports      []string // "8080:80", "80", "127.0.0.1:5432:5432/tcp"
	Volumes    []string // "name:/path", "/host:/path", "/path"
	Options    string
	Mounts     []Mount
	Network    string
	Aliases    []string
	WorkDir    string
	Username   string
	Password   string
	// KeepAlive replaces the command with one that never exits, as GitHub
	// does for job containers (steps then run through exec).
	KeepAlive bool
}

// Container is a created and started container.
type Container struct {
	e      *Engine
	ID     string
	Name   string
	spec   Spec
	health bool // has a health check
}

// Start creates and starts a container; on any failure nothing is left behind.
func (e *Engine) Start(ctx context.Context, spec Spec) (*Container, error) {
	c, err := e.create(ctx, spec, false)
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// start starts a created container, removing it when that fails.
func (c *Container) start(ctx context.Context) error {
	if err := c.e.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		_ = c.Remove(context.WithoutCancel(ctx))
		return fmt.Errorf("start container %s (%s): %w", c.Name, c.spec.Image, err)
	}
	return nil
}

// create makes the container without starting it; attach asks for its
// stdout and stderr to be streamed to a client that attaches.
func (e *Engine) create(ctx context.Context, spec Spec, attach bool) (*Container, error) {
	opts, err := parseOptions(spec.Options)
	if err != nil {
		return nil, err
	}
	if err := e.EnsureImage(ctx, spec.Image, spec.Username, spec.Password); err != nil {
		return nil, err
	}
	cfg := &container.Config{
		Image:        spec.Image,
		Env:          append(envList(spec.Env), opts.env...),
		Labels:       labels(spec.RunID, spec.Job),
		Hostname:     opts.hostname,
		User:         opts.user,
		WorkingDir:   spec.WorkDir,
		Healthcheck:  opts.health,
		AttachStdout: attach,
		AttachStderr: attach,
	}
	for k, v := range opts.labels {
		cfg.Labels[k] = v
	}
	if opts.workdir != "" {
		cfg.WorkingDir = opts.workdir
	}
	switch {
	case spec.KeepAlive:
		cfg.Entrypoint = []string{"tail"}
		cfg.Cmd = []string{"-f", "/dev/null"}
	default:
		if len(spec.Entrypoint) > 0 {
			cfg.Entrypoint = spec.Entrypoint
		}
		if len(opts.entrypoint) > 0 {
			cfg.Entrypoint = opts.entrypoint
		}
		if spec.Cmd != nil {
			cfg.Cmd = spec.Cmd
		}
	}
	exposed, bindings, err := nat.ParsePortSpecs(spec.Ports)
	if err != nil {
		return nil, fmt.Errorf("ports %v: %w", spec.Ports, err)
	}
	// A port given alone is published on a random host port, as GitHub does.
	for p, bs := range bindings {
		for i := range bs {
			if bs[i].HostIP == "" {
				bs[i].HostIP = "127.0.0.1"
			}
		}
		bindings[p] = bs
	}
	for p := range exposed {
		if len(bindings[p]) == 0 {
			bindings[p] = []nat.PortBinding{{HostIP: "127.0.0.1"}}
		}
	}
	cfg.ExposedPorts = exposed
	host := &container.HostConfig{
		PortBindings: bindings,
		Privileged:   opts.privileged,
		ExtraHosts:   opts.addHosts,
		CapAdd:       opts.capAdd,
		ShmSize:      opts.shmSize,
		Tmpfs:        opts.tmpfs,
		Resources:    container.Resources{NanoCPUs: opts.cpus, Memory: opts.memory},
	}
	for _, m := range spec.Mounts {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, v := range spec.Volumes {
		mt, err := volumeMount(v, spec.RunID, spec.Job)
		if err != nil {
			return nil, err
		}
		host.Mounts = append(host.Mounts, mt)
	}
	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		// Docker refuses aliases outside user-defined networks.
		if host.NetworkMode.IsUserDefined() {
			netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				spec.Network: {Aliases: append(append([]string{}, spec.Aliases...), opts.aliases...)},
			}}
		}
	}
	var resp container.CreateResponse
	cancelled, err := e.creating(ctx, func(ctx context.Context) error {
		resp, err = e.cli.ContainerCreate(ctx, cfg, host, netCfg, nil, spec.Name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create container %s (%s): %w", spec.Name, spec.Image, err)
	}
	c := &Container{e: e, ID: resp.ID, Name: spec.Name, spec: spec, health: opts.health != nil}
	if cancelled {
		_ = c.Remove(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create container %s: %w", spec.Name, context.Cause(ctx))
	}
	if !c.health {
		if ii, err := e.cli.ImageInspect(ctx, spec.Image); err == nil && ii.Config != nil && ii.Config.Healthcheck != nil && len(ii.Config.Healthcheck.Test) > 0 && ii.Config.Healthcheck.Test[0] != "NONE" {
			c.health = true
		}
	}
	return c, nil
}

// volumeMount turns a volumes: entry into a mount: a named volume (labelled so
// clean-up removes it), a host path, or an anonymous volume.
func volumeMount(v, runID, job string) (mount.Mount, error) {
	parts := strings.Split(v, ":")
	switch len(parts) {
	case 1:
		return mount.Mount{Type: mount.TypeVolume, Target: parts[0], VolumeOptions: &mount.VolumeOptions{Labels: labels(runID, job)}}, nil
	case 2, 3:
		ro := len(parts) == 3 && strings.Contains(parts[2], "ro")
		if strings.HasPrefix(parts[0], "/") || strings.HasPrefix(parts[0], ".") {
			return mount.Mount{Type: mount.TypeBind, Source: parts[0], Target: parts[1], ReadOnly: ro}, nil
		}
		return mount.Mount{Type: mount.TypeVolume, Source: parts[0], Target: parts[1], ReadOnly: ro, VolumeOptions: &mount.VolumeOptions{Labels: labels(runID, job)}}, nil
	}
	return mount.Mount{}, fmt.Errorf("volume %q: use NAME:/path, /host/path:/path or /path", v)
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Remove force-removes the container and its anonymous volumes.
func (c *Container) Remove(ctx context.Context) error {
	err := c.e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", c.Name, err)
	}
	return nil
}

// WaitHealthy waits until the container's health check passes (containers
// without one are ready once running). On failure the error carries the last
// lines of the container's log.
func (c *Container) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		info, err := c.e.cli.ContainerInspect(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", c.Name, err)
		}
		st := info.State
		switch {
		case st == nil:
		case !st.Running && st.Status == "exited":
			return fmt.Errorf("%s exited with code %d before it was ready:\n%s", c.Name, st.ExitCode, c.Logs(context.WithoutCancel(ctx), 30))
		case st.Health == nil || !c.health:
			if st.Running {
				return nil
			}
		case st.Health.Status == "healthy":
			return nil
		case st.Health.Status == "unhealthy":
			return fmt.Errorf("%s is unhealthy:\n%s", c.Name, c.Logs(context.WithoutCancel(ctx), 30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not healthy after %s:\n%s", c.Name, timeout, c.Logs(context.WithoutCancel(ctx), 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Logs returns the last n lines of the container's output.
func (c *Container) Logs(ctx context.Context, n int) string {
	rc, err := c.e.cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)})
	if err != nil {
		return fmt.Sprintf("(no logs: %v)", err)
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil {
		return out.String()
	}
	return strings.TrimRight(out.String(), "\n")
}

// Ports maps each exposed container port ("5432") to its host port.
func (c *Container) Ports(ctx context.Context) (map[string]string, error) {
	info, err := c.e.cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("inspect %s: %w", c.Name, err)
	}
	out := map[string]string{}
	if info.NetworkSettings == nil {
		return out, nil
	}
	for p, bs := range info.NetworkSettings.Ports {
		if len(bs) > 0 {
			out[p.Port()] = bs[0].HostPort
		}
	}
	return out, nil
}

// Exec runs argv in the container with exactly env. Cancelling ctx kills the
// exec'd process tree; the container itself keeps running.
func (c *Container) Exec(ctx context.Context, argv []string, env map[string]string, dir string, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, errors.New("exec: empty command")
	}
	resp, err := c.e.cli.ContainerExecCreate(ctx, c.ID, container.ExecOptions{
		Cmd: argv, Env: envList(env), WorkingDir: dir, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", c.Name, err)
	}
	att, err := c.e.cli.ContainerExecAttach(ctx, resp.ID, container.ExecAttachOptions{})
	if err != nil {
		return -1, fmt.Errorf("attach to exec in %s: %w", c.Name, err)
	}
	defer att.Close()
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && ctx.Err() == nil {
			return -1, fmt.Errorf("read exec output: %w", err)
		}
	case <-ctx.Done():
		c.killExec(resp.ID)
		att.Close()
		<-copied
		return -1, fmt.Errorf("cancelled: %w", context.Cause(ctx))
	}
	ins, err := c.e.cli.ContainerExecInspect(context.WithoutCancel(ctx), resp.ID)
	if err != nil {
		return -1, fmt.Errorf("inspect exec: %w", err)
	}
	return ins.ExitCode, nil
}

// killExec ends an exec'd process and its descendants. The Engine API has no
// call for it; the exec's host pid is known, so the tree is signalled from
// the host (gantry runs beside a local engine).
func (c *Container) killExec(execID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ins, err := c.e.cli.ContainerExecInspect(ctx, execID)
	if err != nil || ins.Pid == 0 {
		return
	}
	killTree(ins.Pid, 2*time.Second)
}

// RunOnce runs a container to completion (a docker action), streaming its
// output, and removes it. Cancelling ctx stops and removes it.
func (e *Engine) RunOnce(ctx context.Context, spec Spec, stdout, stderr io.Writer) (int, error) {
	c, err := e.create(ctx, spec, true)
	if err != nil {
		return -1, err
	}
	defer func() { _ = c.Remove(context.WithoutCancel(ctx)) }()
	// Attached before the start, as docker run does: following the logs
	// of a container that exits at once can miss a last line without a
	// newline, which the log driver still holds.
	hj, err := e.cli.ContainerAttach(ctx, c.ID, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		return -1, fmt.Errorf("attach to %s: %w", spec.Name, err)
	}
	defer hj.Close()
	copied := make(chan struct{})
	go func() {
		_, _ = stdcopy.StdCopy(stdout, stderr, hj.Reader)
		close(copied)
	}()
	if err := c.start(ctx); err != nil {
		return -1, err
	}
	waitC, errC := e.cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		<-copied
		if w.Error != nil {
			return -1, fmt.Errorf("wait for %s: %s", spec.Name, w.Error.Message)
		}
		return int(w.StatusCode), nil
	case err := <-errC:
		if ctx.Err() != nil {
			return -1, fmt.Errorf("cancelled: %w", context.Cause(ctx))
		}
		return -1, fmt.Errorf("wait for %s: %w", spec.Name, err)
	case <-ctx.Done():
		return -1, fmt.Errorf("cancelled: %w", context.Cause(ctx))
	}
}
