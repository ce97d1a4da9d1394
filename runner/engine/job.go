package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/workflow"
)

const defaultJobTimeout = 360 * time.Minute

// errJobTimeout is the cause of a job's context when timeout-minutes passes.
var errJobTimeout = errors.New("the job has exceeded the maximum execution time")

// jobRun is one job (one matrix cell) being executed.
type jobRun struct {
	r        *run
	job      *workflow.Job
	id       string
	name     string
	log      *JobLog
	matrix   map[string]any
	strategy map[string]any
	needs    map[string]any

	env       jobenv.Env
	inside    bool   // processes run in a container: no host environment leaks in
	workspace string // host path
	temp      string // host path: RUNNER_TEMP
	toolCache string
	home      string

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
}

// postStep is the post part of an action, run at the end of the job in reverse order.
type postStep struct {
	title string
	cond  string
	run   func(ctx context.Context) string // returns the outcome
}

func (r *run) runJob(ctx context.Context, job *workflow.Job, cell map[string]any, keys []string, strategy map[string]any, needs map[string]any, isMatrix bool) *JobResult {
	start := time.Now()
	contexts := r.baseContexts(needs)
	contexts["matrix"] = cell
	contexts["strategy"] = strategy
	name := jobDisplayName(job, cell, keys, contexts, isMatrix)
	j := &jobRun{
		r: r, job: job, id: job.ID, name: name, matrix: cell, strategy: strategy, needs: needs,
		fileEnv: map[string]string{}, runCount: map[string]int{}, actions: map[string]*loadedAction{},
		services: map[string]any{},
	}
	j.log = r.out.Job(name, r.nextColor())
	jr := &JobResult{ID: job.ID, Name: name, Matrix: cell}
	result, outputs := j.execute(ctx)
	jr.Result = result
	jr.Outputs = outputs
	jr.Duration = time.Since(start)
	style := ansiGreen
	if result != "success" {
		style = ansiRed
	}
	j.log.Styled(style, "🏁 Job %s: %s [%s]", result, name, jr.Duration.Round(time.Millisecond))
	return jr
}

// execute sets the job up, runs its steps and post steps, and tears it down.
func (j *jobRun) execute(parent context.Context) (string, map[string]string) {
	contexts := j.r.baseContexts(j.needs)
	contexts["matrix"] = j.matrix
	contexts["strategy"] = j.strategy
	env := &expr.Env{Contexts: contexts}

	timeout := defaultJobTimeout
	if s := j.job.TimeoutMinutes; s != "" {
		m, err := evalNumber(s, env)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %s: timeout-minutes: %v", j.job.Pos, err)
			return "failure", nil
		}
		timeout = time.Duration(m * float64(time.Minute))
	}
	continueOnError := false
	if s := j.job.ContinueOnError; s != "" {
		v, err := evalBool(s, env)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %s: continue-on-error: %v", j.job.Pos, err)
			return "failure", nil
		}
		continueOnError = v
	}

	// The job's own concurrency group.
	ctx, cancelJob := context.WithCancelCause(parent)
	defer cancelJob(nil)
	if c := j.job.Concurrency; c != nil {
		group, cancelInProgress, err := j.r.concurrencyOf(c, contexts)
		if err != nil {
			j.log.Styled(ansiRed, "Error: %v", err)
			return "failure", nil
		}
		release, err := j.r.conc.Acquire(ctx, group, cancelInProgress, cancelJob)
		if err != nil {
			j.log.Styled(ansiYel, "%v", err)
			return "cancelled", nil
		}
		defer release()
	}

	ctx, cancelTimeout := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w of %s", errJobTimeout, timeout))
	defer cancelTimeout()

	defer j.teardown()
	if err := j.setup(ctx, env); err != nil {
		j.log.Styled(ansiRed, "Error: %v", err)
		return j.finish("failure", continueOnError), nil
	}
	if j.r.opts.DryRun {
		for _, s := range j.job.Steps {
			j.log.Info("*DRYRUN* %s", stepTitle(s))
		}
		return "success", nil
	}

	top := &scope{steps: map[string]any{}, inputs: j.r.inputs}
	j.runPres(ctx, top)
	for _, s := range j.job.Steps {
		j.runStep(ctx, top, s)
	}
	j.runPosts(ctx)

	result := "success"
	switch {
	case errors.Is(context.Cause(ctx), errJobTimeout):
		j.log.Styled(ansiRed, "Error: %v", context.Cause(ctx))
		result = "failure"
	case j.cancelled(ctx):
		result = "cancelled"
	case j.failed:
		result = "failure"
	}
	outputs := j.evalOutputs(top)
	return j.finish(result, continueOnError), outputs
}

// finish applies job-level continue-on-error: a failed job does not fail the run.
func (j *jobRun) finish(result string, continueOnError bool) string {
	if result == "failure" && continueOnError {
		j.log.Styled(ansiYel, "Job failed, but continue-on-error is set")
		return "success"
	}
	return result
}

