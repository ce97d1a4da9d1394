package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// errStepTimeout is the cause of a step's context when timeout-minutes passes.
var errStepTimeout = errors.New("the step has timed out")

// scope is a list of steps being run: the job's, or a composite action's.
type scope struct {
	steps      map[string]any    // the steps context
	inputs     map[string]any    // the inputs context
	env        map[string]string // env from the enclosing composite step
	actionPath string            // GITHUB_ACTION_PATH inside a composite action
	actionRepo string
	actionRef  string
	composite  bool
	failed     bool // a step of this scope failed
	parent     *scope
	prefix     string // GITHUB_ACTION prefix for nested steps
}

func (sc *scope) anyFailed() bool {
	for s := sc; s != nil; s = s.parent {
		if s.failed {
			return true
		}
	}
	return false
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

// stepState collects what a step's file commands and workflow commands set.
type stepState struct {
	id      string
	action  string // GITHUB_ACTION
	outputs map[string]any
	state   map[string]string // GITHUB_STATE values, for the action's post step
}

// phase is one run of the step lifecycle: a main step, or the pre or post
// part of an action. Every phase goes through lifecycle, so if:, start and
// end, timeouts, cancellation and failure marking are decided in one place.
type phase struct {
	step            report.Step
	cond            string // if:, pre-if or post-if; empty means def
	def             string // success() for main steps, always() for pre and post
	condPos         string // where cond is written, for errors
	env             *expr.Env
	timeout         time.Duration
	quiet           bool // composite inner steps: no start/end lines of their own
	continueOnError bool
	exec            func(ctx context.Context) error
}

// lifecycle runs one phase and returns its outcome and conclusion.
func (j *jobRun) lifecycle(ctx context.Context, p phase) (outcome, conclusion report.Result) {
	cond := p.cond
	if strings.TrimSpace(cond) == "" {
		cond = p.def
	}
	ok, err := expr.EvalCondition(cond, p.env)
	if err != nil {
		j.rep.errorf("%s: if: %v", p.condPos, err)
		j.stepEnd(p, report.Failure, report.Failure, time.Now(), err.Error())
		return report.Failure, report.Failure
	}
	if !ok {
		if !p.quiet {
			j.rep.StepFinished(p.step, report.StepEnd{Outcome: report.Skipped, Conclusion: report.Skipped, Ended: time.Now()})
		}
		return report.Skipped, report.Skipped
	}
	// A phase that runs even though the job is cancelled gets its own context.
	runCtx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alwaysGrace)
		defer cancel()
	}
	if p.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeoutCause(runCtx, p.timeout, errStepTimeout)
		defer cancel()
	}
	start := time.Now()
	if p.quiet {
		j.rep.infof("▶ %s", p.step.Name)
	} else {
		j.rep.StepStarted(p.step, start)
	}
	runErr := p.exec(runCtx)
	outcome = report.Success
	reason := ""
	if runErr != nil {
		outcome = report.Failure
		if errors.Is(context.Cause(runCtx), errStepTimeout) {
			runErr = fmt.Errorf("%w after %s", errStepTimeout, p.timeout)
		} else if ctx.Err() != nil {
			outcome = report.Cancelled
		}
		if outcome == report.Cancelled {
			// A cancellation is not the step's error: say why, raise nothing.
			reason = "the operation was cancelled"
			if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
				reason += ": " + cause.Error()
			}
			j.rep.infof("%s", reason)
		} else {
			reason = runErr.Error()
			j.rep.errorf("%v", runErr)
			j.rep.Annotate(report.Annotation{Level: "error", Message: fmt.Sprintf("%s (job %s, step %s)", runErr, j.name, p.step.Name), Step: p.step.Name})
		}
	}
	conclusion = outcome
	if outcome == report.Failure && p.continueOnError {
		conclusion = report.Success
		j.rep.Line(report.Warn, "continue-on-error: the step failed but the job goes on")
	}
	j.stepEnd(p, outcome, conclusion, start, reason)
	return outcome, conclusion
}

func (j *jobRun) stepEnd(p phase, outcome, conclusion report.Result, _ time.Time, reason string) {
	if p.quiet {
		return
	}
	j.rep.StepFinished(p.step, report.StepEnd{Outcome: outcome, Conclusion: conclusion, Ended: time.Now(), Err: reason})
}

