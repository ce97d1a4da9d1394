package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/matrix"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// alwaysGrace bounds how long jobs and steps that run despite cancellation
// (if: always() / cancelled()) may take.
const alwaysGrace = 5 * time.Minute

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
		needs[d.job.ID] = map[string]any{"result": d.result, "outputs": outs}
		if d.result != "success" {
			allOK = false
		}
		if d.result == "failure" {
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
	job := n.job
	log := r.out.Job(job.ID, r.nextColor())
	cond := job.If
	if strings.TrimSpace(cond) == "" {
		cond = "success()"
	}
	ok, err := expr.EvalCondition(cond, env)
	if err != nil {
		log.Styled(ansiRed, "Error: %s: job %q if: %v", job.IfPos, job.ID, err)
		n.result = "failure"
		r.recordResult(&JobResult{ID: job.ID, Name: job.ID, Result: "failure"})
		return
	}
	if !ok {
		if cancelled {
			n.result = "cancelled"
		} else {
			n.result = "skipped"
		}
		r.recordResult(&JobResult{ID: job.ID, Name: jobDisplayName(job, nil, nil, contexts, false), Result: n.result})
		return
	}
	if cancelled {
		// The condition asked to run even though the run was cancelled.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alwaysGrace)
		defer cancel()
	}

	if job.Uses != "" {
		n.result, n.outputs = r.runReusable(ctx, n, contexts, log)
		return
	}

	cells, keys, err := r.expandMatrix(job, contexts)
	if err != nil {
		log.Styled(ansiRed, "Error: %v", err)
		n.result = "failure"
		r.recordResult(&JobResult{ID: job.ID, Name: job.ID, Result: "failure"})
		return
	}
	n.result, n.outputs = r.runCells(ctx, n, cells, keys, needs, log)
}

// expandMatrix evaluates strategy.matrix and returns its cells (one empty cell
// for a job without a matrix) and the key order.
func (r *run) expandMatrix(job *workflow.Job, contexts map[string]any) ([]map[string]any, []string, error) {
	if job.Strategy == nil || job.Strategy.Matrix == nil {
		return []map[string]any{nil}, nil, nil
	}
	env := &expr.Env{Contexts: contexts}
	raw, err := evalValue(job.Strategy.Matrix, env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: strategy.matrix: %w", job.Strategy.MatrixPos, err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: strategy.matrix must be a mapping, got %s; use fromJSON() to turn a string into one", job.Strategy.MatrixPos, expr.Kind(raw))
	}
	// The expression may have produced values that were themselves expressions' results;
	// the file order of keys decides the order of cells.
	keys := matrixKeyOrder(job.Strategy, m)
	cells, err := matrix.Expand(keys, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: strategy.matrix: %w", job.Strategy.MatrixPos, err)
	}
	if len(r.opts.Matrix) > 0 {
		var kept []map[string]any
		for _, c := range cells {
			match := true
			for k, want := range r.opts.Matrix {
				if expr.ToString(c[k]) != want {
					match = false
				}
			}
			if match {
				kept = append(kept, c)
			}
		}
		cells = kept
		if len(cells) == 0 {
			return nil, nil, fmt.Errorf("%s: no matrix cell matches --matrix %v", job.Strategy.MatrixPos, r.opts.Matrix)
		}
	}
	return cells, keys, nil
}

// matrixKeyOrder keeps the keys in the order written in the file; keys that
// came from an expression follow in sorted order.
func matrixKeyOrder(s *workflow.Strategy, m map[string]any) []string {
	var keys []string
	seen := map[string]bool{}
	if s.MatrixNode != nil && len(s.MatrixNode.Content)%2 == 0 {
		for i := 0; i < len(s.MatrixNode.Content); i += 2 {
			k := s.MatrixNode.Content[i].Value
			if _, ok := m[k]; ok && !seen[k] {
				keys = append(keys, k)
				seen[k] = true
			}
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// runCells runs a job's matrix cells with max-parallel and fail-fast, and
// merges their results and outputs as GitHub does.
func (r *run) runCells(ctx context.Context, n *jobNode, cells []map[string]any, keys []string, needs map[string]any, log *JobLog) (string, map[string]any) {
	job := n.job
	contexts := r.baseContexts(needs)
	failFast, maxParallel := true, len(cells)
	if s := job.Strategy; s != nil {
		env := &expr.Env{Contexts: contexts}
		if s.FailFast != "" {
			v, err := evalBool(s.FailFast, env)
			if err != nil {
				log.Styled(ansiRed, "Error: strategy.fail-fast: %v", err)
				return "failure", nil
			}
			failFast = v
		}
		if s.MaxParallel != "" {
			v, err := evalNumber(s.MaxParallel, env)
			if err != nil || v < 1 {
				log.Styled(ansiRed, "Error: strategy.max-parallel must be a number of at least 1 (%v)", err)
				return "failure", nil
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
			select {
			case sem <- struct{}{}:
			case <-cellCtx.Done():
				results[i] = &JobResult{ID: job.ID, Name: jobDisplayName(job, cell, keys, contexts, true), Result: "cancelled", Matrix: cell}
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
			jr := r.runJob(cellCtx, job, cell, keys, strategy, needs, len(cells) > 1 || job.Strategy != nil && job.Strategy.Matrix != nil)
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
			if jr.Result == "failure" && failFast {
				cancelCells(errors.New("fail-fast: a matrix job failed"))
			}
		}()
	}
	wg.Wait()
	return aggregate(results), outputs
}

// aggregate is needs.<id>.result for a job with several cells.
func aggregate(results []*JobResult) string {
	failure, cancelled, skipped := false, false, 0
	for _, jr := range results {
		switch jr.Result {
		case "failure":
			failure = true
		case "cancelled":
			cancelled = true
		case "skipped":
			skipped++
		}
	}
	switch {
	case failure:
		return "failure"
	case cancelled:
		return "cancelled"
	case skipped == len(results):
		return "skipped"
	}
	return "success"
}

// jobDisplayName is the job's name as GitHub shows it: its evaluated name:
// (or its id), and for a matrix cell the cell's values in parentheses in
// the matrix's key order, unless name: already uses the matrix.
func jobDisplayName(job *workflow.Job, cell map[string]any, keys []string, contexts map[string]any, isMatrix bool) string {
	name := job.ID
	if job.Name != "" {
		c := make(map[string]any, len(contexts)+1)
		for k, v := range contexts {
			c[k] = v
		}
		c["matrix"] = cell
		if n, err := evalString(job.Name, &expr.Env{Contexts: c}); err == nil && n != "" {
			name = n
		}
	}
	if !isMatrix || cell == nil || strings.Contains(job.Name, "matrix.") {
		return name
	}
	return matrix.Name(name, keys, cell)
}
