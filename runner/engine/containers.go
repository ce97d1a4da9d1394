package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// ContainerBackend runs the parts of a workflow that need a container engine.
// The engine only knows this interface; runner/dockerbackend implements it on
// the Docker Engine API.
type ContainerBackend interface {
	// StartJob starts a job's container (or, with an empty Image, only its
	// services) and returns where the job's processes run.
	StartJob(ctx context.Context, spec ContainerJobSpec) (ContainerJob, error)
	// BuildActionImage builds the image of a Dockerfile action, cached by content.
	BuildActionImage(ctx context.Context, contextDir, dockerfile string, buildArgs map[string]string) (string, error)
	// RunAction runs a docker action to completion and returns its exit code.
	RunAction(ctx context.Context, spec DockerActionSpec) (int, error)
	// Cleanup removes everything the run made that is still there.
	Cleanup(ctx context.Context, runID string) error
}

// ContainerJobSpec describes a job's container and services.
type ContainerJobSpec struct {
	RunID    string
	Job      string
	Image    string // empty: the job runs on the host, services only
	Env      map[string]string
	Ports    []string
	Volumes  []string
	Options  string
	Username string
	Password string
	Mounts   []Mount // host directories the job needs, at fixed container paths
	Services []ServiceSpec
	Network  string // used when there are no services: see Options.Network
	Log      func(format string, args ...any)
}

// ServiceSpec is one entry of jobs.<id>.services.
type ServiceSpec struct {
	ID       string
	Image    string
	Env      map[string]string
	Ports    []string
	Volumes  []string
	Options  string
	Username string
	Password string
}

// Mount binds a host path into a container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// ContainerJob is a started job container (or a host job's services).
type ContainerJob interface {
	jobenv.Env
	// Context is the job.container value: {id, network}.
	Context() map[string]any
	// Services is job.services: id -> {id, network, ports}.
	Services() map[string]any
	// Network is the job network the job's docker actions join.
	Network() string
}

// DockerActionSpec is one run of a docker action's container.
type DockerActionSpec struct {
	RunID      string
	Image      string
	Entrypoint []string
	Args       []string
	Env        map[string]string
	Mounts     []Mount
	WorkDir    string
	Network    string
	Stdout     io.Writer
	Stderr     io.Writer
}

// Container paths GitHub's runner uses for container jobs.
const (
	ctrWork      = "/__w"
	ctrTemp      = "/__w/_temp"
	ctrToolCache = "/__t"
	ctrHome      = "/github/home"
	ctrWorkflow  = "/github/workflow"
)

func (j *jobRun) startContainers(ctx context.Context, platform string, env *expr.Env) error {
	spec := ContainerJobSpec{
		RunID:   fmt.Sprint(j.r.opts.RunID),
		Job:     j.id,
		Network: j.r.opts.Network,
		Log:     func(f string, a ...any) { j.log.Info(f, a...) },
	}
	if c := j.job.Container; c != nil {
		if err := fillContainer(&spec.Image, &spec.Env, &spec.Ports, &spec.Volumes, &spec.Options, &spec.Username, &spec.Password, c, env); err != nil {
			return fmt.Errorf("%s: container: %w", c.Pos, err)
		}
	} else if platform != "host" {
		spec.Image = platform
	}
	for _, s := range j.job.Services {
		ss := ServiceSpec{ID: s.ID}
		if err := fillContainer(&ss.Image, &ss.Env, &ss.Ports, &ss.Volumes, &ss.Options, &ss.Username, &ss.Password, &s.Container, env); err != nil {
			return fmt.Errorf("%s: services.%s: %w", s.Pos, s.ID, err)
		}
		if ss.Image == "" {
			continue // GitHub skips a service whose image evaluates to empty
		}
		spec.Services = append(spec.Services, ss)
	}
	if spec.Image != "" {
		j.inside = true
		workflowDir := filepath.Join(filepath.Dir(j.temp), "workflow")
		if err := os.MkdirAll(workflowDir, 0o755); err != nil {
			return err
		}
		if err := copyFile(j.r.eventPath, filepath.Join(workflowDir, "event.json"), 0o644); err != nil {
			return fmt.Errorf("copy event payload: %w", err)
		}
		workRoot := filepath.Dir(filepath.Dir(j.workspace))
		spec.Mounts = []Mount{
			{Source: workRoot, Target: ctrWork},
			{Source: j.temp, Target: ctrTemp},
			{Source: j.toolCache, Target: ctrToolCache},
			{Source: j.home, Target: ctrHome},
			{Source: workflowDir, Target: ctrWorkflow},
		}
		if j.r.opts.Bind {
			name := filepath.Base(j.workspace)
			spec.Mounts = append(spec.Mounts, Mount{Source: j.workspace, Target: ctrWork + "/" + name + "/" + name})
		}
	}
	cj, err := j.r.opts.Containers.StartJob(ctx, spec)
	if err != nil {
		return fmt.Errorf("job %s: %w", j.id, err)
	}
	j.env = cj
	j.jobCtx["container"] = cj.Context()
	for k, v := range cj.Services() {
		j.services[k] = v
	}
	j.eventPathOverride = ""
	if spec.Image != "" {
		j.eventPathOverride = ctrWorkflow + "/event.json"
	}
	j.network = cj.Network()
	return nil
}

func fillContainer(image *string, envOut *map[string]string, ports, volumes *[]string, options, user, pass *string, c *workflow.Container, env *expr.Env) error {
	var err error
	if *image, err = evalString(c.Image, env); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	*envOut = map[string]string{}
	for _, kv := range c.Env {
		v, err := evalString(kv.Value, env)
		if err != nil {
			return fmt.Errorf("env %s: %w", kv.Key, err)
		}
		(*envOut)[kv.Key] = v
	}
	for _, p := range c.Ports {
		v, err := evalString(p, env)
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		*ports = append(*ports, v)
	}
	for _, p := range c.Volumes {
		v, err := evalString(p, env)
		if err != nil {
			return fmt.Errorf("volumes: %w", err)
		}
		*volumes = append(*volumes, v)
	}
	if *options, err = evalString(c.Options, env); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	for _, kv := range c.Credentials {
		v, err := evalString(kv.Value, env)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		switch kv.Key {
		case "username":
			*user = v
		case "password":
			*pass = v
		}
	}
	return nil
}