// runStep runs one step of a scope and records its outcome in the scope's
// steps context. index is the step's position in the job (-1 inside a
// composite action).
func (j *jobRun) runStep(ctx context.Context, sc *scope, s *workflow.Step, index int) {
	record := func(outcome, conclusion report.Result, outputs map[string]any) {
		if s.ID != "" {
			if outputs == nil {
				outputs = map[string]any{}
			}
			sc.steps[s.ID] = map[string]any{"outputs": outputs, "outcome": string(outcome), "conclusion": string(conclusion)}
		}
		if conclusion == report.Failure {
			sc.failed = true
			if !sc.composite {
				j.markFailed()
			}
		}
	}
	step := report.Step{Index: index, ID: s.ID, Name: stepTitle(s), Stage: report.Main}
	p := phase{step: step, cond: s.If, def: "success()", condPos: s.Pos.String(), quiet: sc.composite}
	fail := func(format string, args ...any) {
		j.rep.errorf(format, args...)
		j.stepEnd(p, report.Failure, report.Failure, time.Now(), fmt.Sprintf(format, args...))
		record(report.Failure, report.Failure, nil)
	}

	// The step's own env sees the env context as it stands.
	env := j.exprEnv(ctx, sc, j.envContext(sc, nil))
	stepEnv := map[string]string{}
	pairs, err := envPairs(s.Env, s.EnvExpr, env)
	if err != nil {
		if s.EnvExpr != "" {
			fail("%s: %v", s.Pos, err)
		} else {
			fail("%v", err)
		}
		return
	}
	for _, kv := range pairs {
		stepEnv[kv.Key] = kv.Value
	}
	env.Contexts["env"] = j.envContext(sc, stepEnv)
	if s.Name != "" {
		if t, err := evaluate.String(s.Name, env); err == nil {
			p.step.Name = t
		}
	}
	if s.ContinueOnError != "" {
		v, err := evaluate.Bool(s.ContinueOnError, env)
		if err != nil {
			fail("%s: continue-on-error: %v", s.Pos, err)
			return
		}
		p.continueOnError = v
	}
	if s.TimeoutMinutes != "" {
		m, err := evaluate.Number(s.TimeoutMinutes, env)
		if err != nil {
			fail("%s: timeout-minutes: %v", s.Pos, err)
			return
		}
		p.timeout = time.Duration(m * float64(time.Minute))
	}
	p.env = env
	st := &stepState{id: s.ID, action: j.actionName(sc, s), outputs: map[string]any{}}
	p.exec = func(ctx context.Context) error {
		kind, err := j.kindOf(ctx, s, env)
		if err != nil {
			return err
		}
		return kind.main(ctx, j, stepCall{sc: sc, s: s, env: env, stepEnv: stepEnv, st: st, index: index})
	}
	outcome, conclusion := j.lifecycle(ctx, p)
	record(outcome, conclusion, st.outputs)
}

// actionName is GITHUB_ACTION: the step id, or __run / __run_2 / __owner_repo.
func (j *jobRun) actionName(sc *scope, s *workflow.Step) string {
	name := s.ID
	if name == "" {
		base := "__run"
		if s.Uses != "" {
			base = "__" + strings.NewReplacer("/", "_", "@", "_", ".", "_", "-", "_").Replace(strings.TrimPrefix(s.Uses, "./"))
		}
		j.mu.Lock()
		j.runCount[base]++
		n := j.runCount[base]
		j.mu.Unlock()
		name = base
		if n > 1 {
			name = fmt.Sprintf("%s_%d", base, n)
		}
	}
	if sc.prefix != "" {
		name = sc.prefix + name
	}
	return name
}

// postStep is the post part of an action, run at the end of the job in reverse order.
type postStep struct {
	step report.Step
	cond string
	env  func(ctx context.Context) *expr.Env // the expression env the post-if sees
	run  func(ctx context.Context) error
}

func (j *jobRun) addPost(p postStep) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.posts = append(j.posts, p)
}

// runPosts runs the registered post steps in reverse order.
func (j *jobRun) runPosts(ctx context.Context) {
	for i := len(j.posts) - 1; i >= 0; i-- {
		p := j.posts[i]
		outcome, _ := j.lifecycle(ctx, phase{step: p.step, cond: p.cond, def: "always()", condPos: "post-if of " + p.step.Name, env: p.env(ctx), exec: p.run})
		if outcome == report.Failure {
			j.markFailed()
		}
	}
}

// runPres runs the pre: of node actions (and pre-entrypoint of docker
// actions) before the first step, with the action's inputs in reach of pre-if.
func (j *jobRun) runPres(ctx context.Context, top *scope) {
	for i, s := range j.job.Steps {
		if s.Uses == "" || strings.HasPrefix(s.Uses, "docker://") {
			continue
		}
		la, err := j.loadAction(ctx, s, nil)
		if err != nil || la.self || la.meta == nil {
			continue
		}
		kind := actionKind(la)
		pre, ok := kind.(preRunner)
		if !ok || !pre.hasPre(la) {
			continue
		}
		env := j.exprEnv(ctx, top, j.envContext(top, nil))
		st := &stepState{id: s.ID, action: j.actionName(top, s), outputs: map[string]any{}}
		title := "Pre " + stepTitle(s)
		var inputs map[string]string
		with, werr := j.evalWith(s, env)
		if werr == nil {
			inputs, werr = j.actionInputs(la, with, env, s)
		}
		if werr == nil {
			// pre-if sees the action's inputs, as GitHub evaluates it.
			env.Contexts["inputs"] = evaluate.StringMap(inputs)
		}
		p := phase{step: report.Step{Index: i, ID: s.ID, Name: title, Stage: report.Pre}, cond: pre.preIf(la), def: "always()", condPos: s.Pos.String() + ": pre-if of " + s.Uses, env: env,
			exec: func(ctx context.Context) error {
				if werr != nil {
					return werr
				}
				return pre.pre(ctx, j, stepCall{sc: top, s: s, env: env, st: st, index: i}, la, inputs)
			}}
		outcome, _ := j.lifecycle(ctx, p)
		if outcome == report.Failure {
			j.markFailed()
		}
		j.mu.Lock()
		if j.preStates == nil {
			j.preStates = map[*workflow.Step]map[string]string{}
		}
		j.preStates[s] = st.state
		j.mu.Unlock()
	}
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
