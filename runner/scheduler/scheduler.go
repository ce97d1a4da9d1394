// Package scheduler runs a whole workflow locally, as `gantry run` does: it
// follows the needs graph, decides each job's if:, expands matrices, keeps
// fail-fast, max-parallel and concurrency groups, calls reusable
// workflows, and hands every job cell to engine.RunJob as a request. A
// forge runner produces requests from its server instead and needs none of
// this.
package scheduler

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/console"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// Options configure one workflow run.
type Options struct {
	RepoDir      string            // the repository the workflow belongs to
	Bind         bool              // use RepoDir itself as the workspace instead of a private one per job
	EventName    string            // e.g. "push"
	Payload      map[string]any    // the event payload
	ChangedFiles []string          // for paths filters; nil when unknown
	Secrets      map[string]string // secrets context
	Vars         map[string]string // vars context
	Inputs       map[string]string // workflow_dispatch / workflow_call inputs as given
	Jobs         []string          // run only these jobs (with what they need); empty runs all
	Matrix       MatrixFilter      // keep only matrix cells with these values
	Platforms    map[string]string // runs-on label -> "host" or an image
	DryRun       bool              // plan and show, run nothing
	// Reporter receives every job's events; a console on Out when nil.
	Reporter    report.Reporter
	Out         io.Writer // os.Stdout when nil and Reporter is nil
	Color       bool
	Groups      bool   // emit ::group:: markers for folding
	WorkRoot    string // where run directories are made; a temp dir when empty
	KeepWorkDir bool   // leave the run directory behind (for debugging)
	// SummaryDir is where the run's step summaries are written as
	// <run id>.md; nowhere when empty.
	SummaryDir   string
	ActionCache  string
	ActionMirror string
	// Actions overrides ActionCache and ActionMirror.
	Actions   action.Source
	Workspace workspace.Provider // made from RepoDir and Bind when nil (copy-on-write overlays, else copies)
	ToolCache string             // RUNNER_TOOL_CACHE on the host; per job when empty
	// Env is added to every step's environment (runtime service URLs and tokens).
	Env       map[string]string
	RunID     int64
	RunNumber int
	Actor     string
	// Containers runs jobs whose runs-on maps to an image, container jobs,
	// services and docker actions; nil means host only.
	Containers jobenv.ContainerBackend
	// NoContainers says why Containers is nil, for error messages.
	NoContainers string
	// ActionBuildArgs are passed to every Dockerfile action build, so base
	// images can be swapped for local ones where no registry answers.
	ActionBuildArgs map[string]string
	// Network is the Docker network for job containers and docker actions
	// of jobs without services (those keep their job network, so service
	// names resolve); empty means Docker's default bridge. "host" lets
	// them reach the runner's loopback, as act does by default.
	Network string
	// Concurrency groups shared across runs; a fresh set when nil.
	Concurrency *Concurrency
	// Masker lets the caller share masking with its own output; made when nil.
	Masker *mask.Masker
	// ContainerEnv overrides Env in job containers and docker actions (the
	// runtime services at an address containers reach).
	ContainerEnv map[string]string

	called bool // a reusable workflow run for a caller's job
}

// JobResult is the outcome of one job (one matrix cell).
type JobResult = engine.Result

// Annotation is an annotation raised by a job.
type Annotation struct {
	report.Annotation
	Job string
}

// String is file:line:col: level: title: message (job NAME).
func (a Annotation) String() string {
	return console.FormatAnnotation(a.Annotation) + " (job " + a.Job + ")"
}

// Summary is one step's summary.
type Summary struct {
	Job, Step, Markdown string
}

// Result is the outcome of a workflow run.
type Result struct {
	Workflow    string
	Skipped     bool   // the trigger did not match
	Reason      string // why the workflow did not run
	Jobs        []*JobResult
	Annotations []Annotation
	Summaries   []Summary
	SummaryPath string // the job summaries, Markdown, when Options.SummaryDir is set
	Success     bool
}

// Run runs one workflow for the event in opts.
func Run(ctx context.Context, wf *workflow.Workflow, opts Options) (*Result, error) {
	r, err := newRun(wf, opts)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run(ctx)
}

type run struct {
	wf     *workflow.Workflow
	opts   Options
	rep    report.Reporter
	masker *mask.Masker
	dir    string // run directory: job directories, the event file
	owned  bool   // dir was made by us and is removed at the end

	github    map[string]any
	inputs    map[string]any
	eventPath string

	mu          sync.Mutex
	results     []*JobResult
	annotations []Annotation
	summaries   []Summary
	conc        *Concurrency
	reaper      reaper // removes finished jobs' folders in the background
}

