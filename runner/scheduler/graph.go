package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/plan"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// alwaysGrace bounds how long jobs that run despite cancellation
// (if: always() / cancelled()) may take.
const alwaysGrace = 5 * time.Minute

// errFailFast cancels the other cells of a matrix when one fails.
var errFailFast = errors.New("fail-fast: a matrix job failed")

// jobNode is one job of the graph; done closes when every cell has ended.
type jobNode struct {
	pj      *plan.Job
	job     *workflow.Job
	deps    []*jobNode
	done    chan struct{}
	result  report.Result
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
	p, err := plan.Build(r.wf, plan.Options{
		Event:    trigger.Event{Name: r.opts.EventName, Payload: r.opts.Payload, ChangedFiles: r.opts.ChangedFiles},
		Jobs:     r.opts.Jobs,
		Called:   r.opts.called,
		Contexts: r.baseContexts(nil),
	})
	if err != nil {
		return nil, err
	}
	if !p.Triggered {
		res.Skipped, res.Reason, res.Success = true, p.Reason, true
		return res, nil
	}
	if r.opts.DryRun {
		r.dryRun(p)
		res.Success = true
		res.Jobs = r.results
		return res, nil
	}

	nodes := map[string]*jobNode{}
	for _, pj := range p.Jobs {
		nodes[pj.ID] = &jobNode{pj: pj, job: pj.Job, done: make(chan struct{})}
	}
	for _, n := range nodes {
		for _, need := range n.pj.Needs {
			if d, ok := nodes[need]; ok {
				n.deps = append(n.deps, d)
			}
		}
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
	for _, pj := range p.Jobs {
		n := nodes[pj.ID]
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
	res.Summaries = r.summaries
	res.Success = true
	for _, n := range nodes {
		if n.result == report.Failure || n.result == report.Cancelled {
			res.Success = false
		}
	}
	if ctx.Err() != nil {
		res.Success = false
	}
	path, err := r.writeSummary()
	if err != nil {
		return res, err
	}
	res.SummaryPath = path
	return res, nil
}

// dryRun shows what would run, from the plan alone: no workspace, no
// container, no action is touched.
func (r *run) dryRun(p *plan.Plan) {
	contexts := r.baseContexts(nil)
	for _, pj := range p.Jobs {
		cells := pj.Cells
		if pj.Deferred {
			cells = []map[string]any{nil}
		}
		for _, cell := range cells {
			name := plan.DisplayName(pj.Job, cell, pj.Keys, contexts, pj.Job.Strategy != nil && pj.Job.Strategy.Matrix != nil && !pj.Deferred)
			rep := r.jobReporter(pj.ID, name, cell)
			start := time.Now()
			rep.Started(report.JobInfo{RunID: strconv.FormatInt(r.opts.RunID, 10), JobID: pj.ID, Name: name, Matrix: cell, Started: start})
			if pj.Deferred {
				rep.Line(report.Info, "*DRYRUN* matrix is decided at run time (it reads the outputs of needed jobs)")
			}
			if pj.Job.Uses != "" {
				rep.Line(report.Info, "*DRYRUN* call "+pj.Job.Uses)
			}
			for i, s := range pj.Job.Steps {
				st := report.Step{Index: i, ID: s.ID, Name: stepTitle(s), Stage: report.Main}
				rep.StepStarted(st, time.Now())
				rep.Line(report.Info, "*DRYRUN* "+st.Name)
				rep.StepFinished(st, report.StepEnd{Outcome: report.Success, Conclusion: report.Success, Ended: time.Now()})
			}
			rep.Finished(report.JobEnd{Result: report.Success, Ended: time.Now()})
			r.recordResult(&JobResult{ID: pj.ID, Name: name, Result: report.Success, Matrix: cell})
		}
	}
}

func stepTitle(s *workflow.Step) string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Uses != "":
		return "Run " + s.Uses
	}
	line := strings.TrimSpace(s.Run)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return "Run " + line
}

// failJob reports a job that fails before any cell runs.
func (r *run) failJob(job *workflow.Job, format string, args ...any) {
	rep := r.jobReporter(job.ID, job.ID, nil)
	rep.Started(report.JobInfo{JobID: job.ID, Name: job.ID, Started: time.Now()})
	rep.Line(report.Error, "Error: "+r.masker.Replace(fmt.Sprintf(format, args...)))
	rep.Finished(report.JobEnd{Result: report.Failure, Ended: time.Now()})
	r.recordResult(&JobResult{ID: job.ID, Name: job.ID, Result: report.Failure})
}

