package jobenv

import (
	"context"
	"io"
)

// ContainerBackend runs the parts of a workflow that need a container engine.
// runner/dockerbackend implements it on the Docker Engine API.
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
	Network  string // used when there are no services: see the runner's --network
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
	// Entrypoint and Command override the image's ENTRYPOINT and CMD
	// (services' entrypoint: and command:); Command is split like a shell.
	Entrypoint string
	Command    string
}

// Mount binds a host path into a container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// ContainerJob is a started job container (or a host job's services).
type ContainerJob interface {
	Env
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