func newRun(wf *workflow.Workflow, opts Options) (*run, error) {
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.RepoDir == "" {
		opts.RepoDir = "."
	}
	abs, err := filepath.Abs(opts.RepoDir)
	if err != nil {
		return nil, fmt.Errorf("repository dir %s: %w", opts.RepoDir, err)
	}
	opts.RepoDir = abs
	if opts.EventName == "" {
		opts.EventName = "push"
	}
	if opts.RunID == 0 {
		opts.RunID = time.Now().UnixNano() / 1e6 % 1e10
	}
	if opts.RunNumber == 0 {
		opts.RunNumber = 1
	}
	if opts.Masker == nil {
		opts.Masker = mask.New()
	}
	for _, v := range opts.Secrets {
		opts.Masker.Add(v)
	}
	if opts.Reporter == nil {
		opts.Reporter = console.New(opts.Out, opts.Color, opts.Groups)
	}
	if opts.Actions == nil {
		opts.Actions = action.CacheSource{CacheDir: opts.ActionCache, Mirror: opts.ActionMirror}
	}
	if opts.Workspace == nil {
		if opts.Bind {
			opts.Workspace = workspace.Bind{Repo: opts.RepoDir}
		} else {
			opts.Workspace = defaultWorkspace(opts.RepoDir)
		}
	}
	r := &run{wf: wf, opts: opts, masker: opts.Masker, conc: opts.Concurrency, rep: opts.Reporter}
	if r.conc == nil {
		r.conc = NewConcurrency()
	}
	if opts.DryRun {
		return r, nil // a dry run makes nothing
	}
	if opts.WorkRoot != "" {
		if err := os.MkdirAll(opts.WorkRoot, 0o755); err != nil {
			return nil, fmt.Errorf("work root: %w", err)
		}
	}
	r.dir, err = os.MkdirTemp(opts.WorkRoot, "gantry-run-")
	if err != nil {
		return nil, fmt.Errorf("make run directory: %w", err)
	}
	r.owned = !opts.KeepWorkDir
	return r, nil
}

func (r *run) close() {
	if r.opts.Containers != nil && !r.opts.called && !r.opts.DryRun {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := r.opts.Containers.Cleanup(ctx, strconv.FormatInt(r.opts.RunID, 10)); err != nil {
			fmt.Fprintf(os.Stderr, "gantry: clean up containers: %v\n", err)
		}
		cancel()
	}
	r.reaper.wait()
	if r.owned {
		_ = os.RemoveAll(r.dir)
	}
}

// deps are what every job of the run gets from outside.
func (r *run) deps(rep report.Job) engine.Deps {
	return engine.Deps{
		Reporter: rep, Masker: r.masker,
		Containers: r.opts.Containers, NoContainers: r.opts.NoContainers,
		Actions: r.opts.Actions, Workspace: r.opts.Workspace,
		WorkDir: filepath.Join(r.dir, "jobs"), ToolCache: r.opts.ToolCache, RemoveDir: r.reaper.remove,
		Platforms: r.opts.Platforms, BuildArgs: r.opts.ActionBuildArgs, Network: r.opts.Network,
		SkipNoPlatform: true,
	}
}

func (r *run) recordResult(jr *JobResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, jr)
}

// collector wraps a job's reporter to keep the run's annotations and summaries.
type collector struct {
	report.Job
	r    *run
	name string
}

func (c *collector) Annotate(a report.Annotation) {
	c.Job.Annotate(a)
	c.r.mu.Lock()
	c.r.annotations = append(c.r.annotations, Annotation{Annotation: a, Job: c.name})
	c.r.mu.Unlock()
}

func (c *collector) Summary(s report.Step, md string) {
	c.Job.Summary(s, md)
	c.r.mu.Lock()
	c.r.summaries = append(c.r.summaries, Summary{Job: c.name, Step: s.Name, Markdown: md})
	c.r.mu.Unlock()
}

// jobReporter makes the reporter of one job.
func (r *run) jobReporter(id, name string, matrix map[string]any) report.Job {
	info := report.JobInfo{RunID: strconv.FormatInt(r.opts.RunID, 10), JobID: id, Name: name, Matrix: matrix}
	return &collector{Job: r.rep.Job(info), r: r, name: name}
}

// writeSummary keeps the step summaries where the user can read them after
// the run: SummaryDir/<run id>.md.
func (r *run) writeSummary() (string, error) {
	if len(r.summaries) == 0 || r.opts.SummaryDir == "" {
		return "", nil
	}
	if err := os.MkdirAll(r.opts.SummaryDir, 0o755); err != nil {
		return "", fmt.Errorf("write step summary: %w", err)
	}
	path := filepath.Join(r.opts.SummaryDir, strconv.FormatInt(r.opts.RunID, 10)+".md")
	var b []byte
	last := ""
	for _, s := range r.summaries {
		if s.Job != last {
			b = append(b, "# "+s.Job+"\n\n"...)
			last = s.Job
		}
		b = append(b, s.Markdown...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		b = append(b, '\n')
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("write step summary: %w", err)
	}
	return path, nil
}
