package engine

import (
	"context"
	"runtime"

	"github.com/gantry-ci/gantry/internal/expr"
)

// Contexts come in three layers. The run layer is what the request brings
// (github, inputs, vars, secrets, needs, matrix, strategy); the job layer
// adds what only exists once the job has started (github.job and
// github.workspace, runner, job, the job's env); the step layer adds steps,
// an action's inputs and github.action_*, and the step's env.

// runLayer is the contexts the request brings, as the job's if:,
// runs-on, env and container see them before the job has started.
func (j *jobRun) runLayer() map[string]any {
	req := j.req
	matrix := any(req.Matrix)
	if req.Matrix == nil {
		matrix = map[string]any{}
	}
	needs := any(req.Needs)
	if req.Needs == nil {
		needs = map[string]any{}
	}
	inputs := any(req.Inputs)
	if req.Inputs == nil {
		inputs = map[string]any{}
	}
	secrets := stringMap(req.Secrets)
	if _, ok := secrets["GITHUB_TOKEN"]; !ok {
		secrets["GITHUB_TOKEN"] = ""
	}
	return map[string]any{
		"github":   j.github,
		"inputs":   inputs,
		"vars":     stringMap(req.Vars),
		"secrets":  secrets,
		"needs":    needs,
		"matrix":   matrix,
		"strategy": req.Strategy,
		"env":      map[string]any{},
	}
}

// jobGitHub is the github context with the job's own values.
func jobGitHub(run map[string]any, jobID string) map[string]any {
	gh := make(map[string]any, len(run)+2)
	for k, v := range run {
		gh[k] = v
	}
	gh["job"] = jobID
	return gh
}

// contexts are the expression contexts a step of scope sc sees.
func (j *jobRun) contexts(sc *scope, envCtx map[string]any) map[string]any {
	c := j.runLayer()
	c["runner"] = j.runnerContext()
	j.mu.Lock()
	status := "success"
	if j.failed {
		status = "failure"
	}
	jobCtx := make(map[string]any, len(j.jobCtx)+1)
	for k, v := range j.jobCtx {
		jobCtx[k] = v
	}
	jobCtx["status"] = status
	j.mu.Unlock()
	c["job"] = jobCtx
	c["steps"] = sc.steps
	c["inputs"] = sc.inputs
	c["env"] = envCtx
	if sc.actionPath != "" {
		gh := make(map[string]any, len(j.github)+3)
		for k, v := range j.github {
			gh[k] = v
		}
		gh["action_path"] = j.path(sc.actionPath)
		gh["action_repository"] = sc.actionRepo
		gh["action_ref"] = sc.actionRef
		c["github"] = gh
	}
	return c
}

// envContext is the env context before a step's own env: workflow, job,
// GITHUB_ENV values, then the enclosing composite step's env.
func (j *jobRun) envContext(sc *scope, stepEnv map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range j.baseEnv {
		out[k] = v
	}
	j.mu.Lock()
	for k, v := range j.fileEnv {
		out[k] = v
	}
	j.mu.Unlock()
	var chain []*scope
	for s := sc; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for k, v := range chain[i].env {
			out[k] = v
		}
	}
	for k, v := range stepEnv {
		out[k] = v
	}
	return out
}

// statusFunc answers success(), failure() and cancelled() for a step.
func (j *jobRun) statusFunc(ctx context.Context, sc *scope) func(string) bool {
	return func(fn string) bool {
		cancelled := ctx.Err() != nil
		j.mu.Lock()
		failed := j.failed
		j.mu.Unlock()
		switch fn {
		case "success":
			return !cancelled && !failed && !sc.anyFailed()
		case "failure":
			return failed || sc.anyFailed()
		case "cancelled":
			return cancelled
		}
		return true
	}
}

// stepEnv is the expression environment of a step.
func (j *jobRun) exprEnv(ctx context.Context, sc *scope, envCtx map[string]any) *expr.Env {
	return &expr.Env{Contexts: j.contexts(sc, envCtx), Status: j.statusFunc(ctx, sc), HashFiles: j.hashFiles}
}

// runnerContext is the runner context.
func (j *jobRun) runnerContext() map[string]any {
	arch := map[string]string{"amd64": "X64", "arm64": "ARM64", "386": "X86", "arm": "ARM"}[runtime.GOARCH]
	return map[string]any{
		"name":        "gantry",
		"os":          "Linux",
		"arch":        arch,
		"temp":        j.path(j.temp),
		"tool_cache":  j.path(j.toolCache),
		"debug":       "",
		"environment": "self-hosted",
	}
}

func (j *jobRun) hashFiles(patterns []string) (string, error) {
	return expr.HashFiles(j.workspace, patterns)
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
