package selfhosted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// Executor runs a forge's job through the engine: a fresh folder per job
// (workspace, temp, home, event file), the runner's labels as the runs-on
// mapping, the job's secrets and extra masks masked in everything reported,
// and every container the job started removed after it.
type Executor struct {
	// Containers runs docker-label jobs, container jobs, services and
	// docker actions; nil means host only, NoContainers says why.
	Containers   jobenv.ContainerBackend
	NoContainers string
	Actions      action.Source // action.CacheSource{} when nil
	// WorkRoot is where each job's folder is made (removed after the job);
	// the system temp dir when empty.
	WorkRoot  string
	ToolCache string
	BuildArgs map[string]string
	Network   string
	// Labels are the runner's labels; a job's own RunsOn wins.
	Labels []Label
}

// ErrUnknownLabel is wrapped by the error of a job whose runs-on names no
// label of this runner.
var ErrUnknownLabel = errors.New("unknown label")

// Execute implements forge.Executor.
func (e *Executor) Execute(ctx context.Context, job *forge.Job, rep report.Job) (*forge.Outcome, error) {
	path := job.WorkflowPath
	if path == "" {
		path = "workflow.yml"
	}
	wf, err := workflow.Parse(path, job.Workflow)
	if err != nil {
		return nil, fmt.Errorf("the job's workflow does not parse: %w", err)
	}
	wj := wf.Job(job.JobID)
	if wj == nil {
		if job.JobID == "" && len(wf.Jobs) == 1 {
			wj = wf.Jobs[0]
		} else {
			return nil, fmt.Errorf("%s: the workflow has no job %q", path, job.JobID)
		}
	}
	if wj.Uses != "" {
		return nil, fmt.Errorf("%s: job %q calls a reusable workflow (%s); the server must expand it", wj.Pos, wj.ID, wj.Uses)
	}

	platforms := e.platforms(job)
	needs := needsContext(job.Needs)
	if err := checkLabels(wj, job, needs, platforms); err != nil {
		return nil, err
	}

	run, err := jobIf(wj, job, needs)
	if err != nil {
		return nil, err
	}
	if !run {
		// The server left the job's if: to the runner (Gitea does when
		// it holds no status function the server decides).
		now := time.Now()
		rep.Started(report.JobInfo{JobID: wj.ID, Name: jobName(wj, job), Matrix: job.Matrix, Started: now})
		rep.Line(report.Info, "Skipped: the job's if: is false")
		rep.Finished(report.JobEnd{Result: report.Skipped, Ended: now})
		return &forge.Outcome{Result: report.Skipped}, nil
	}

	masker := mask.New()
	for _, v := range job.Secrets {
		masker.Add(v)
	}
	for _, v := range job.Masks {
		masker.Add(v)
	}

	if e.WorkRoot != "" {
		if err := os.MkdirAll(e.WorkRoot, 0o755); err != nil {
			return nil, fmt.Errorf("work root: %w", err)
		}
	}
	dir, err := os.MkdirTemp(e.WorkRoot, "gantry-job-")
	if err != nil {
		return nil, fmt.Errorf("make the job's folder: %w", err)
	}
	defer os.RemoveAll(dir)

	payload := job.Payload
	if payload == nil {
		payload = map[string]any{}
	}
	eventPath := filepath.Join(dir, "event.json")
	data, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode the event payload: %w", err)
	}
	if err := os.WriteFile(eventPath, data, 0o600); err != nil {
		return nil, fmt.Errorf("write the event payload: %w", err)
	}

	// A unique run id per job: container cleanup is by run id, and two jobs
	// of one workflow run may share this runner.
	runID := "job-" + safeID(job.ServerID) + "-" + filepath.Base(dir)
	gh := e.githubContext(ctx, job, wf, dir, eventPath, payload)
	req := &engine.Request{
		RunID: runID, Workflow: wf, Job: wj, Name: jobName(wj, job),
		Matrix: job.Matrix, Strategy: map[string]any{}, Needs: needs,
		GitHub: gh, Inputs: job.Inputs, Vars: job.Vars, Secrets: job.Secrets,
		EventPath: eventPath, Env: job.Env,
	}
	if req.Inputs == nil {
		req.Inputs = map[string]any{}
	}
	actions := e.Actions
	if actions == nil {
		actions = action.CacheSource{}
	}
	if cs, ok := actions.(action.CacheSource); ok && cs.Mirror == "" && job.ActionsURL != "" {
		cs.Mirror = job.ActionsURL
		actions = cs
	}
	deps := engine.Deps{
		Reporter: rep, Masker: masker,
		Containers: e.Containers, NoContainers: e.NoContainers,
		Actions: actions, Workspace: emptyWorkspace{},
		WorkDir: filepath.Join(dir, "jobs"), ToolCache: e.ToolCache,
		Platforms: platforms, BuildArgs: e.BuildArgs, Network: e.Network,
	}
	res := engine.RunJob(ctx, req, deps)
	if e.Containers != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if err := e.Containers.Cleanup(cctx, runID); err != nil {
			rep.Line(report.Warn, masker.Replace("clean up the job's containers: "+err.Error()))
		}
		cancel()
	}
	return &forge.Outcome{Result: res.Result, Outputs: res.Outputs}, nil
}

