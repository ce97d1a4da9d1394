package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
)

const defaultJobTimeout = 360 * time.Minute

// alwaysGrace bounds how long steps that run despite cancellation
// (if: always() / cancelled()) may take.
const alwaysGrace = 5 * time.Minute

// errJobTimeout is the cause of a job's context when timeout-minutes passes.
var errJobTimeout = errors.New("the job has exceeded the maximum execution time")

// jobRun is one job (one matrix cell) being executed.
type jobRun struct {
	spareFC *fileCommands // file-command files free for the next step (under mu)
	req     *Request
	deps    Deps
	job     *workflow.Job
	id      string
	name    string
	rep     *jobOut
	github  map[string]any // the run's github context plus the job's own values

	env       jobenv.Env
	inside    bool   // processes run in a container: no host environment leaks in
	workspace string // host path
	temp      string // host path: RUNNER_TEMP
	toolCache string
	home      string
	base      string // the job's own directory

	baseEnv map[string]string // workflow env + job env, evaluated at job start

	mu       sync.Mutex
	fileEnv  map[string]string // GITHUB_ENV values, for later steps
	paths    []string          // GITHUB_PATH entries, newest first
	failed   bool              // a step failed (without continue-on-error)
	posts    []postStep
	runCount map[string]int // for GITHUB_ACTION of steps without id
	jobCtx   map[string]any // the job context
	actions  map[string]*loadedAction
	services map[string]any
	cleanup  []func(context.Context)

	eventPathOverride string // GITHUB_EVENT_PATH inside a job container
	network           string // the job network, for docker actions
	preStates         map[*workflow.Step]map[string]string
	nodeVersions      map[string]string // node on PATH -> its version, asked once; warnings given
}

func newJobRun(req *Request, deps Deps) *jobRun {
	name := req.Name
	if name == "" {
		name = req.Job.ID
	}
	return &jobRun{
		req: req, deps: deps, job: req.Job, id: req.Job.ID, name: name,
		rep:     &jobOut{rep: deps.Reporter, m: deps.Masker},
		github:  jobGitHub(req.GitHub, req.Job.ID),
		fileEnv: map[string]string{}, runCount: map[string]int{}, actions: map[string]*loadedAction{},
		services: map[string]any{},
		jobCtx:   map[string]any{"status": "success", "services": map[string]any{}},
	}
}

// execute sets the job up, runs its steps and post steps, and tears it down.
func (j *jobRun) execute(parent context.Context) (report.Result, map[string]string) {
	env := &expr.Env{Contexts: j.runLayer()}

	timeout := defaultJobTimeout
	if s := j.job.TimeoutMinutes; s != "" {
		m, err := evaluate.Number(s, env)
		if err != nil {
			j.rep.errorf("%s: timeout-minutes: %v", j.job.Pos, err)
			return report.Failure, nil
		}
		timeout = time.Duration(m * float64(time.Minute))
	}
	continueOnError := false
	if s := j.job.ContinueOnError; s != "" {
		v, err := evaluate.Bool(s, env)
		if err != nil {
			j.rep.errorf("%s: continue-on-error: %v", j.job.Pos, err)
			return report.Failure, nil
		}
		continueOnError = v
	}

	ctx, cancelTimeout := context.WithTimeoutCause(parent, timeout, fmt.Errorf("%w of %s", errJobTimeout, timeout))
	defer cancelTimeout()

	defer j.teardown()
	if err := j.setup(ctx, env); err != nil {
		if ctx.Err() != nil && !errors.Is(context.Cause(ctx), errJobTimeout) {
			// Set-up failed because the job was cancelled (fail-fast, Ctrl-C):
			// the error it caused is not the reason.
			reason := "the job was cancelled during set-up"
			if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
				reason += ": " + cause.Error()
			}
			j.rep.infof("%s", reason)
			return report.Cancelled, nil
		}
		if j.deps.SkipNoPlatform && errors.Is(err, ErrNoPlatform) {
			// As act does: a windows-latest or macos-latest job is not this
			// machine's to run; say how to run it anyway.
			j.rep.warnf("skipped: %v", err)
			return report.Skipped, nil
		}
		j.rep.errorf("%v", err)
		return j.finish(report.Failure, continueOnError), nil
	}

	top := &scope{steps: map[string]any{}, inputs: j.req.Inputs}
	j.runPres(ctx, top)
	for i, s := range j.job.Steps {
		j.runStep(ctx, top, s, i)
	}
	j.runPosts(ctx)

	result := report.Success
	switch {
	case errors.Is(context.Cause(ctx), errJobTimeout):
		j.rep.errorf("%v", context.Cause(ctx))
		result = report.Failure
	case ctx.Err() != nil:
		result = report.Cancelled
	case j.hasFailed():
		result = report.Failure
	}
	outputs := j.evalOutputs(top)
	return j.finish(result, continueOnError), outputs
}

