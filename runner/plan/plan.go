// Package plan turns a workflow and an event into the jobs that would run:
// whether the trigger matches, which jobs are selected (-j with what they
// need), their needs, and their matrix cells where those are known before
// the run. Listing (-l) and dry runs (-n) read a plan and create nothing;
// the scheduler runs one.
package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/matrix"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// Plan is what a workflow would run for an event.
type Plan struct {
	Workflow  *workflow.Workflow
	Triggered bool
	Reason    string // why it is not triggered
	Jobs      []*Job // the selected jobs in file order
}

// Job is one planned job.
type Job struct {
	ID    string
	Job   *workflow.Job
	Needs []string
	// Cells are the matrix cells when the matrix can be expanded before the
	// run (it reads no needs or other run-time values); Deferred says it
	// cannot. A job without a matrix has one nil cell.
	Cells    []map[string]any
	Keys     []string
	Deferred bool
}

// Options select what to plan.
type Options struct {
	Event  trigger.Event
	Jobs   []string // only these jobs and what they need; all when empty
	Called bool     // a reusable workflow called by another: its trigger is the caller
	// Contexts are the run-level contexts a static matrix may read (github, inputs, vars).
	Contexts map[string]any
}

// Build plans wf.
func Build(wf *workflow.Workflow, opts Options) (*Plan, error) {
	p := &Plan{Workflow: wf, Triggered: true}
	if wf.On != nil && !opts.Called {
		p.Triggered, p.Reason = wf.On.Match(opts.Event)
	}
	byID := map[string]*workflow.Job{}
	for _, j := range wf.Jobs {
		byID[j.ID] = j
	}
	for _, j := range wf.Jobs {
		for _, need := range j.Needs {
			if _, ok := byID[need]; !ok {
				return nil, fmt.Errorf("%s: job %q needs unknown job %q", j.Pos, j.ID, need)
			}
		}
	}
	selected := map[string]bool{}
	var want func(id string)
	want = func(id string) {
		if selected[id] {
			return
		}
		selected[id] = true
		for _, d := range byID[id].Needs {
			want(d)
		}
	}
	if len(opts.Jobs) == 0 {
		for id := range byID {
			selected[id] = true
		}
	}
	for _, id := range opts.Jobs {
		if _, ok := byID[id]; ok {
			want(id)
		}
	}
	for _, j := range wf.Jobs {
		if !selected[j.ID] {
			continue
		}
		pj := &Job{ID: j.ID, Job: j, Needs: j.Needs}
		pj.Cells, pj.Keys, pj.Deferred = staticCells(j, opts.Contexts)
		p.Jobs = append(p.Jobs, pj)
	}
	return p, nil
}

// JobIDs lists the ids of a workflow's jobs, sorted.
func JobIDs(wf *workflow.Workflow) []string {
	var ids []string
	for _, j := range wf.Jobs {
		ids = append(ids, j.ID)
	}
	sort.Strings(ids)
	return ids
}

// Has reports whether wf has a job id.
func Has(wf *workflow.Workflow, id string) bool {
	for _, j := range wf.Jobs {
		if j.ID == id {
			return true
		}
	}
	return false
}

// staticCells expands a matrix that reads nothing known only at run time.
func staticCells(j *workflow.Job, contexts map[string]any) ([]map[string]any, []string, bool) {
	if j.Strategy == nil || j.Strategy.Matrix == nil {
		return []map[string]any{nil}, nil, false
	}
	if readsRuntime(j.Strategy.Matrix) {
		return nil, nil, true
	}
	cells, keys, err := Expand(j, &expr.Env{Contexts: contexts})
	if err != nil {
		return nil, nil, true
	}
	return cells, keys, false
}

// readsRuntime reports whether a matrix value reads needs, steps or job.
func readsRuntime(v any) bool {
	switch x := v.(type) {
	case string:
		s := strings.ToLower(x)
		return strings.Contains(s, "needs.") || strings.Contains(s, "needs[") || strings.Contains(s, "steps.") || strings.Contains(s, "job.")
	case []any:
		for _, e := range x {
			if readsRuntime(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if readsRuntime(e) {
				return true
			}
		}
	}
	return false
}

// Expand evaluates strategy.matrix and returns its cells (one nil cell for a
// job without a matrix) and the key order.
func Expand(job *workflow.Job, env *expr.Env) ([]map[string]any, []string, error) {
	if job.Strategy == nil || job.Strategy.Matrix == nil {
		return []map[string]any{nil}, nil, nil
	}
	raw, err := evaluate.Value(job.Strategy.Matrix, env)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: strategy.matrix: %w", job.Strategy.MatrixPos, err)
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%s: strategy.matrix must be a mapping, got %s; use fromJSON() to turn a string into one", job.Strategy.MatrixPos, expr.Kind(raw))
	}
	keys := KeyOrder(job.Strategy, m)
	cells, err := matrix.Expand(keys, m)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: strategy.matrix: %w", job.Strategy.MatrixPos, err)
	}
	return cells, keys, nil
}

// KeyOrder keeps the keys in the order written in the file; keys that came
// from an expression follow in sorted order.
func KeyOrder(s *workflow.Strategy, m map[string]any) []string {
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

// DisplayName is the job's name as GitHub shows it: its evaluated name:
// (or its id), and for a matrix cell the cell's values in parentheses in
// the matrix's key order, unless name: already uses the matrix.
func DisplayName(job *workflow.Job, cell map[string]any, keys []string, contexts map[string]any, isMatrix bool) string {
	name := job.ID
	if job.Name != "" {
		c := make(map[string]any, len(contexts)+1)
		for k, v := range contexts {
			c[k] = v
		}
		c["matrix"] = cell
		if n, err := evaluate.String(job.Name, &expr.Env{Contexts: c}); err == nil && n != "" {
			name = n
		}
	}
	if !isMatrix || cell == nil || strings.Contains(job.Name, "matrix.") {
		return name
	}
	return matrix.Name(name, keys, cell)
}
