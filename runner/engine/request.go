// Package engine runs one job: given a job request (the job, its matrix
// cell, the contexts of the run and the outputs of the jobs it needs), it
// sets up where the job's processes run, runs its steps with their pre and
// post parts, and reports every event to a report.Job. Who decides which
// jobs run and when (the local scheduler, a forge's server) is not its
// concern.
package engine

import (
	"context"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// Request is one job (one matrix cell) to run, already planned.
type Request struct {
	RunID    string
	Workflow *workflow.Workflow
	Job      *workflow.Job
	Name     string         // display name
	Matrix   map[string]any // nil outside a matrix
	Strategy map[string]any // the strategy context
	Needs    map[string]any // the needs context
	GitHub   map[string]any // the run's github context; the job adds job, workspace, action_*
	Inputs   map[string]any
	Vars     map[string]string
	Secrets  map[string]string
	// EventPath is the event payload file on the host.
	EventPath string
	// Env is added to every step's environment (runtime service URLs and
	// tokens); workflow, job and step env win over it.
	Env map[string]string
	// ContainerEnv overrides Env for processes in containers (job
	// containers, docker actions): the same service variables with an
	// address containers reach.
	ContainerEnv map[string]string
}

// Deps are what a job needs from outside, handed in so that a local run, a
// forge runner and a test can each bring their own.
type Deps struct {
	Reporter report.Job
	Masker   *mask.Masker // secrets and ::add-mask:: values; made when nil
	// Containers runs container jobs, services and docker actions; nil
	// means host only, and NoContainers says why.
	Containers   jobenv.ContainerBackend
	NoContainers string
	Actions      action.Source
	Workspace    workspace.Provider
	// WorkDir is where the job's directories (temp, home, workspace) are made.
	WorkDir string
	// RemoveDir, when set, takes the job's directory once the job is done
	// (the workspace already released), so the removal can happen off the
	// job's critical path; nil removes it before RunJob returns.
	RemoveDir func(dir string)
	// ToolCache is RUNNER_TOOL_CACHE on the host; a folder in WorkDir when empty.
	ToolCache string
	Platforms map[string]string // runs-on label -> "host" or an image
	BuildArgs map[string]string // for Dockerfile actions
	Network   string            // Docker network of jobs without services
	// SkipNoPlatform skips (instead of failing) a job whose runs-on labels
	// map to nothing here, as `gantry run` does for windows-latest.
	SkipNoPlatform bool
}

// Result is how a job ended.
type Result struct {
	ID       string
	Name     string
	Result   report.Result
	Duration time.Duration
	Outputs  map[string]string
	Matrix   map[string]any
}

// RunJob runs one job to its end and reports it through deps.Reporter.
// Cancelling ctx cancels the job: running steps are killed, and steps whose
// if: asks for it (always(), cancelled()) still run.
func RunJob(ctx context.Context, req *Request, deps Deps) *Result {
	if deps.Masker == nil {
		deps.Masker = mask.New()
	}
	for _, v := range req.Secrets {
		deps.Masker.Add(v)
	}
	if deps.Actions == nil {
		deps.Actions = action.CacheSource{}
	}
	j := newJobRun(req, deps)
	start := time.Now()
	j.rep.Started(report.JobInfo{RunID: req.RunID, JobID: req.Job.ID, Name: j.name, Matrix: req.Matrix, Started: start})
	result, outputs := j.execute(ctx)
	end := time.Now()
	j.rep.Finished(report.JobEnd{Result: result, Outputs: outputs, Ended: end})
	return &Result{ID: req.Job.ID, Name: j.name, Result: result, Duration: end.Sub(start), Outputs: outputs, Matrix: req.Matrix}
}
