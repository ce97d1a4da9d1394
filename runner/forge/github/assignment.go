package github

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
)

// assignment is one acquired job: it renews the job's lock until the job
// is completed, and owns the reporter that streams its timeline.
type assignment struct {
	s          *session
	msg        *jobRequestMessage // what could be read of the message
	parseErr   error
	runService string // "" on the pool (PipelineAgentJobRequest) flow
	billing    string
	sys        auth   // the job's SystemVssConnection token
	sysURL     string // the Actions service URL for timelines and logs

	cancelOnce sync.Once
	cancelled  chan struct{}
	renewStop  context.CancelFunc
	renewDone  chan struct{}
	rep        *reporter
	doneOnce   sync.Once
	doneErr    error
}

var _ forge.Assignment = (*assignment)(nil)

func newAssignment(s *session, raw []byte, runService, billing string) *assignment {
	a := &assignment{s: s, runService: runService, billing: billing, cancelled: make(chan struct{}), renewDone: make(chan struct{})}
	var m jobRequestMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		a.parseErr = fmt.Errorf("the job message does not parse: %w", err)
		// Read what identifies the job, to report the failure to it.
		var loose struct {
			Plan      *planReference
			Timeline  *timelineReference
			JobID     string
			RequestID int64
			Resources struct{ Endpoints []jobEndpoint }
		}
		_ = json.Unmarshal(raw, &loose)
		m = jobRequestMessage{Plan: loose.Plan, Timeline: loose.Timeline, JobID: loose.JobID, RequestID: loose.RequestID, Resources: loose.Resources}
	}
	a.msg = &m
	if sys := m.endpoint("SystemVssConnection"); sys != nil {
		a.sysURL = sys.URL
		a.sys = auth{token: sys.Authorization.Parameters["AccessToken"]}
	}
	if a.sys.token == "" {
		a.sys = s.runner
	}
	if a.sysURL == "" {
		a.sysURL = s.st.ServerURL
	}
	a.rep = newReporter(a)
	return a
}

func (a *assignment) start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.renewStop = cancel
	go a.renewLoop(ctx)
	a.rep.run()
}

func (a *assignment) cancel() {
	a.cancelOnce.Do(func() { close(a.cancelled) })
}

// Job implements forge.Assignment.
func (a *assignment) Job() (*forge.Job, error) {
	if a.parseErr != nil {
		return nil, a.parseErr
	}
	return toJob(a.msg, a.s.labels)
}

// Reporter implements forge.Assignment.
func (a *assignment) Reporter() report.Job { return a.rep }

// Cancelled implements forge.Assignment.
func (a *assignment) Cancelled() <-chan struct{} { return a.cancelled }

