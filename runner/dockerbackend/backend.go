// Package dockerbackend runs the engine's container work (job containers,
// services, docker actions) on a Docker engine.
package dockerbackend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/hashicorp/go-multierror"
)

// ServiceTimeout bounds the wait for services to become healthy.
var ServiceTimeout = 3 * time.Minute

// Backend implements jobenv.ContainerBackend.
type Backend struct {
	e         *container.Engine
	socket    string // see SetDockerSocket
	socketSet bool
}

// New wraps a connected engine.
func New(e *container.Engine) *Backend { return &Backend{e: e} }

var _ jobenv.ContainerBackend = (*Backend)(nil)

func suffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func safe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// StartJob implements jobenv.ContainerBackend: a network for the job, its
// services (healthy before it returns) and, when an image is given, the job
// container. On failure everything it made is removed.
func (b *Backend) StartJob(ctx context.Context, spec jobenv.ContainerJobSpec) (jobenv.ContainerJob, error) {
	j := &job{b: b, runID: spec.RunID, services: map[string]any{}}
	ok := false
	defer func() {
		if !ok {
			_ = j.Close(context.WithoutCancel(ctx))
		}
	}()
	base := "gantry-" + safe(spec.RunID) + "-" + safe(spec.Job) + "-" + suffix()
	// A job network is only needed for services to be reached by name;
	// without services the network asked for (or the default bridge) saves
	// its set-up and removal.
	netName := spec.Network
	j.netName = netName
	if len(spec.Services) > 0 {
		if spec.Network != "" {
			log(spec, "The job has services, so it uses its own network instead of %s", spec.Network)
		}
		netID, err := b.e.CreateNetwork(ctx, spec.RunID, spec.Job, base)
		if err != nil {
			return nil, err
		}
		j.netID, j.netName, netName = netID, base, base
	}

	var svcs []*container.Container
	for _, s := range spec.Services {
		log(spec, "Starting service %s (%s)", s.ID, s.Image)
		cs := container.Spec{
			RunID: spec.RunID, Job: spec.Job, Name: base + "-" + safe(s.ID), Image: s.Image, Env: s.Env,
			Ports: s.Ports, Volumes: s.Volumes, Options: s.Options, Network: netName, Aliases: []string{s.ID},
			Username: s.Username, Password: s.Password,
		}
		if err := serviceOverrides(&cs, s); err != nil {
			return nil, fmt.Errorf("service %s: %w", s.ID, err)
		}
		c, err := b.e.Start(ctx, cs)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.ID, err)
		}
		j.containers = append(j.containers, c)
		svcs = append(svcs, c)
	}
	for i, c := range svcs {
		id := spec.Services[i].ID
		if err := c.WaitHealthy(ctx, ServiceTimeout); err != nil {
			return nil, fmt.Errorf("service %s: %w", id, err)
		}
		ports, err := c.Ports(ctx)
		if err != nil {
			return nil, err
		}
		pm := map[string]any{}
		for k, v := range ports {
			pm[k] = v
		}
		j.services[id] = map[string]any{"id": c.ID, "network": j.netID, "ports": pm}
		log(spec, "Service %s is ready", id)
	}

	if spec.Image == "" {
		j.host = jobenv.NewHost()
		ok = true
		return j, nil
	}
	var mounts []container.Mount
	for _, m := range spec.Mounts {
		mounts = append(mounts, container.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
		j.mounts = append(j.mounts, m)
	}
	mounts = append(mounts, b.socketMounts()...)
	log(spec, "Starting job container (%s)", spec.Image)
	c, err := b.e.Start(ctx, container.Spec{
		RunID: spec.RunID, Job: spec.Job, Name: base + "-job", Image: spec.Image, Env: spec.Env,
		Ports: spec.Ports, Volumes: spec.Volumes, Options: spec.Options, Mounts: mounts,
		Network: netName, Aliases: []string{spec.Job}, Username: spec.Username, Password: spec.Password, KeepAlive: true,
	})
	if err != nil {
		return nil, fmt.Errorf("job container: %w", err)
	}
	j.containers = append(j.containers, c)
	j.ctr = c
	j.env = spec.Env
	ok = true
	return j, nil
}

func log(spec jobenv.ContainerJobSpec, format string, args ...any) {
	if spec.Log != nil {
		spec.Log(format, args...)
	}
}

// BuildActionImage implements jobenv.ContainerBackend.
func (b *Backend) BuildActionImage(ctx context.Context, contextDir, dockerfile string, buildArgs map[string]string) (string, error) {
	return b.e.BuildImage(ctx, contextDir, dockerfile, buildArgs, "gantry-action")
}

