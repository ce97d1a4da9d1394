package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// loadedAction is an action resolved and loaded at job start.
type loadedAction struct {
	ref  action.Ref
	dir  string
	meta *action.Metadata
	self bool // actions/checkout of this repository: served from the workspace
}

func (j *jobRun) resolver() *action.Resolver {
	return &action.Resolver{
		Workspace: j.workspace,
		CacheDir:  j.r.opts.ActionCache,
		Mirror:    j.r.opts.ActionMirror,
	}
}

// resolveActions fetches and loads every remote action of the job up front, as
// GitHub does, so a missing action fails the job before any step runs.
func (j *jobRun) resolveActions(ctx context.Context) error {
	for _, s := range j.job.Steps {
		if s.Uses == "" || strings.HasPrefix(s.Uses, "./") || strings.HasPrefix(s.Uses, "docker://") {
			continue
		}
		if _, err := j.loadAction(ctx, s, nil); err != nil {
			return err
		}
	}
	return nil
}

// loadAction resolves a step's uses: (cached per job).
func (j *jobRun) loadAction(ctx context.Context, s *workflow.Step, with map[string]string) (*loadedAction, error) {
	j.mu.Lock()
	la, ok := j.actions[s.Uses]
	j.mu.Unlock()
	if ok {
		return la, nil
	}
	ref, err := action.ParseRef(s.Uses)
	if err != nil {
		return nil, fmt.Errorf("%s: uses: %w", s.Pos, err)
	}
	la = &loadedAction{ref: ref}
	if action.IsSelfCheckout(ref, with, expr.ToString(j.r.github["repository"])) {
		la.self = true
	} else {
		dir, err := j.resolver().Resolve(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Pos, err)
		}
		la.dir = dir
		if la.meta, err = action.Load(dir); err != nil {
			return nil, fmt.Errorf("%s: load action %s: %w", s.Pos, s.Uses, err)
		}
	}
	j.mu.Lock()
	j.actions[s.Uses] = la
	j.mu.Unlock()
	return la, nil
}

// runUses runs a uses: step: a local or remote action, or a docker:// image.
func (j *jobRun) runUses(ctx context.Context, sc *scope, s *workflow.Step, env *expr.Env, stepEnv map[string]string, st *stepState) error {
	with := map[string]string{}
	for _, kv := range s.With {
		v, err := evalString(kv.Value, env)
		if err != nil {
			return fmt.Errorf("%s: with.%s: %w", kv.Pos, kv.Key, err)
		}
		with[kv.Key] = v
	}
	if strings.HasPrefix(s.Uses, "docker://") {
		return j.runDockerImageStep(ctx, sc, s, with, stepEnv, st)
	}
	la, err := j.loadAction(ctx, s, with)
	if err != nil {
		return err
	}
	if la.self {
		j.log.Line("actions/checkout of this repository: the workspace already holds it")
		return nil
	}
	inputs, err := j.actionInputs(la, with, env, s)
	if err != nil {
		return err
	}
	m := la.meta
	switch {
	case m.Runs.Using == "composite":
		return j.runComposite(ctx, sc, s, la, inputs, stepEnv, st)
	case strings.HasPrefix(m.Runs.Using, "node"):
		return j.runNode(ctx, sc, s, la, inputs, stepEnv, st)
	case m.Runs.Using == "docker":
		return j.runDockerAction(ctx, sc, s, la, inputs, stepEnv, st)
	}
	return fmt.Errorf("%s: action %s: runs.using %q is not supported", s.Pos, s.Uses, m.Runs.Using)
}

// actionInputs merges with: values and the action's defaults (which may hold
// expressions such as ${{ github.token }}).
func (j *jobRun) actionInputs(la *loadedAction, with map[string]string, env *expr.Env, s *workflow.Step) (map[string]string, error) {
	inputs := map[string]string{}
	known := map[string]bool{}
	for _, in := range la.meta.Inputs {
		known[strings.ToLower(in.Name)] = true
		if v, ok := lookupFold(with, in.Name); ok {
			inputs[in.Name] = v
			continue
		}
		if in.Default != "" {
			v, err := evalString(in.Default, env)
			if err != nil {
				return nil, fmt.Errorf("%s: input %s default: %w", s.Pos, in.Name, err)
			}
			inputs[in.Name] = v
			continue
		}
		if in.Required {
			// GitHub warns, it does not fail.
			j.log.Styled(ansiYel, "Warning: Input required and not supplied: %s", in.Name)
		}
		inputs[in.Name] = ""
	}
	for k, v := range with {
		if !known[strings.ToLower(k)] {
			j.log.Styled(ansiYel, "Warning: %s: unexpected input '%s'; valid inputs are %s", s.Pos, k, strings.Join(inputNames(la.meta), ", "))
			inputs[k] = v
		}
	}
	return inputs, nil
}