// runJobNode waits for the job's needs, decides whether it runs, expands its
// matrix and runs the cells.
func (r *run) runJobNode(ctx context.Context, n *jobNode) {
	for _, d := range n.deps {
		select {
		case <-d.done:
		case <-ctx.Done():
			<-d.done // dependencies always finish; they see the same cancellation
		}
	}
	needs := map[string]any{}
	allOK, anyFailed := true, false
	for _, d := range n.deps {
		outs := map[string]any{}
		for k, v := range d.outputs {
			outs[k] = v
		}
		needs[d.job.ID] = map[string]any{"result": string(d.result), "outputs": outs}
		if d.result != report.Success {
			allOK = false
		}
		if d.result == report.Failure {
			anyFailed = true
		}
	}
	cancelled := ctx.Err() != nil
	contexts := r.baseContexts(needs)
	env := &expr.Env{Contexts: contexts, Status: func(fn string) bool {
		switch fn {
		case "success":
			return allOK && !cancelled
		case "failure":
			return anyFailed
		case "cancelled":
			return cancelled
		}
		return true
	}}
	env.JobStatus = func(fn string, jobs []string) bool {
		return namedStatus(n.deps, fn, jobs, cancelled)
	}
	job := n.job
	cond := job.If
	if strings.TrimSpace(cond) == "" {
		cond = "success()"
	}
	ok, err := expr.EvalCondition(cond, env)
	if err != nil {
		r.failJob(job, "%s: job %q if: %v", job.IfPos, job.ID, err)
		n.result = report.Failure
		return
	}
	if !ok {
		if cancelled {
			n.result = report.Cancelled
		} else {
			n.result = report.Skipped
		}
		r.recordResult(&JobResult{ID: job.ID, Name: plan.DisplayName(job, nil, nil, contexts, false), Result: n.result})
		return
	}
	if cancelled {
		// The condition asked to run even though the run was cancelled.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alwaysGrace)
		defer cancel()
	}

	if job.Uses != "" {
		n.result, n.outputs = r.runReusable(ctx, n, contexts)
		return
	}

	cells, keys := n.pj.Cells, n.pj.Keys
	if n.pj.Deferred {
		if cells, keys, err = plan.Expand(job, &expr.Env{Contexts: contexts}); err != nil {
			r.failJob(job, "%v", err)
			n.result = report.Failure
			return
		}
	}
	if cells, err = r.filterCells(job, cells); err != nil {
		r.failJob(job, "%v", err)
		n.result = report.Failure
		return
	}
	n.result, n.outputs = r.runCells(ctx, n, cells, keys, needs)
}

