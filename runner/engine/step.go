package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/jobenv"
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

// contexts are the expression contexts a step sees.
func (j *jobRun) contexts(sc *scope, envCtx map[string]any) map[string]any {
	c := j.r.baseContexts(j.needs)
	c["matrix"] = j.matrix
	if c["matrix"] == nil {
		c["matrix"] = map[string]any{}
	}
	c["strategy"] = j.strategy
	c["runner"] = j.runnerContext()
	j.mu.Lock()
	status := "success"
	if j.failed {
		status = "failure"
	}
	j.jobCtx["status"] = status
	c["job"] = j.jobCtx
	j.mu.Unlock()
	c["steps"] = sc.steps
	c["inputs"] = sc.inputs
	c["env"] = envCtx
	if sc.actionPath != "" {
		gh := make(map[string]any, len(j.r.github)+3)
		for k, v := range j.r.github {
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

func (j *jobRun) statusFunc(ctx context.Context, sc *scope) func(string) bool {
	return func(fn string) bool {
		cancelled := ctx.Err() != nil
		switch fn {
		case "success":
			return !cancelled && !j.failed && !sc.anyFailed()
		case "failure":
			return j.failed || sc.anyFailed()
		case "cancelled":
			return cancelled
		}
		return true
	}
}

// runStep runs one step and records its outcome in the scope's steps context.
func (j *jobRun) runStep(ctx context.Context, sc *scope, s *workflow.Step) {
	start := time.Now()
	title := stepTitle(s)
	record := func(outcome, conclusion string, outputs map[string]any) {
		if s.ID != "" {
			if outputs == nil {
				outputs = map[string]any{}
			}
			sc.steps[s.ID] = map[string]any{"outputs": outputs, "outcome": outcome, "conclusion": conclusion}
		}
		if conclusion == "failure" {
			sc.failed = true
			if !sc.composite {
				j.mu.Lock()
				j.failed = true
				j.mu.Unlock()
			}
		}
	}

	// Evaluate the step's own env with the env context as it stands.
	envCtx := j.envContext(sc, nil)
	contexts := j.contexts(sc, envCtx)
	env := &expr.Env{Contexts: contexts, Status: j.statusFunc(ctx, sc), HashFiles: j.hashFiles}
	stepEnv := map[string]string{}
	for _, kv := range s.Env {
		v, err := evalString(kv.Value, env)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %s: env %s: %v", kv.Pos, kv.Key, err)
			record("failure", "failure", nil)
			return
		}
		stepEnv[kv.Key] = v
	}
	envCtx = j.envContext(sc, stepEnv)
	contexts["env"] = envCtx

	cond := s.If
	if strings.TrimSpace(cond) == "" {
		cond = "success()"
	}
	ok, err := expr.EvalCondition(cond, env)
	if err != nil {
		j.log.Styled(ansiRed, "Error: %s: if: %v", s.Pos, err)
		record("failure", "failure", nil)
		return
	}
	if s.Name != "" {
		if t, err := evalString(s.Name, env); err == nil {
			title = t
		}
	}
	if !ok {
		record("skipped", "skipped", nil)
		if !sc.composite {
			j.log.StepEnd(title, "skipped", 0)
		}
		return
	}

	// A step that runs even though the job is cancelled gets its own context.
	stepCtx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), alwaysGrace)
		defer cancel()
	}
	continueOnError := false
	if s.ContinueOnError != "" {
		if continueOnError, err = evalBool(s.ContinueOnError, env); err != nil {
			j.log.Styled(ansiRed, "Error: %s: continue-on-error: %v", s.Pos, err)
			record("failure", "failure", nil)
			return
		}
	}
	if s.TimeoutMinutes != "" {
		m, err := evalNumber(s.TimeoutMinutes, env)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %s: timeout-minutes: %v", s.Pos, err)
			record("failure", "failure", nil)
			return
		}
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeoutCause(stepCtx, time.Duration(m*float64(time.Minute)), errStepTimeout)
		defer cancel()
	}

	j.log.StepStart(title)
	st := &stepState{id: s.ID, action: j.actionName(sc, s), outputs: map[string]any{}}
	var runErr error
	switch {
	case s.Run != "":
		runErr = j.runScript(stepCtx, sc, s, env, stepEnv, st)
	case s.Uses != "":
		runErr = j.runUses(stepCtx, sc, s, env, stepEnv, st)
	default:
		runErr = fmt.Errorf("%s: step has neither run nor uses", s.Pos)
	}
	outcome := "success"
	if runErr != nil {
		outcome = "failure"
		if errors.Is(context.Cause(stepCtx), errStepTimeout) {
			runErr = fmt.Errorf("%w after %s", errStepTimeout, s.TimeoutMinutes+" minutes")
		} else if ctx.Err() != nil {
			outcome = "cancelled"
		}
		j.log.Styled(ansiRed, "Error: %v", runErr)
		j.r.addAnnotation(fmt.Sprintf("%s: error: %s (job %s, step %s)", s.Pos, j.r.masker.Replace(runErr.Error()), j.name, title))
	}
	conclusion := outcome
	if outcome == "failure" && continueOnError {
		conclusion = "success"
		j.log.Styled(ansiYel, "continue-on-error: the step failed but the job goes on")
	}
	record(outcome, conclusion, st.outputs)
	if !sc.composite {
		j.log.StepEnd(title, outcome, time.Since(start))
	}
}