func inputNames(m *action.Metadata) []string {
	var out []string
	for _, in := range m.Inputs {
		out = append(out, "'"+in.Name+"'")
	}
	return out
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// inputEnv is INPUT_<NAME> as GitHub mangles it: spaces to _, upper case.
func inputEnv(inputs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range inputs {
		out["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
	}
	return out
}

func stateEnv(state map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range state {
		out["STATE_"+k] = v
	}
	return out
}

func actionScope(parent *scope, la *loadedAction, inputs map[string]string) *scope {
	in := map[string]any{}
	for k, v := range inputs {
		in[k] = v
	}
	repo, ref := "", ""
	if !la.ref.IsLocal() {
		repo, ref = la.ref.Owner+"/"+la.ref.Repo, la.ref.Version
	}
	return &scope{steps: map[string]any{}, inputs: in, actionPath: la.dir, actionRepo: repo, actionRef: ref, parent: parent}
}

// runNode runs a node action's main, registering its post.
func (j *jobRun) runNode(ctx context.Context, sc *scope, s *workflow.Step, la *loadedAction, inputs map[string]string, stepEnv map[string]string, st *stepState) error {
	m := la.meta
	if m.Runs.Using == "node12" || m.Runs.Using == "node16" {
		j.log.Styled(ansiYel, "Warning: %s uses %s, which GitHub no longer supports; running it with this machine's node", s.Uses, m.Runs.Using)
	}
	asc := actionScope(sc, la, inputs)
	extra := inputEnv(inputs)
	pre := j.preState(s)
	for k, v := range stateEnv(pre) {
		extra[k] = v
	}
	if err := j.nodeScript(ctx, asc, st, la, m.Runs.Main, stepEnv, extra); err != nil {
		return err
	}
	if m.Runs.Post != "" {
		state := map[string]string{}
		for k, v := range pre {
			state[k] = v
		}
		for k, v := range st.state {
			state[k] = v
		}
		cond := m.Runs.PostIf
		if cond == "" {
			cond = "always()"
		}
		j.addPost(postStep{
			title: "Post " + stepTitle(s),
			cond:  cond,
			run: func(ctx context.Context) string {
				ex := inputEnv(inputs)
				for k, v := range stateEnv(state) {
					ex[k] = v
				}
				pst := &stepState{id: s.ID, action: st.action, outputs: map[string]any{}}
				if err := j.nodeScript(ctx, asc, pst, la, m.Runs.Post, stepEnv, ex); err != nil {
					j.log.Styled(ansiRed, "Error: %v", err)
					return "failure"
				}
				return "success"
			},
		})
	}
	return nil
}

func (j *jobRun) nodeScript(ctx context.Context, sc *scope, st *stepState, la *loadedAction, script string, stepEnv, extra map[string]string) error {
	procEnv, err := j.processEnv(ctx, sc, stepEnv, st, extra)
	if err != nil {
		return err
	}
	node, err := j.env.LookPath(ctx, "node", procEnv["PATH"])
	if err != nil {
		return fmt.Errorf("action %s needs node, and none is on PATH: install Node.js or use a job image that has it", la.ref)
	}
	argv := []string{node, j.path(filepath.Join(la.dir, script))}
	return j.runProcess(ctx, sc, st, argv, j.path(j.workspace), procEnv)
}

// runComposite runs a composite action's steps in a scope of their own.
func (j *jobRun) runComposite(ctx context.Context, sc *scope, s *workflow.Step, la *loadedAction, inputs map[string]string, stepEnv map[string]string, st *stepState) error {
	asc := actionScope(sc, la, inputs)
	asc.composite = true
	asc.env = stepEnv
	asc.prefix = st.action + "_"
	steps := la.meta.Runs.Steps
	for _, cs := range steps {
		j.runStep(ctx, asc, cs)
	}
	// Outputs are evaluated with the composite's own steps context.
	contexts := j.contexts(asc, j.envContext(asc, nil))
	env := &expr.Env{Contexts: contexts}
	for _, o := range la.meta.Outputs {
		if o.Value == "" {
			continue
		}
		v, err := evalString(o.Value, env)
		if err != nil {
			return fmt.Errorf("action %s: output %s: %w", s.Uses, o.Name, err)
		}
		st.outputs[o.Name] = v
	}
	if asc.failed {
		return fmt.Errorf("a step of composite action %s failed", s.Uses)
	}
	return nil
}

// preState returns the state saved by the step's pre, if any.
func (j *jobRun) preState(s *workflow.Step) map[string]string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.preStates == nil {
		return nil
	}
	return j.preStates[s]
}

func (j *jobRun) addPost(p postStep) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.posts = append(j.posts, p)
}

