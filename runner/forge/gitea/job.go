package gitea

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"
	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/internal/yamlnode"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
)

// payloadJob is what the runner reads of the single-job workflow Gitea
// sends before the engine parses it: the job's id, how many steps it has
// (step states are reported by index), and the matrix cell (Gitea writes
// the cell as a one-value matrix).
type payloadJob struct {
	id     string
	steps  int
	matrix map[string]any
}

func inspect(payload []byte) (*payloadJob, error) {
	if len(payload) == 0 {
		return nil, errors.New("the task has no workflow payload")
	}
	var wf struct {
		Jobs map[string]struct {
			Steps    []any `yaml:"steps"`
			Strategy struct {
				Matrix map[string]any `yaml:"matrix"`
			} `yaml:"strategy"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(payload, &wf); err != nil {
		return nil, fmt.Errorf("the task's workflow payload does not parse: %w", err)
	}
	if len(wf.Jobs) != 1 {
		return nil, fmt.Errorf("the task's workflow payload holds %d jobs; Gitea sends exactly one", len(wf.Jobs))
	}
	for id, j := range wf.Jobs {
		pj := &payloadJob{id: id, steps: len(j.Steps)}
		for k, v := range j.Strategy.Matrix {
			if k == "include" || k == "exclude" {
				continue
			}
			if list, ok := v.([]any); ok && len(list) == 1 {
				if pj.matrix == nil {
					pj.matrix = map[string]any{}
				}
				pj.matrix[k] = jsonish(list[0])
			}
		}
		return pj, nil
	}
	return nil, errors.New("unreachable")
}

// jsonish turns YAML-decoded values into what expressions see (float64 numbers).
func jsonish(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = jsonish(e)
		}
	case []any:
		for i, e := range x {
			x[i] = jsonish(e)
		}
	}
	return v
}

// toJob turns the task into the engine's job: the github context as the
// server built it, its secrets, vars and needs, and the runtime tokens as
// masks.
func toJob(t *runnerv1.Task, pj *payloadJob) *forge.Job {
	gh := map[string]any{}
	if t.Context != nil {
		gh = t.Context.AsMap()
	}
	str := func(k string) string { s, _ := gh[k].(string); return s }
	job := &forge.Job{
		ServerID: strconv.FormatInt(t.Id, 10),
		Workflow: withoutNeeds(t.WorkflowPayload, pj.id),
		JobID:    pj.id,
		Event:    str("event_name"),
		Secrets:  t.Secrets,
		Vars:     t.Vars,
		Matrix:   pj.matrix,
		Needs:    map[string]forge.Need{},
		Env:      map[string]string{},
		Inputs:   map[string]any{},
	}
	job.WorkflowPath = workflowPath(str("workflow"))
	job.ActionsURL = strings.TrimSuffix(str("gitea_default_actions_url"), "/")
	if ev, ok := gh["event"].(map[string]any); ok {
		job.Payload = ev
		if in, ok := ev["inputs"].(map[string]any); ok {
			job.Inputs = in
		}
	}
	for _, k := range []string{"token", "gitea_runtime_token"} {
		if v := str(k); v != "" {
			job.Masks = append(job.Masks, v)
		}
	}
	if rt := str("gitea_runtime_token"); rt != "" {
		server := strings.TrimSuffix(str("server_url"), "/")
		job.Env["ACTIONS_RUNTIME_TOKEN"] = rt
		job.Env["ACTIONS_RUNTIME_URL"] = server + "/api/actions_pipeline/"
		job.Env["ACTIONS_RESULTS_URL"] = server
	}
	job.Env["GITEA_ACTIONS"] = "true"
	// The runtime token is the runner's business, not the job's context.
	delete(gh, "gitea_runtime_token")
	job.GitHub = gh
	for id, n := range t.Needs {
		job.Needs[id] = forge.Need{Result: fromResult(n.Result), Outputs: n.Outputs}
	}
	return job
}

func workflowPath(w string) string {
	switch {
	case w == "":
		return "workflow.yml"
	case strings.Contains(w, "/"):
		return w
	}
	return ".gitea/workflows/" + w
}

func toResult(r report.Result) runnerv1.Result {
	switch r {
	case report.Success:
		return runnerv1.Result_RESULT_SUCCESS
	case report.Failure:
		return runnerv1.Result_RESULT_FAILURE
	case report.Cancelled:
		return runnerv1.Result_RESULT_CANCELLED
	case report.Skipped:
		return runnerv1.Result_RESULT_SKIPPED
	}
	return runnerv1.Result_RESULT_FAILURE
}

func fromResult(r runnerv1.Result) report.Result {
	switch r {
	case runnerv1.Result_RESULT_SUCCESS:
		return report.Success
	case runnerv1.Result_RESULT_FAILURE:
		return report.Failure
	case runnerv1.Result_RESULT_CANCELLED:
		return report.Cancelled
	case runnerv1.Result_RESULT_SKIPPED:
		return report.Skipped
	}
	return ""
}

// withoutNeeds drops the job's needs: from the payload. The server already
// resolved them (their results and outputs come with the task), and the
// single-job workflow does not hold the jobs they name.
func withoutNeeds(payload []byte, jobID string) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(payload, &doc) != nil || len(doc.Content) == 0 {
		return payload
	}
	jobs := yamlnode.MapValue(doc.Content[0], "jobs")
	job := yamlnode.MapValue(jobs, jobID)
	if job == nil || job.Kind != yaml.MappingNode {
		return payload
	}
	for i := 0; i+1 < len(job.Content); i += 2 {
		if job.Content[i].Value == "needs" {
			job.Content = append(job.Content[:i], job.Content[i+2:]...)
			out, err := yaml.Marshal(&doc)
			if err != nil {
				return payload
			}
			return out
		}
	}
	return payload
}
