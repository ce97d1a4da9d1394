// Package engine plans and runs a workflow: the job graph, matrices, steps,
// contexts, status functions and outputs.
package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// Options configure one workflow run.
type Options struct {
	RepoDir      string            // the repository the workflow belongs to
	Bind         bool              // use RepoDir itself as the workspace instead of a copy
	EventName    string            // e.g. "push"
	Payload      map[string]any    // the event payload
	ChangedFiles []string          // for paths filters; nil when unknown
	Secrets      map[string]string // secrets context
	Vars         map[string]string // vars context
	Inputs       map[string]string // workflow_dispatch / workflow_call inputs as given
	Jobs         []string          // run only these jobs (with what they need); empty runs all
	Matrix       map[string]string // keep only matrix cells with these values
	Platforms    map[string]string // runs-on label -> "host" or an image
	DryRun       bool              // plan and show, run nothing
	Out          io.Writer         // live output; os.Stdout when nil
	Color        bool
	Groups       bool   // emit ::group:: markers for folding
	WorkRoot     string // where run directories are made; a temp dir when empty
	KeepWorkDir  bool   // leave the run directory behind (for debugging)
	ActionCache  string
	ActionMirror string
	RunID        int64
	RunNumber    int
	Actor        string
	// Containers runs jobs whose runs-on maps to an image, container jobs,
	// services and docker actions; nil means host only.
	Containers ContainerBackend
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

	called bool // a reusable workflow run for a caller's job
}

// JobResult is the outcome of one job (one matrix cell).
type JobResult struct {
	ID       string
	Name     string
	Result   string // success, failure, cancelled, skipped
	Duration time.Duration
	Outputs  map[string]string
	Matrix   map[string]any
}

// Result is the outcome of a workflow run.
type Result struct {
	Workflow    string
	Skipped     bool   // the trigger did not match
	Reason      string // why the workflow did not run
	Jobs        []*JobResult
	Annotations []string
	SummaryPath string // the job summaries, Markdown
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
	out    *Console
	masker *mask.Masker
	dir    string // run directory: workspaces, temp, event file
	owned  bool   // dir was made by us and is removed at the end

	github    map[string]any
	inputs    map[string]any
	eventPath string

	mu          sync.Mutex
	results     []*JobResult
	annotations []string
	summaries   []summaryPart
	colorIndex  int
	conc        *Concurrency
}

type summaryPart struct {
	job, step string
	text      string
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
	m := opts.Masker
	if m == nil {
		m = mask.New()
	}
	for _, v := range opts.Secrets {
		m.Add(v)
	}
	r := &run{wf: wf, opts: opts, masker: m, conc: opts.Concurrency}
	if r.conc == nil {
		r.conc = NewConcurrency()
	}
	r.out = NewConsole(opts.Out, opts.Color, opts.Groups, m)
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
	if r.opts.Containers != nil && !r.opts.called {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := r.opts.Containers.Cleanup(ctx, strconv.FormatInt(r.opts.RunID, 10)); err != nil {
			fmt.Fprintf(r.opts.Out, "gantry: clean up containers: %v\n", err)
		}
		cancel()
	}
	if r.owned {
		_ = os.RemoveAll(r.dir)
	}
}

// jobNode is one job of the graph; done closes when every cell has ended.
type jobNode struct {
	job     *workflow.Job
	deps    []*jobNode
	done    chan struct{}
	result  string
	outputs map[string]any
}

func (r *run) run(ctx context.Context) (*Result, error) {
	res := &Result{Workflow: r.wf.Name}
	if res.Workflow == "" {
		res.Workflow = r.wf.Path
	}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if ok, why := r.matches(); !ok {
		res.Skipped, res.Reason, res.Success = true, why, true
		return res, nil
	}
	nodes, order, err := r.graph()
	if err != nil {
		return nil, err
	}

	// Workflow-level concurrency holds the whole run.
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	if c := r.wf.Concurrency; c != nil {
		group, cancelInProgress, err := r.concurrencyOf(c, r.baseContexts(nil))
		if err != nil {
			return nil, err
		}
		release, err := r.conc.Acquire(runCtx, group, cancelInProgress, cancelRun)
		if err != nil {
			res.Reason = err.Error()
			return res, nil
		}
		defer release()
	}

	var wg sync.WaitGroup
	for _, id := range order {
		n := nodes[id]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(n.done)
			r.runJobNode(runCtx, n)
		}()
	}
	wg.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	res.Jobs = r.results
	res.Annotations = r.annotations
	res.Success = true
	for _, n := range nodes {
		if n.result == "failure" || n.result == "cancelled" {
			res.Success = false
		}
	}
	if ctx.Err() != nil {
		res.Success = false
	}
	if path, err := r.writeSummary(); err != nil {
		return res, err
	} else {
		res.SummaryPath = path
	}
	return res, nil
}

// graph builds the job nodes for the selected jobs and their needs, in file order.
func (r *run) graph() (map[string]*jobNode, []string, error) {
	nodes := map[string]*jobNode{}
	for _, j := range r.wf.Jobs {
		nodes[j.ID] = &jobNode{job: j, done: make(chan struct{})}
	}
	for _, n := range nodes {
		for _, need := range n.job.Needs {
			d, ok := nodes[need]
			if !ok {
				return nil, nil, fmt.Errorf("%s: job %q needs unknown job %q", n.job.Pos, n.job.ID, need)
			}
			n.deps = append(n.deps, d)
		}
	}
	selected := map[string]bool{}
	var want func(id string)
	want = func(id string) {
		if selected[id] {
			return
		}
		selected[id] = true
		for _, d := range nodes[id].job.Needs {
			want(d)
		}
	}
	if len(r.opts.Jobs) == 0 {
		for id := range nodes {
			selected[id] = true
		}
	}
	for _, id := range r.opts.Jobs {
		if _, ok := nodes[id]; !ok {
			ids := make([]string, 0, len(nodes))
			for k := range nodes {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			return nil, nil, fmt.Errorf("no job %q in %s; jobs are: %v", id, r.wf.Path, ids)
		}
		want(id)
	}
	var order []string
	for _, j := range r.wf.Jobs {
		if selected[j.ID] {
			order = append(order, j.ID)
		} else {
			delete(nodes, j.ID)
		}
	}
	return nodes, order, nil
}

func (r *run) recordResult(jr *JobResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, jr)
}

func (r *run) nextColor() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.colorIndex++
	return r.colorIndex - 1
}

func (r *run) addAnnotation(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.annotations = append(r.annotations, s)
}

func (r *run) addSummary(job, step, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.summaries = append(r.summaries, summaryPart{job: job, step: step, text: text})
}

// writeSummary keeps the step summaries where the user can read them after
// the run: .gantry/summaries/<run id>.md in the repository directory.
func (r *run) writeSummary() (string, error) {
	if len(r.summaries) == 0 {
		return "", nil
	}
	dir := filepath.Join(r.opts.RepoDir, ".gantry", "summaries")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("write step summary: %w", err)
	}
	path := filepath.Join(dir, strconv.FormatInt(r.opts.RunID, 10)+".md")
	var b []byte
	last := ""
	for _, s := range r.summaries {
		if s.job != last {
			b = append(b, "# "+s.job+"\n\n"...)
			last = s.job
		}
		b = append(b, r.masker.Replace(s.text)...)
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