func (j *jobRun) hasFailed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failed
}

func (j *jobRun) markFailed() {
	j.mu.Lock()
	j.failed = true
	j.mu.Unlock()
}

// finish applies job-level continue-on-error: a failed job does not fail the run.
func (j *jobRun) finish(result report.Result, continueOnError bool) report.Result {
	if result == report.Failure && continueOnError {
		j.rep.Line(report.Warn, "Job failed, but continue-on-error is set")
		return report.Success
	}
	return result
}

// setup makes the job's directories and environment.
func (j *jobRun) setup(ctx context.Context, env *expr.Env) error {
	workDir := j.deps.WorkDir
	if workDir == "" {
		workDir = os.TempDir()
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return fmt.Errorf("job %s: make work dir: %w", j.id, err)
	}
	base, err := os.MkdirTemp(workDir, safeName(j.id)+"-")
	if err != nil {
		return fmt.Errorf("job %s: make job dir: %w", j.id, err)
	}
	j.base = base
	j.cleanup = append(j.cleanup, func(context.Context) {
		if j.deps.RemoveDir != nil {
			j.deps.RemoveDir(base)
			return
		}
		_ = os.RemoveAll(base)
	})
	j.temp = filepath.Join(base, "temp")
	j.home = filepath.Join(base, "home")
	j.toolCache = j.deps.ToolCache
	if j.toolCache == "" {
		j.toolCache = filepath.Join(base, "toolcache")
	}
	for _, d := range []string{j.temp, j.toolCache, j.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("job %s: make %s: %w", j.id, d, err)
		}
	}
	ws := j.deps.Workspace
	if ws == nil {
		return fmt.Errorf("job %s: no workspace provider", j.id)
	}
	repoName := j.repoName()
	path, release, err := ws.Prepare(ctx, filepath.Join(base, "work", repoName, repoName), filepath.Join(base, "workspace-layers"))
	if err != nil {
		return fmt.Errorf("job %s: %w", j.id, err)
	}
	j.workspace = path
	j.cleanup = append(j.cleanup, func(context.Context) {
		if err := release(); err != nil {
			j.rep.warnf("release workspace: %v", err)
		}
	})

	platform, err := j.platform(env)
	if err != nil {
		return err
	}
	// github.workspace is known before anything starts, as on GitHub, so
	// that job env (BUILD_DIR: ${{ github.workspace }}/build) sees it.
	j.github["workspace"] = j.workspace
	if platform != "host" {
		j.github["workspace"] = ctrWork + "/" + j.repoName() + "/" + j.repoName()
	}

	// workflow env < job env; job env sees the workflow env.
	j.baseEnv = map[string]string{}
	ctxEnv := map[string]any{}
	env.Contexts["env"] = ctxEnv
	for _, lvl := range []struct {
		m     workflow.Map
		whole string
		pos   workflow.Pos
	}{{j.req.Workflow.Env, j.req.Workflow.EnvExpr, j.req.Workflow.Pos}, {j.job.Env, j.job.EnvExpr, j.job.Pos}} {
		pairs, err := envPairs(lvl.m, lvl.whole, env)
		if err != nil {
			if lvl.whole != "" {
				return fmt.Errorf("%s: %w", lvl.pos, err)
			}
			return err
		}
		for _, kv := range pairs {
			j.baseEnv[kv.Key] = kv.Value
			ctxEnv[kv.Key] = kv.Value
		}
	}

	if err := j.startEnvironment(ctx, platform, env); err != nil {
		return err
	}
	j.github["workspace"] = j.path(j.workspace)
	return j.resolveActions(ctx)
}

// repoName is the repository's name for GitHub's workspace layout.
func (j *jobRun) repoName() string {
	if r, ok := j.req.GitHub["repository"].(string); ok && r != "" {
		if i := strings.LastIndexByte(r, '/'); i >= 0 {
			r = r[i+1:]
		}
		if n := safeName(r); n != "" {
			return n
		}
	}
	return "repo"
}