func (a *assignment) renewLoop(ctx context.Context) {
	defer close(a.renewDone)
	every := a.s.p.RenewInterval
	if every <= 0 {
		every = 60 * time.Second
	}
	for {
		err := a.renew(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case statusOf(err) == http.StatusNotFound:
			// The server no longer holds the job for us: it was
			// cancelled or given up; stop working on it.
			a.s.p.logf("job %s: the server dropped the job's lock; cancelling it", a.msg.JobID)
			a.cancel()
			return
		case err != nil:
			a.s.p.logf("job %s: renew the lock: %v", a.msg.JobID, err)
		}
		wait := every
		if err != nil {
			wait = min(every, 5*time.Second)
		}
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

func (a *assignment) renew(ctx context.Context) error {
	m := a.msg
	if a.runService != "" {
		if m.Plan == nil {
			return nil
		}
		var out renewJobResponse
		return a.s.c.call(ctx, "POST", joinURL(a.runService, "renewjob"), "", a.sys,
			renewJobRequest{PlanID: m.Plan.PlanID, JobID: m.JobID}, &out)
	}
	u, err := a.s.c.locate(ctx, a.s.st.ServerURL, a.s.runner, svcAgentRequests,
		map[string]string{"poolId": fmt.Sprint(a.s.st.PoolID), "requestId": fmt.Sprint(m.RequestID)})
	if err != nil {
		return err
	}
	return a.s.c.call(ctx, "PATCH", u+"?lockToken=00000000-0000-0000-0000-000000000000", "5.1-preview", a.s.runner,
		map[string]int64{"requestId": m.RequestID}, nil)
}

// conclusion is a result as the service's TaskResult names it.
func conclusion(r report.Result) string {
	switch r {
	case report.Success:
		return "succeeded"
	case report.Cancelled:
		return "canceled"
	case report.Skipped:
		return "skipped"
	}
	return "failed"
}

// Complete implements forge.Assignment.
func (a *assignment) Complete(ctx context.Context, out *forge.Outcome) error {
	a.doneOnce.Do(func() { a.doneErr = a.complete(ctx, out) })
	return a.doneErr
}

// Fail implements forge.Assignment.
func (a *assignment) Fail(ctx context.Context, reason error) error {
	a.doneOnce.Do(func() {
		a.rep.failure(reason)
		a.doneErr = a.complete(ctx, &forge.Outcome{Result: report.Failure})
	})
	return a.doneErr
}

func (a *assignment) complete(ctx context.Context, out *forge.Outcome) error {
	defer a.s.finished(a)
	if out == nil {
		out = &forge.Outcome{Result: report.Failure}
	}
	a.rep.close(ctx)
	// Keep the lock while completing; stop renewing after.
	defer func() {
		a.renewStop()
		<-a.renewDone
	}()
	m := a.msg
	if m.Plan == nil || m.JobID == "" {
		return errors.New("the job message names no plan or job; nothing to complete")
	}
	outputs := a.safeOutputs(out.Outputs)
	steps, notes := a.rep.results()
	var err error
	if a.runService != "" {
		body := completeJobRequest{PlanID: m.Plan.PlanID, JobID: m.JobID, Conclusion: conclusion(out.Result),
			Outputs: outputs, StepResults: steps, Annotations: notes, BillingOwnerID: a.billing}
		err = retry(ctx, 8, func() error {
			return a.s.c.call(ctx, "POST", joinURL(a.runService, "completejob"), "", a.sys, body, nil)
		})
	} else {
		var u string
		u, err = a.s.c.locate(ctx, a.sysURL, a.sys, svcPlanEvents,
			map[string]string{"scopeIdentifier": m.Plan.ScopeIdentifier, "hubName": m.Plan.PlanType, "planId": m.Plan.PlanID})
		if err == nil {
			ev := jobEvent{Name: "JobCompleted", JobID: m.JobID, RequestID: m.RequestID, Result: conclusion(out.Result), Outputs: outputs}
			err = retry(ctx, 8, func() error { return a.s.c.call(ctx, "POST", u, "2.0-preview.1", a.sys, ev, nil) })
		}
	}
	if err != nil {
		return fmt.Errorf("complete job %s: %w", m.JobID, err)
	}
	return nil
}

// safeOutputs drops an output that holds a secret or a masked value: the
// engine masks outputs already, this is the last line before the server.
func (a *assignment) safeOutputs(in map[string]string) map[string]variableValue {
	if len(in) == 0 {
		return nil
	}
	var secrets []string
	for _, v := range a.msg.Variables {
		if v.IsSecret && len(v.Value) > 0 {
			secrets = append(secrets, v.Value)
		}
	}
	for _, h := range a.msg.Mask {
		if h.Value != "" {
			secrets = append(secrets, h.Value)
		}
	}
	if t := a.sys.token; t != "" {
		secrets = append(secrets, t)
	}
	out := map[string]variableValue{}
next:
	for k, v := range in {
		for _, s := range secrets {
			if strings.Contains(v, s) {
				a.s.p.logf("job %s: output %q holds a secret; not sent", a.msg.JobID, k)
				continue next
			}
		}
		out[k] = variableValue{Value: v}
	}
	return out
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

const timeFormat = "2006-01-02T15:04:05.0000000Z"

func stamp(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(timeFormat)
}
