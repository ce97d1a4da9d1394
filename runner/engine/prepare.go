package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gantry-ci/gantry/internal/expr"
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
	r.eventPath = filepath.Join(r.dir, "event.json")
	data, err := json.MarshalIndent(payload, "", "  ")
	if err != nil {
		return fmt.Errorf("encode event payload: %w", err)
	}
	if err := os.WriteFile(r.eventPath, data, 0o644); err != nil {
		return fmt.Errorf("write event payload: %w", err)
	}
	workspace := r.workspacePath()
	r.github = trigger.GitHubContext(ctx, trigger.ContextOptions{
		EventName:    r.opts.EventName,
		Payload:      payload,
		EventPath:    r.eventPath,
		RepoDir:      r.opts.RepoDir,
		Workspace:    workspace,
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
		in, err := r.wf.On.Inputs(event, r.opts.Inputs)
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
		if _, ok := payload["inputs"]; !ok {
			payload["inputs"] = r.inputs
		}
	}
	return nil
}

func (r *run) workflowName() string {
	if r.wf.Name != "" {
		return r.wf.Name
	}
	return r.wf.Path
}

// workspacePath is where jobs on the host see the repository: the repository
// itself with --bind, else a copy made per job under the run directory.
func (r *run) workspacePath() string {
	if r.opts.Bind {
		return r.opts.RepoDir
	}
	name := filepath.Base(r.opts.RepoDir)
	return filepath.Join(r.dir, "work", name, name)
}

// matches reports whether the workflow's triggers accept the event.
func (r *run) matches() (bool, string) {
	if r.wf.On == nil || r.opts.called {
		return true, ""
	}
	return r.wf.On.Match(trigger.Event{Name: r.opts.EventName, Payload: r.opts.Payload, ChangedFiles: r.opts.ChangedFiles})
}

// baseContexts are the contexts available at workflow and job level.
func (r *run) baseContexts(needs map[string]any) map[string]any {
	c := map[string]any{
		"github":  r.github,
		"inputs":  r.inputs,
		"vars":    stringMap(r.opts.Vars),
		"secrets": r.secretsContext(),
		"env":     map[string]any{},
	}
	if needs != nil {
		c["needs"] = needs
	} else {
		c["needs"] = map[string]any{}
	}
	return c
}

func (r *run) secretsContext() map[string]any {
	s := stringMap(r.opts.Secrets)
	if _, ok := s["GITHUB_TOKEN"]; !ok {
		s["GITHUB_TOKEN"] = ""
	}
	return s
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// concurrencyOf evaluates a concurrency block.
func (r *run) concurrencyOf(c *workflow.Concurrency, contexts map[string]any) (string, bool, error) {
	env := &expr.Env{Contexts: contexts}
	g, err := evalString(c.Group, env)
	if err != nil {
		return "", false, fmt.Errorf("%s: concurrency group: %w", c.Pos, err)
	}
	cancel := false
	if c.CancelInProgress != "" {
		cancel, err = evalBool(c.CancelInProgress, env)
		if err != nil {
			return "", false, fmt.Errorf("%s: cancel-in-progress: %w", c.Pos, err)
		}
	}
	return g, cancel, nil
}

// evalString evaluates a template and converts the result to a string.
func evalString(s string, env *expr.Env) (string, error) {
	v, err := evalTemplate(s, env)
	if err != nil {
		return "", err
	}
	return expr.ToString(v), nil
}

func evalTemplate(s string, env *expr.Env) (any, error) {
	if !hasExpr(s) {
		return s, nil
	}
	t, err := expr.ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	return t.Eval(env)
}

// evalBool evaluates a value such as continue-on-error: a literal or an expression.
func evalBool(s string, env *expr.Env) (bool, error) {
	v, err := evalTemplate(s, env)
	if err != nil {
		return false, err
	}
	if str, ok := v.(string); ok {
		switch str {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return expr.Truthy(v), nil
}

// evalNumber evaluates a value such as timeout-minutes.
func evalNumber(s string, env *expr.Env) (float64, error) {
	v, err := evalTemplate(s, env)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// evalValue evaluates every string holding ${{ }} inside a plain value.
func evalValue(v any, env *expr.Env) (any, error) {
	switch x := v.(type) {
	case string:
		return evalTemplate(x, env)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ev, err := evalValue(e, env)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ev, err := evalValue(e, env)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	}
	return v, nil
}

func hasExpr(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' && s[i+2] == '{' {
			return true
		}
	}
	return false
}
