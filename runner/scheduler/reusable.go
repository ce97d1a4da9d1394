package scheduler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/actionurl"
	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/internal/safepath"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// runReusable runs a job that calls a reusable workflow (jobs.<id>.uses) and
// returns its result and the outputs the called workflow declares.
func (r *run) runReusable(ctx context.Context, n *jobNode, contexts map[string]any) (report.Result, map[string]any) {
	job := n.job
	fail := func(format string, args ...any) (report.Result, map[string]any) {
		r.failJob(job, format, args...)
		return report.Failure, nil
	}
	path, err := r.reusablePath(ctx, job.Uses)
	if err != nil {
		return fail("%s: uses: %v", job.Pos, err)
	}
	called, err := workflow.ParseFile(path)
	if err != nil {
		return fail("%s: reusable workflow %s: %v", job.Pos, job.Uses, err)
	}
	if called.On == nil || !called.On.Has("workflow_call") {
		return fail("%s: %s cannot be called: its on: has no workflow_call trigger; add `on: workflow_call`", job.Pos, job.Uses)
	}
	env := &expr.Env{Contexts: contexts}
	with := map[string]string{}
	for _, kv := range job.With {
		v, err := evaluate.Template(kv.Value, env)
		if err != nil {
			return fail("%s: with.%s: %v", kv.Pos, kv.Key, err)
		}
		with[kv.Key] = exprString(v)
	}
	secrets := map[string]string{}
	if job.SecretsInherit {
		for k, v := range r.opts.Secrets {
			secrets[k] = v
		}
	} else {
		for _, kv := range job.Secrets {
			v, err := evaluate.String(kv.Value, env)
			if err != nil {
				return fail("%s: secrets.%s: %v", kv.Pos, kv.Key, err)
			}
			secrets[kv.Key] = v
		}
	}
	if t, ok := r.opts.Secrets["GITHUB_TOKEN"]; ok {
		secrets["GITHUB_TOKEN"] = t
	}

	sub := r.opts
	sub.Inputs, sub.Secrets, sub.Jobs, sub.Matrix = with, secrets, nil, nil
	sub.Masker = r.masker
	sub.Concurrency = r.conc
	sub.called = true
	sub.Reporter = r.rep
	sub.Workspace, sub.Actions = r.opts.Workspace, r.opts.Actions
	sub.SummaryDir = ""
	res, err := Run(ctx, called, sub)
	if err != nil {
		return fail("%s: %v", job.Pos, err)
	}
	result := report.Success
	jobsCtx := map[string]any{}
	for _, jr := range res.Jobs {
		r.recordResult(&JobResult{ID: job.ID + "/" + jr.ID, Name: job.ID + " / " + jr.Name, Result: jr.Result, Duration: jr.Duration, Outputs: jr.Outputs, Matrix: jr.Matrix})
		outs := map[string]any{}
		for k, v := range jr.Outputs {
			outs[k] = v
		}
		jobsCtx[jr.ID] = map[string]any{"result": string(jr.Result), "outputs": outs}
	}
	if !res.Success {
		result = report.Failure
	}
	r.mu.Lock()
	r.annotations = append(r.annotations, res.Annotations...)
	r.summaries = append(r.summaries, res.Summaries...)
	r.mu.Unlock()

	outputs := map[string]any{}
	outEnv := &expr.Env{Contexts: map[string]any{"jobs": jobsCtx, "github": r.github, "inputs": map[string]any{}, "vars": evaluate.StringMap(r.opts.Vars)}}
	for _, o := range called.On.CallOutputs() {
		v, err := evaluate.String(o.Value, outEnv)
		if err != nil {
			fmt.Fprintf(os.Stderr, "gantry: warning: output %s of %s: %v\n", o.Name, job.Uses, err)
			continue
		}
		outputs[o.Name] = v
	}
	return result, outputs
}

// reusablePath finds a called workflow: ./path in the repository, or
// owner/repo/path@ref from the action cache or mirror.
func (r *run) reusablePath(ctx context.Context, uses string) (string, error) {
	if strings.HasPrefix(uses, "./") {
		return safepath.Within(r.opts.RepoDir, filepath.Join(r.opts.RepoDir, filepath.FromSlash(uses)))
	}
	if actionurl.Is(uses) {
		return r.reusableURLPath(ctx, uses)
	}
	repoPath, ref, ok := strings.Cut(uses, "@")
	parts := strings.SplitN(repoPath, "/", 3)
	if !ok || len(parts) < 3 {
		return "", fmt.Errorf("%q is not a reusable workflow reference; use ./.github/workflows/x.yml or owner/repo/.github/workflows/x.yml@ref", uses)
	}
	a, err := action.ParseRef(parts[0] + "/" + parts[1] + "@" + ref)
	if err != nil {
		return "", err
	}
	dir, err := r.opts.Actions.ResolveRepo(ctx, a)
	if err != nil {
		return "", err
	}
	if err := safepath.CheckSegments("workflow path", parts[2]); err != nil {
		return "", fmt.Errorf("%q: %w", uses, err)
	}
	return safepath.Within(dir, filepath.Join(dir, filepath.FromSlash(parts[2])))
}

// exprString keeps typed values of with: (numbers, booleans) as their text.
func exprString(v any) string { return expr.ToString(v) }
