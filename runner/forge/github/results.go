package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// results is the results service client (Twirp JSON, snake_case), which
// actions/runner feeds in addition to the Actions service when the job
// carries system.github.results_endpoint: step states, step and job logs
// and step summaries, each log or summary put to a signed blob URL.
// Best effort, like the runner: after a few failures it stops trying.
type results struct {
	a    *assignment
	base string

	mu     sync.Mutex
	change int64
	fails  int
}

const (
	twirpReceiver = "twirp/results.services.receiver.Receiver/"
	twirpSteps    = "twirp/github.actions.results.api.v1.WorkflowStepUpdateService/WorkflowStepsUpdate"
)

func newResults(a *assignment) *results {
	ep := a.msg.Variables["system.github.results_endpoint"].Value
	if ep == "" || a.msg.Plan == nil || a.sys.token == "" {
		return nil
	}
	return &results{a: a, base: ep}
}

func (r *results) ids() map[string]any {
	return map[string]any{"workflow_run_backend_id": r.a.msg.Plan.PlanID, "workflow_job_run_backend_id": r.a.msg.JobID}
}

// do runs one best-effort results call.
func (r *results) do(ctx context.Context, f func(context.Context) error) {
	r.mu.Lock()
	skip := r.fails > 3
	r.mu.Unlock()
	if skip {
		return
	}
	if err := retry(ctx, 3, func() error { return f(ctx) }); err != nil {
		r.mu.Lock()
		r.fails++
		r.mu.Unlock()
		r.a.s.p.logf("job %s: results service: %v", r.a.msg.JobID, err)
	}
}

func (r *results) post(ctx context.Context, method string, body, out any) error {
	return r.a.s.c.call(ctx, "POST", joinURL(r.base, method), "", r.a.sys, body, out)
}

// Step status and conclusion numbers of the results API.
func stepStatus(state string) int {
	switch state {
	case "InProgress":
		return 3
	case "Pending":
		return 5
	case "Completed":
		return 6
	}
	return 0
}

func stepConclusion(result string) int {
	switch result {
	case "succeeded":
		return 2
	case "failed":
		return 3
	case "canceled":
		return 4
	case "skipped":
		return 7
	}
	return 0
}

// steps sends the state of step records.
func (r *results) steps(ctx context.Context, recs []*timelineRecord) {
	var steps []map[string]any
	for _, rec := range recs {
		if rec.Type != "Task" {
			continue
		}
		s := map[string]any{"external_id": rec.ID, "number": rec.Order, "name": rec.Name,
			"status": stepStatus(rec.State), "conclusion": stepConclusion(rec.Result)}
		if rec.StartTime != "" {
			s["started_at"] = rec.StartTime
		}
		if rec.FinishTime != "" {
			s["completed_at"] = rec.FinishTime
		}
		steps = append(steps, s)
	}
	if len(steps) == 0 {
		return
	}
	r.mu.Lock()
	r.change++
	body := r.ids()
	body["change_order"] = r.change
	r.mu.Unlock()
	body["steps"] = steps
	r.do(ctx, func(ctx context.Context) error { return r.post(ctx, twirpSteps, body, nil) })
}

// upload gets a signed URL, puts content there, and records the metadata.
func (r *results) upload(ctx context.Context, getURL, urlField, metaMethod string, req map[string]any, meta map[string]any, content []byte, ctype string) {
	r.do(ctx, func(ctx context.Context) error {
		var signed map[string]any
		if err := r.post(ctx, twirpReceiver+getURL, req, &signed); err != nil {
			return err
		}
		u, _ := signed[urlField].(string)
		if u == "" {
			return errors.New(getURL + ": no upload URL in the answer")
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(string(content)))
		if err != nil {
			return err
		}
		if t, _ := signed["blob_storage_type"].(string); t == "BLOB_STORAGE_TYPE_AZURE" {
			hreq.Header.Set("x-ms-blob-type", "BlockBlob")
		}
		if ctype != "" {
			hreq.Header.Set("Content-Type", ctype)
		}
		// The signed URL carries its own authorization: no token here.
		resp, err := r.a.s.c.http.Do(hreq)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return &statusError{Method: "PUT", URL: u, Status: resp.StatusCode}
		}
		var ok struct {
			Ok bool `json:"ok"`
		}
		for k, v := range req {
			meta[k] = v
		}
		meta["uploaded_at"] = time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		if err := r.post(ctx, twirpReceiver+metaMethod, meta, &ok); err != nil {
			return err
		}
		if !ok.Ok {
			return errors.New(metaMethod + ": the service did not accept the upload")
		}
		return nil
	})
}

func (r *results) stepLog(ctx context.Context, stepID string, content []byte, lines int) {
	req := r.ids()
	req["step_backend_id"] = stepID
	r.upload(ctx, "GetStepLogsSignedBlobURL", "logs_url", "CreateStepLogsMetadata", req, map[string]any{"line_count": lines}, content, "text/plain")
}

func (r *results) jobLog(ctx context.Context, content []byte, lines int) {
	r.upload(ctx, "GetJobLogsSignedBlobURL", "logs_url", "CreateJobLogsMetadata", r.ids(), map[string]any{"line_count": lines}, content, "text/plain")
}

func (r *results) summary(ctx context.Context, stepID string, content []byte) {
	req := r.ids()
	req["step_backend_id"] = stepID
	r.upload(ctx, "GetStepSummarySignedBlobURL", "summary_url", "CreateStepSummaryMetadata", req, map[string]any{"size": len(content)}, content, "")
}
