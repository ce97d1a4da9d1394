package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// prepare builds what every job shares: the event file, the github context and inputs.
func (r *run) prepare(ctx context.Context) error {
	payload := r.opts.Payload
	if payload == nil {
		payload = trigger.DefaultPayload(ctx, r.opts.EventName, r.opts.RepoDir)
	}
	r.opts.Payload = payload
	if !r.opts.DryRun {
		r.eventPath = filepath.Join(r.dir, "event.json")
	}
	r.github = trigger.GitHubContext(ctx, trigger.ContextOptions{
		EventName:    r.opts.EventName,
		Payload:      payload,
		EventPath:    r.eventPath,
		RepoDir:      r.opts.RepoDir,
		Workspace:    r.opts.RepoDir,
		RunID:        strconv.FormatInt(r.opts.RunID, 10),
		RunNumber:    strconv.Itoa(r.opts.RunNumber),
		Actor:        r.opts.Actor,
		Token:        r.opts.Secrets["GITHUB_TOKEN"],
		Workflow:     r.workflowName(),
		WorkflowPath: r.wf.Path,
	})
	if r.wf.On != nil {
		event := r.opts.EventName
		if r.opts.called {
			event = "workflow_call"
		}
		given := r.opts.Inputs
		if event == "workflow_dispatch" {
			given = dispatchInputs(payload, given)
		}
		in, err := r.wf.On.InputsEval(event, given, r.evalDefault)
		if err != nil {
			return fmt.Errorf("%s: %w", r.wf.Path, err)
		}
		r.inputs = in
	}
	if r.inputs == nil {
		r.inputs = map[string]any{}
	}
	if r.opts.EventName == "workflow_dispatch" {
		// GitHub mirrors dispatch inputs into the payload.
		payload["inputs"] = r.inputs
	}
	if !r.opts.DryRun {
		data, err := json.MarshalIndent(payload, "", "  ")
		if err != nil {
			return fmt.Errorf("encode event payload: %w", err)
		}
		if err := os.WriteFile(r.eventPath, data, 0o644); err != nil {
			return fmt.Errorf("write event payload: %w", err)
		}
	}
	return nil
}

// dispatchInputs merges the inputs of a workflow_dispatch payload (-e) with
// those given by flag (--input); flags win.
func dispatchInputs(payload map[string]any, given map[string]string) map[string]string {
	in, _ := payload["inputs"].(map[string]any)
	if len(in) == 0 {
		return given
	}
	out := map[string]string{}
	for k, v := range in {
		out[k] = expr.ToString(v)
	}
	for k, v := range given {
		out[k] = v
	}
	return out
}

func (r *run) workflowName() string {
	if r.wf.Name != "" {
		return r.wf.Name
	}
	return r.wf.Path
}

// baseContexts are the contexts available at workflow and job level.
func (r *run) baseContexts(needs map[string]any) map[string]any {
	secrets := evaluate.StringMap(r.opts.Secrets)
	if _, ok := secrets["GITHUB_TOKEN"]; !ok {
		secrets["GITHUB_TOKEN"] = ""
	}
	c := map[string]any{
		"github":  r.github,
		"inputs":  r.inputs,
		"vars":    evaluate.StringMap(r.opts.Vars),
		"secrets": secrets,
		"env":     map[string]any{},
	}
	if needs != nil {
		c["needs"] = needs
	} else {
		c["needs"] = map[string]any{}
	}
	return c
}

// concurrencyOf evaluates a concurrency block.
func (r *run) concurrencyOf(c *workflow.Concurrency, contexts map[string]any) (string, bool, error) {
	env := &expr.Env{Contexts: contexts}
	g, err := evaluate.String(c.Group, env)
	if err != nil {
		return "", false, fmt.Errorf("%s: concurrency group: %w", c.Pos, err)
	}
	cancel := false
	if c.CancelInProgress != "" {
		cancel, err = evaluate.Bool(c.CancelInProgress, env)
		if err != nil {
			return "", false, fmt.Errorf("%s: cancel-in-progress: %w", c.Pos, err)
		}
	}
	return g, cancel, nil
}

// evalDefault evaluates an input default written as an expression
// (`default: ${{ github.ref_name }}`), as GitHub does for workflow_call: the
// github, vars and inputs-free contexts are what it may read.
func (r *run) evalDefault(src string) (string, error) {
	t, err := expr.ParseTemplate(src)
	if err != nil {
		return "", err
	}
	v, err := t.Eval(&expr.Env{Contexts: map[string]any{"github": r.github, "vars": evaluate.StringMap(r.opts.Vars), "inputs": map[string]any{}}})
	if err != nil {
		return "", err
	}
	return expr.ToString(v), nil
}