// runPres runs the pre: of node actions (and pre-entrypoint of docker actions) before the first step.
func (j *jobRun) runPres(ctx context.Context, top *scope) {
	for _, s := range j.job.Steps {
		if s.Uses == "" || strings.HasPrefix(s.Uses, "docker://") {
			continue
		}
		la, err := j.loadAction(ctx, s, nil)
		if err != nil || la.self || la.meta == nil {
			continue
		}
		m := la.meta
		hasPre := strings.HasPrefix(m.Runs.Using, "node") && m.Runs.Pre != "" || m.Runs.Using == "docker" && m.Runs.PreEntrypoint != ""
		if !hasPre {
			continue
		}
		envCtx := j.envContext(top, nil)
		contexts := j.contexts(top, envCtx)
		env := &expr.Env{Contexts: contexts, Status: j.statusFunc(ctx, top)}
		cond := m.Runs.PreIf
		if cond == "" {
			cond = "always()"
		}
		if ok, err := expr.EvalCondition(cond, env); err != nil || !ok {
			continue
		}
		with := map[string]string{}
		for _, kv := range s.With {
			v, _ := evalString(kv.Value, env)
			with[kv.Key] = v
		}
		inputs, err := j.actionInputs(la, with, env, s)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %v", err)
			continue
		}
		title := "Pre " + stepTitle(s)
		j.log.StepStart(title)
		st := &stepState{id: s.ID, action: j.actionName(top, s), outputs: map[string]any{}}
		var runErr error
		if m.Runs.Using == "docker" {
			runErr = j.dockerEntrypoint(ctx, top, s, la, inputs, nil, st, m.Runs.PreEntrypoint)
		} else {
			runErr = j.nodeScript(ctx, actionScope(top, la, inputs), st, la, m.Runs.Pre, nil, inputEnv(inputs))
		}
		outcome := "success"
		if runErr != nil {
			outcome = "failure"
			j.log.Styled(ansiRed, "Error: %v", runErr)
			j.mu.Lock()
			j.failed = true
			j.mu.Unlock()
		}
		j.mu.Lock()
		if j.preStates == nil {
			j.preStates = map[*workflow.Step]map[string]string{}
		}
		j.preStates[s] = st.state
		j.mu.Unlock()
		j.log.StepEnd(title, outcome, 0)
	}
}

// runPosts runs the registered post steps in reverse order.
func (j *jobRun) runPosts(ctx context.Context) {
	top := &scope{steps: map[string]any{}, inputs: j.r.inputs}
	for i := len(j.posts) - 1; i >= 0; i-- {
		p := j.posts[i]
		contexts := j.contexts(top, j.envContext(top, nil))
		env := &expr.Env{Contexts: contexts, Status: j.statusFunc(ctx, top)}
		ok, err := expr.EvalCondition(p.cond, env)
		if err != nil || !ok {
			continue
		}
		postCtx := ctx
		if ctx.Err() != nil {
			var cancel context.CancelFunc
			postCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alwaysGrace)
			defer cancel()
		}
		j.log.StepStart(p.title)
		outcome := p.run(postCtx)
		if outcome == "failure" {
			j.mu.Lock()
			j.failed = true
			j.mu.Unlock()
		}
		j.log.StepEnd(p.title, outcome, 0)
	}
}