func (j *jobRun) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if j.env != nil {
		if err := j.env.Close(ctx); err != nil {
			j.rep.warnf("clean up job environment: %v", err)
		}
	}
	for i := len(j.cleanup) - 1; i >= 0; i-- {
		j.cleanup[i](ctx)
	}
}

// platform decides where the job runs: "host", "container" or an image.
func (j *jobRun) platform(env *expr.Env) (string, error) {
	if j.job.Container != nil && j.job.Container.Image != "" {
		return "container", nil
	}
	v, err := evaluate.Value(j.job.RunsOn, env)
	if err != nil {
		return "", fmt.Errorf("%s: runs-on: %w", j.job.Pos, err)
	}
	labels := RunsOnLabels(v)
	if len(labels) == 0 {
		return "", fmt.Errorf("%s: job %q has no runs-on labels", j.job.Pos, j.id)
	}
	return Platform(labels, j.deps.Platforms, j.job.Pos.String())
}

// Platform maps runs-on labels to "host" or an image: the given mapping
// first, then self-hosted, then GitHub's hosted Ubuntu labels.
func Platform(labels []string, mapping map[string]string, where string) (string, error) {
	for _, l := range labels {
		if p, ok := mapping[strings.ToLower(l)]; ok {
			return p, nil
		}
	}
	for _, l := range labels {
		if strings.EqualFold(l, "self-hosted") {
			return "host", nil
		}
	}
	for _, l := range labels {
		if img, ok := defaultPlatforms[strings.ToLower(l)]; ok {
			return img, nil
		}
	}
	return "", fmt.Errorf("%s: %w for runs-on %v; map a label with -P %s=host (run on this machine) or -P %s=IMAGE", where, ErrNoPlatform, labels, labels[0], labels[0])
}

// ErrNoPlatform is returned when no runs-on label maps to the host or an image.
var ErrNoPlatform = errors.New("no platform")

// DefaultImage is the local image GitHub's hosted Ubuntu labels map to.
const DefaultImage = "gantry/debian:bookworm"

var defaultPlatforms = map[string]string{
	"ubuntu-latest": DefaultImage,
	"ubuntu-24.04":  DefaultImage,
	"ubuntu-22.04":  DefaultImage,
	"ubuntu-20.04":  DefaultImage,
	"linux":         "host",
}

// RunsOnLabels lists the labels of an evaluated runs-on value.
func RunsOnLabels(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, expr.ToString(e))
		}
		return out
	case map[string]any:
		if l, ok := x["labels"]; ok {
			return RunsOnLabels(l)
		}
		if g, ok := x["group"]; ok {
			return []string{expr.ToString(g)}
		}
	}
	return nil
}

// startEnvironment starts where processes run: the host or a container.
func (j *jobRun) startEnvironment(ctx context.Context, platform string, env *expr.Env) error {
	if platform == "host" && j.job.Container == nil && len(j.job.Services) == 0 {
		j.env = jobenv.NewHost()
		return nil
	}
	if j.deps.Containers == nil {
		if platform == "host" {
			return fmt.Errorf("%s: job %q has services, which need a Docker engine, and none is available", j.job.Pos, j.id)
		}
		why := j.deps.NoContainers
		if why == "" {
			why = "no Docker engine is available"
		}
		return fmt.Errorf("%s: job %q runs in a container (%s) but %s; start an engine (scripts/setup.sh) or run the job on this machine with -P <label>=host", j.job.Pos, j.id, platform, why)
	}
	return j.startContainers(ctx, platform, env)
}

// path maps a host path to where the job's processes see it.
func (j *jobRun) path(p string) string {
	if j.env == nil {
		return p
	}
	return j.env.Path(p)
}

func (j *jobRun) evalOutputs(top *scope) map[string]string {
	if len(j.job.Outputs) == 0 {
		return nil
	}
	env := &expr.Env{Contexts: j.contexts(top, j.envContext(top, nil))}
	out := map[string]string{}
	for _, kv := range j.job.Outputs {
		v, err := evaluate.String(kv.Value, env)
		if err != nil {
			j.rep.warnf("%s: output %s: %v", kv.Pos, kv.Key, err)
			continue
		}
		if j.deps.Masker.Replace(v) != v {
			// GitHub drops outputs that contain secrets rather than leak them.
			j.rep.warnf("skip output '%s' since it may contain secret.", kv.Key)
			continue
		}
		out[kv.Key] = v
	}
	return out
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