func (j *jobRun) cancelled(ctx context.Context) bool {
	return ctx.Err() != nil
}

// setup makes the job's directories and environment.
func (j *jobRun) setup(ctx context.Context, env *expr.Env) error {
	base := filepath.Join(j.r.dir, "jobs", safeName(j.id)+"-"+randomSuffix())
	j.temp = filepath.Join(base, "temp")
	j.toolCache = filepath.Join(j.r.dir, "toolcache")
	j.home = filepath.Join(base, "home")
	for _, d := range []string{j.temp, j.toolCache, j.home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("job %s: make %s: %w", j.id, d, err)
		}
	}
	if j.r.opts.Bind {
		j.workspace = j.r.opts.RepoDir
	} else {
		j.workspace = filepath.Join(base, "work", filepath.Base(j.r.opts.RepoDir), filepath.Base(j.r.opts.RepoDir))
		if err := copyTree(j.r.opts.RepoDir, j.workspace); err != nil {
			return fmt.Errorf("job %s: copy repository into workspace: %w", j.id, err)
		}
	}

	// workflow env < job env; job env sees the workflow env.
	j.baseEnv = map[string]string{}
	ctxEnv := map[string]any{}
	env.Contexts["env"] = ctxEnv
	for _, kv := range j.r.wf.Env {
		v, err := evalString(kv.Value, env)
		if err != nil {
			return fmt.Errorf("%s: env %s: %w", kv.Pos, kv.Key, err)
		}
		j.baseEnv[kv.Key] = v
		ctxEnv[kv.Key] = v
	}
	for _, kv := range j.job.Env {
		v, err := evalString(kv.Value, env)
		if err != nil {
			return fmt.Errorf("%s: env %s: %w", kv.Pos, kv.Key, err)
		}
		j.baseEnv[kv.Key] = v
		ctxEnv[kv.Key] = v
	}

	j.jobCtx = map[string]any{"status": "success", "services": j.services}
	platform, err := j.platform(env)
	if err != nil {
		return err
	}
	if err := j.startEnvironment(ctx, platform, env); err != nil {
		return err
	}
	if err := j.resolveActions(ctx); err != nil {
		return err
	}
	return nil
}

func (j *jobRun) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := len(j.cleanup) - 1; i >= 0; i-- {
		j.cleanup[i](ctx)
	}
	if j.env != nil {
		if err := j.env.Close(ctx); err != nil {
			j.log.Styled(ansiYel, "Warning: clean up job environment: %v", err)
		}
	}
}

// platform decides where the job runs: "host" or an image.
func (j *jobRun) platform(env *expr.Env) (string, error) {
	if j.job.Container != nil && j.job.Container.Image != "" {
		return "container", nil
	}
	v, err := evalValue(j.job.RunsOn, env)
	if err != nil {
		return "", fmt.Errorf("%s: runs-on: %w", j.job.Pos, err)
	}
	labels := runsOnLabels(v)
	if len(labels) == 0 {
		return "", fmt.Errorf("%s: job %q has no runs-on labels", j.job.Pos, j.id)
	}
	for _, l := range labels {
		if p, ok := j.r.opts.Platforms[strings.ToLower(l)]; ok {
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
	return "", fmt.Errorf("%s: no platform for runs-on %v; map a label with -P %s=host (run on this machine) or -P %s=IMAGE", j.job.Pos, labels, labels[0], labels[0])
}

// DefaultImage is the local image GitHub's hosted Ubuntu labels map to.
const DefaultImage = "gantry/debian:bookworm"

var defaultPlatforms = map[string]string{
	"ubuntu-latest": DefaultImage,
	"ubuntu-24.04":  DefaultImage,
	"ubuntu-22.04":  DefaultImage,
	"ubuntu-20.04":  DefaultImage,
	"linux":         "host",
}

func runsOnLabels(v any) []string {
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
			return runsOnLabels(l)
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
	if j.r.opts.Containers == nil {
		if platform == "host" {
			return fmt.Errorf("%s: job %q has services, which need a Docker engine, and none is available", j.job.Pos, j.id)
		}
		why := j.r.opts.NoContainers
		if why == "" {
			why = "no Docker engine is available"
		}
		return fmt.Errorf("%s: job %q runs in a container (%s) but %s; start an engine (scripts/setup.sh) or run the job on this machine with -P <label>=host", j.job.Pos, j.id, platform, why)
	}
	return j.startContainers(ctx, platform, env)
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
	contexts := j.contexts(top, j.envContext(top, nil))
	env := &expr.Env{Contexts: contexts}
	out := map[string]string{}
	for _, kv := range j.job.Outputs {
		v, err := evalString(kv.Value, env)
		if err != nil {
			j.log.Styled(ansiYel, "Warning: %s: output %s: %v", kv.Pos, kv.Key, err)
			continue
		}
		if j.r.masker.Replace(v) != v {
			// GitHub drops outputs that contain secrets rather than leak them.
			j.log.Styled(ansiYel, "Warning: skip output '%s' since it may contain secret.", kv.Key)
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