// RunAction implements jobenv.ContainerBackend.
func (b *Backend) RunAction(ctx context.Context, spec jobenv.DockerActionSpec) (int, error) {
	mounts := b.socketMounts()
	for _, m := range spec.Mounts {
		mounts = append(mounts, container.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	cs := container.Spec{
		RunID: spec.RunID, Name: "gantry-" + safe(spec.RunID) + "-action-" + suffix(), Image: spec.Image,
		Entrypoint: spec.Entrypoint, Env: spec.Env, Mounts: mounts, WorkDir: spec.WorkDir, Network: spec.Network,
	}
	if len(spec.Args) > 0 {
		cs.Cmd = spec.Args
	}
	if err := b.e.EnsureImage(ctx, spec.Image, "", ""); err != nil {
		return -1, err
	}
	return b.e.RunOnce(ctx, cs, spec.Stdout, spec.Stderr)
}

// Cleanup implements jobenv.ContainerBackend.
func (b *Backend) Cleanup(ctx context.Context, runID string) error {
	return b.e.Cleanup(ctx, runID)
}

// job is a started job: its containers and network.
type job struct {
	b          *Backend
	runID      string
	netID      string
	netName    string
	ctr        *container.Container // nil for a host job with services
	host       jobenv.Env
	env        map[string]string
	mounts     []jobenv.Mount
	containers []*container.Container
	services   map[string]any
	once       sync.Once
	closeErr   error

	mu     sync.Mutex
	lookup map[string]string // LookPath results: each costs an exec round trip
}

func (j *job) Context() map[string]any {
	if j.ctr == nil {
		return map[string]any{"id": "", "network": j.netID}
	}
	return map[string]any{"id": j.ctr.ID, "network": j.netID}
}

func (j *job) Services() map[string]any { return j.services }

func (j *job) Network() string { return j.netName }

func (j *job) Run(ctx context.Context, p jobenv.Process) (int, error) {
	if j.ctr == nil {
		return j.host.Run(ctx, p)
	}
	// The container's own env (container.env) is below the step's.
	env := map[string]string{}
	for k, v := range j.env {
		env[k] = v
	}
	for k, v := range p.Env {
		env[k] = v
	}
	return j.ctr.Exec(ctx, p.Argv, env, p.Dir, p.Stdout, p.Stderr)
}

func (j *job) Path(hostPath string) string {
	if j.ctr == nil {
		return hostPath
	}
	best := -1
	for i, m := range j.mounts {
		if (hostPath == m.Source || strings.HasPrefix(hostPath, m.Source+"/")) && (best < 0 || len(m.Source) > len(j.mounts[best].Source)) {
			best = i
		}
	}
	if best < 0 {
		return hostPath
	}
	m := j.mounts[best]
	return path.Join(m.Target, strings.TrimPrefix(hostPath, m.Source))
}

func (j *job) LookPath(ctx context.Context, name, pathEnv string) (string, error) {
	if j.ctr == nil {
		return j.host.LookPath(ctx, name, pathEnv)
	}
	key := name + "\x00" + pathEnv
	j.mu.Lock()
	if p, ok := j.lookup[key]; ok {
		j.mu.Unlock()
		return p, nil
	}
	j.mu.Unlock()
	var out strings.Builder
	exit, err := j.ctr.Exec(ctx, []string{"sh", "-c", `command -v "$0"`, name}, map[string]string{"PATH": pathEnv}, "/", &out, io.Discard)
	if err != nil {
		return "", err
	}
	if exit != 0 || strings.TrimSpace(out.String()) == "" {
		return "", fmt.Errorf("%s not found in the job container's PATH", name)
	}
	p := strings.TrimSpace(out.String())
	j.mu.Lock()
	if j.lookup == nil {
		j.lookup = map[string]string{}
	}
	j.lookup[key] = p
	j.mu.Unlock()
	return p, nil
}

// Close removes the job's containers and network.
func (j *job) Close(ctx context.Context) error {
	j.once.Do(func() {
		var errs *multierror.Error
		for i := len(j.containers) - 1; i >= 0; i-- {
			if err := j.containers[i].Remove(ctx); err != nil {
				errs = multierror.Append(errs, err)
			}
		}
		if j.netID != "" {
			if err := j.b.e.RemoveNetwork(ctx, j.netID); err != nil {
				errs = multierror.Append(errs, err)
			}
		}
		j.closeErr = errs.ErrorOrNil()
	})
	return j.closeErr
}