// stepState collects what a step's file commands and workflow commands set.
type stepState struct {
	id      string
	action  string // GITHUB_ACTION
	outputs map[string]any
	state   map[string]string // GITHUB_STATE values, for the action's post step
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

// runScript runs a run: step with its shell.
func (j *jobRun) runScript(ctx context.Context, sc *scope, s *workflow.Step, env *expr.Env, stepEnv map[string]string, st *stepState) error {
	script, err := evalString(s.Run, env)
	if err != nil {
		return fmt.Errorf("%s: run: %w", s.Pos, err)
	}
	shell := s.Shell
	dir := s.WorkingDirectory
	if !sc.composite {
		if shell == "" {
			shell = j.job.Defaults.Shell
		}
		if shell == "" {
			shell = j.r.wf.Defaults.Shell
		}
		if dir == "" {
			dir = j.job.Defaults.WorkingDirectory
		}
		if dir == "" {
			dir = j.r.wf.Defaults.WorkingDirectory
		}
	}
	if shell != "" {
		if shell, err = evalString(shell, env); err != nil {
			return fmt.Errorf("%s: shell: %w", s.Pos, err)
		}
	}
	if dir != "" {
		if dir, err = evalString(dir, env); err != nil {
			return fmt.Errorf("%s: working-directory: %w", s.Pos, err)
		}
	}
	wsInEnv := j.path(j.workspace)
	workDir := wsInEnv
	if dir != "" {
		if path.IsAbs(dir) {
			workDir = dir
		} else {
			workDir = path.Join(wsInEnv, dir)
		}
	}

	ext := jobenv.ScriptExtension(shell)
	scriptHost := filepath.Join(j.temp, randomSuffix()+ext)
	if strings.HasPrefix(strings.TrimSpace(shell), "pwsh") || strings.HasPrefix(strings.TrimSpace(shell), "powershell") {
		script = "$ErrorActionPreference = 'stop'\n" + script + "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n"
	}
	if err := os.WriteFile(scriptHost, []byte(script), 0o755); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	defer os.Remove(scriptHost)

	procEnv, err := j.processEnv(ctx, sc, stepEnv, st, nil)
	if err != nil {
		return err
	}
	look := func(name string) (string, error) { return j.env.LookPath(ctx, name, procEnv["PATH"]) }
	var argv []string
	if j.inside && shell == "" {
		// bash when the image has it, else sh (GitHub's default), decided in
		// the same exec instead of a separate look-up round trip.
		argv = []string{"sh", "-c", `if command -v bash >/dev/null 2>&1; then exec bash -e "$0"; else exec sh -e "$0"; fi`, j.path(scriptHost)}
	} else if argv, err = jobenv.ShellCommand(shell, j.path(scriptHost), look); err != nil {
		return fmt.Errorf("%s: shell: %w", s.Pos, err)
	}
	if j.inside {
		// Check the directory the way the runner does, for a clear message.
	} else if fi, err := os.Stat(workDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("%s: working-directory %s does not exist; create it in an earlier step or fix the path", s.Pos, workDir)
	}
	return j.runProcess(ctx, sc, st, argv, workDir, procEnv)
}

// processEnv is the environment of a step's process.
func (j *jobRun) processEnv(ctx context.Context, sc *scope, stepEnv map[string]string, st *stepState, extra map[string]string) (map[string]string, error) {
	env := map[string]string{}
	if !j.inside {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	} else {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		env["HOME"] = "/github/home"
	}
	for k, v := range j.defaultEnv(sc, st) {
		env[k] = v
	}
	for k, v := range j.envContext(sc, stepEnv) {
		env[k] = v.(string)
	}
	for k, v := range extra {
		env[k] = v
	}
	j.mu.Lock()
	if len(j.paths) > 0 {
		env["PATH"] = strings.Join(j.paths, ":") + ":" + env["PATH"]
	}
	j.mu.Unlock()
	return env, nil
}

// defaultEnv holds GitHub's default environment variables.
func (j *jobRun) defaultEnv(sc *scope, st *stepState) map[string]string {
	gh := j.r.github
	g := func(k string) string { return expr.ToString(gh[k]) }
	env := map[string]string{
		"CI":                       "true",
		"GITHUB_ACTIONS":           "true",
		"GITHUB_ACTION":            st.action,
		"GITHUB_ACTOR":             g("actor"),
		"GITHUB_ACTOR_ID":          g("actor_id"),
		"GITHUB_API_URL":           g("api_url"),
		"GITHUB_BASE_REF":          g("base_ref"),
		"GITHUB_EVENT_NAME":        g("event_name"),
		"GITHUB_EVENT_PATH":        j.eventPath(),
		"GITHUB_GRAPHQL_URL":       g("graphql_url"),
		"GITHUB_HEAD_REF":          g("head_ref"),
		"GITHUB_JOB":               j.id,
		"GITHUB_REF":               g("ref"),
		"GITHUB_REF_NAME":          g("ref_name"),
		"GITHUB_REF_PROTECTED":     "false",
		"GITHUB_REF_TYPE":          g("ref_type"),
		"GITHUB_REPOSITORY":        g("repository"),
		"GITHUB_REPOSITORY_ID":     g("repository_id"),
		"GITHUB_REPOSITORY_OWNER":  g("repository_owner"),
		"GITHUB_RETENTION_DAYS":    g("retention_days"),
		"GITHUB_RUN_ATTEMPT":       g("run_attempt"),
		"GITHUB_RUN_ID":            g("run_id"),
		"GITHUB_RUN_NUMBER":        g("run_number"),
		"GITHUB_SERVER_URL":        g("server_url"),
		"GITHUB_SHA":               g("sha"),
		"GITHUB_TRIGGERING_ACTOR":  g("triggering_actor"),
		"GITHUB_WORKFLOW":          g("workflow"),
		"GITHUB_WORKFLOW_REF":      g("workflow_ref"),
		"GITHUB_WORKFLOW_SHA":      g("workflow_sha"),
		"GITHUB_WORKSPACE":         j.path(j.workspace),
		"RUNNER_ARCH":              expr.ToString(j.runnerContext()["arch"]),
		"RUNNER_ENVIRONMENT":       "self-hosted",
		"RUNNER_NAME":              "gantry",
		"RUNNER_OS":                "Linux",
		"RUNNER_TEMP":              j.path(j.temp),
		"RUNNER_TOOL_CACHE":        j.path(j.toolCache),
		"ACTIONS_RUNNER_DEBUG":     "",
		"GITHUB_STEP_SUMMARY":      "",
		"GITHUB_OUTPUT":            "",
		"GITHUB_ENV":               "",
		"GITHUB_PATH":              "",
		"GITHUB_STATE":             "",
		"GITHUB_ACTION_REPOSITORY": sc.actionRepo,
		"GITHUB_ACTION_REF":        sc.actionRef,
	}
	if sc.actionPath != "" {
		env["GITHUB_ACTION_PATH"] = j.path(sc.actionPath)
	}
	if env["RUNNER_ARCH"] == "" {
		delete(env, "RUNNER_ARCH")
	}
	return env
}

func (j *jobRun) hashFiles(patterns []string) (string, error) {
	return expr.HashFiles(j.workspace, patterns)
}

func (j *jobRun) eventPath() string {
	if j.eventPathOverride != "" {
		return j.eventPathOverride
	}
	return j.r.eventPath
}