// filterCells keeps the cells --matrix asks for.
func (r *run) filterCells(job *workflow.Job, cells []map[string]any) ([]map[string]any, error) {
	if len(r.opts.Matrix) == 0 || job.Strategy == nil || job.Strategy.Matrix == nil {
		return cells, nil
	}
	var kept []map[string]any
	for _, c := range cells {
		match := true
		for k, wants := range r.opts.Matrix {
			v, ok := c[k]
			if !ok {
				continue // this job's matrix has no such key
			}
			if !slices.Contains(wants, expr.ToString(v)) {
				match = false
			}
		}
		if match {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no matrix cell matches --matrix %v", job.Strategy.MatrixPos, r.opts.Matrix)
	}
	return kept, nil
}

// runCells runs a job's matrix cells with max-parallel and fail-fast, and
// merges their results and outputs as GitHub does.
func (r *run) runCells(ctx context.Context, n *jobNode, cells []map[string]any, keys []string, needs map[string]any) (report.Result, map[string]any) {
	job := n.job
	contexts := r.baseContexts(needs)
	isMatrix := len(cells) > 1 || job.Strategy != nil && job.Strategy.Matrix != nil
	failFast, maxParallel := true, len(cells)
	if s := job.Strategy; s != nil {
		env := &expr.Env{Contexts: contexts}
		if s.FailFast != "" {
			v, err := evaluate.Bool(s.FailFast, env)
			if err != nil {
				r.failJob(job, "strategy.fail-fast: %v", err)
				return report.Failure, nil
			}
			failFast = v
		}
		if s.MaxParallel != "" {
			v, err := evaluate.Number(s.MaxParallel, env)
			if err != nil || v < 1 {
				r.failJob(job, "strategy.max-parallel must be a number of at least 1 (%v)", err)
				return report.Failure, nil
			}
			maxParallel = int(v)
		}
	}

	cellCtx, cancelCells := context.WithCancelCause(ctx)
	defer cancelCells(nil)
	sem := make(chan struct{}, maxParallel)
	results := make([]*JobResult, len(cells))
	var mu sync.Mutex
	outputs := map[string]any{}
	var wg sync.WaitGroup
	for i, cell := range cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := plan.DisplayName(job, cell, keys, contexts, isMatrix)
			select {
			case sem <- struct{}{}:
			case <-cellCtx.Done():
				results[i] = &JobResult{ID: job.ID, Name: name, Result: report.Cancelled, Matrix: cell}
				r.recordResult(results[i])
				return
			}
			defer func() { <-sem }()
			strategy := map[string]any{
				"fail-fast":    failFast,
				"job-index":    float64(i),
				"job-total":    float64(len(cells)),
				"max-parallel": float64(maxParallel),
			}
			jr := r.runCell(cellCtx, job, name, cell, strategy, needs)
			results[i] = jr
			r.recordResult(jr)
			mu.Lock()
			// Matrix outputs merge: a later cell's non-empty value wins.
			for k, v := range jr.Outputs {
				if v != "" || outputs[k] == nil {
					outputs[k] = v
				}
			}
			mu.Unlock()
			if jr.Result == report.Failure && failFast {
				cancelCells(errFailFast)
			}
		}()
	}
	wg.Wait()
	return aggregate(results), outputs
}

// runCell holds the job's concurrency group and runs the cell through the engine.
func (r *run) runCell(ctx context.Context, job *workflow.Job, name string, cell, strategy, needs map[string]any) *JobResult {
	rep := r.jobReporter(job.ID, name, cell)
	if c := job.Concurrency; c != nil {
		contexts := r.baseContexts(needs)
		contexts["matrix"] = cell
		contexts["strategy"] = strategy
		group, cancelInProgress, err := r.concurrencyOf(c, contexts)
		jobCtx, cancelJob := context.WithCancelCause(ctx)
		defer cancelJob(nil)
		if err != nil {
			return r.endEarly(rep, job, name, cell, report.Failure, "Error: "+err.Error())
		}
		release, err := r.conc.Acquire(jobCtx, group, cancelInProgress, cancelJob)
		if err != nil {
			return r.endEarly(rep, job, name, cell, report.Cancelled, err.Error())
		}
		defer release()
		ctx = jobCtx
	}
	req := &engine.Request{
		RunID: strconv.FormatInt(r.opts.RunID, 10), Workflow: r.wf, Job: job, Name: name,
		Matrix: cell, Strategy: strategy, Needs: needs,
		GitHub: r.github, Inputs: r.inputs, Vars: r.opts.Vars, Secrets: r.opts.Secrets,
		EventPath: r.eventPath, Env: r.opts.Env, ContainerEnv: r.opts.ContainerEnv,
	}
	return engine.RunJob(ctx, req, r.deps(rep))
}

func (r *run) endEarly(rep report.Job, job *workflow.Job, name string, cell map[string]any, result report.Result, msg string) *JobResult {
	rep.Started(report.JobInfo{JobID: job.ID, Name: name, Matrix: cell, Started: time.Now()})
	kind := report.Error
	if result != report.Failure {
		kind = report.Warn
	}
	rep.Line(kind, r.masker.Replace(msg))
	rep.Finished(report.JobEnd{Result: result, Ended: time.Now()})
	return &JobResult{ID: job.ID, Name: name, Result: result, Matrix: cell}
}

// aggregate is needs.<id>.result for a job with several cells.
func aggregate(results []*JobResult) report.Result {
	failure, cancelled, skipped := false, false, 0
	for _, jr := range results {
		switch jr.Result {
		case report.Failure:
			failure = true
		case report.Cancelled:
			cancelled = true
		case report.Skipped:
			skipped++
		}
	}
	switch {
	case failure:
		return report.Failure
	case cancelled:
		return report.Cancelled
	case skipped == len(results):
		return report.Skipped
	}
	return report.Success
}