func (e *Executor) platforms(job *forge.Job) map[string]string {
	out := Platforms(e.Labels)
	for k, v := range job.RunsOn {
		out[strings.ToLower(k)] = v
	}
	return out
}

// checkLabels fails a job whose runs-on names none of the runner's labels:
// the server should not have offered it, and guessing a platform would run
// it somewhere the user did not ask for.
func checkLabels(wj *workflow.Job, job *forge.Job, needs map[string]any, platforms map[string]string) error {
	if len(platforms) == 0 || wj.RunsOn == nil {
		return nil
	}
	env := &expr.Env{Contexts: map[string]any{
		"github": job.GitHub, "inputs": job.Inputs, "vars": evaluate.StringMap(job.Vars),
		"needs": needs, "matrix": job.Matrix, "strategy": map[string]any{},
	}}
	v, err := evaluate.Value(wj.RunsOn, env)
	if err != nil {
		return fmt.Errorf("%s: runs-on: %w", wj.Pos, err)
	}
	labels := engine.RunsOnLabels(v)
	for _, l := range labels {
		if _, ok := platforms[strings.ToLower(l)]; ok {
			return nil
		}
	}
	known := make([]string, 0, len(platforms))
	for k := range platforms {
		known = append(known, k)
	}
	return fmt.Errorf("%s: %w: runs-on %v matches none of this runner's labels %v; register the runner with --labels NAME:host or NAME:docker://IMAGE", wj.Pos, ErrUnknownLabel, labels, known)
}

// jobIf evaluates the job's if: against the results of the jobs it needs.
func jobIf(wj *workflow.Job, job *forge.Job, needs map[string]any) (bool, error) {
	if strings.TrimSpace(wj.If) == "" {
		return true, nil
	}
	allOK, anyFailed := true, false
	for _, n := range job.Needs {
		if n.Result != "" && n.Result != report.Success {
			allOK = false
		}
		if n.Result == report.Failure {
			anyFailed = true
		}
	}
	env := &expr.Env{Contexts: map[string]any{
		"github": job.GitHub, "inputs": job.Inputs, "vars": evaluate.StringMap(job.Vars),
		"needs": needs, "matrix": job.Matrix, "strategy": map[string]any{},
	}, Status: func(fn string) bool {
		switch fn {
		case "success":
			return allOK
		case "failure":
			return anyFailed
		}
		return false
	}}
	ok, err := expr.EvalCondition(wj.If, env)
	if err != nil {
		return false, fmt.Errorf("%s: job %q if: %w", wj.IfPos, wj.ID, err)
	}
	return ok, nil
}

// githubContext is the server's github context when it sent one, with the
// runner's own paths; otherwise one derived from the event payload.
func (e *Executor) githubContext(ctx context.Context, job *forge.Job, wf *workflow.Workflow, dir, eventPath string, payload map[string]any) map[string]any {
	var gh map[string]any
	if job.GitHub != nil {
		gh = make(map[string]any, len(job.GitHub)+2)
		for k, v := range job.GitHub {
			gh[k] = v
		}
	} else {
		gh = trigger.GitHubContext(ctx, trigger.ContextOptions{
			EventName: job.Event, Payload: payload, EventPath: eventPath,
			RepoDir: dir, Workspace: dir, WorkflowPath: wf.Path, Workflow: wf.Name,
			Token: job.Secrets["GITHUB_TOKEN"],
		})
	}
	gh["event_path"] = eventPath
	if _, ok := gh["event"]; !ok {
		gh["event"] = payload
	}
	if _, ok := gh["event_name"]; !ok && job.Event != "" {
		gh["event_name"] = job.Event
	}
	return gh
}

func jobName(wj *workflow.Job, job *forge.Job) string {
	if n, ok := job.GitHub["job_name"].(string); ok && n != "" {
		return n
	}
	if wj.Name != "" && !strings.Contains(wj.Name, "${{") {
		return wj.Name
	}
	return wj.ID
}

func needsContext(needs map[string]forge.Need) map[string]any {
	out := make(map[string]any, len(needs))
	for id, n := range needs {
		outputs := make(map[string]any, len(n.Outputs))
		for k, v := range n.Outputs {
			outputs[k] = v
		}
		result := n.Result
		if result == "" {
			result = report.Success
		}
		out[id] = map[string]any{"result": string(result), "outputs": outputs}
	}
	return out
}

func safeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() > 40 {
		return b.String()[:40]
	}
	return b.String()
}

// emptyWorkspace gives each job an empty GITHUB_WORKSPACE: on a forge the
// checkout is the job's own actions/checkout step.
type emptyWorkspace struct{}

func (emptyWorkspace) Prepare(_ context.Context, dir, _ string) (string, func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("make the workspace: %w", err)
	}
	return dir, func() error { return os.RemoveAll(dir) }, nil
}
