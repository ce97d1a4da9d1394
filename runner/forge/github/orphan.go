package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gantry-ci/gantry/runner/forge"
)

// orphanState is what is kept on disk for a running job so a restarted
// runner can report it failed: ids and URLs only, never a token (the
// runner's own credentials complete it).
type orphanState struct {
	RunService string `json:"runService,omitempty"`
	PlanID     string `json:"planId"`
	JobID      string `json:"jobId"`
	Billing    string `json:"billingOwnerId,omitempty"`
}

var (
	_ forge.Resumable      = (*assignment)(nil)
	_ forge.OrphanReporter = (*Protocol)(nil)
)

// State implements forge.Resumable.
func (a *assignment) State() []byte {
	st := orphanState{RunService: a.runService, JobID: a.msg.JobID, Billing: a.billing}
	if a.msg.Plan != nil {
		st.PlanID = a.msg.Plan.PlanID
	}
	data, _ := json.Marshal(st)
	return data
}

// FailOrphan implements forge.OrphanReporter: completejob with a failed
// conclusion and the reason as an annotation. A job of the pool flow
// cannot be completed without its (unsaved) job token; the server
// abandons it when its lock runs out.
func (p *Protocol) FailOrphan(ctx context.Context, creds *forge.Credentials, o forge.Orphan, reason string) error {
	var st orphanState
	if err := json.Unmarshal(o.State, &st); err != nil || st.JobID == "" {
		return fmt.Errorf("job %s: no saved state to report it with", o.ServerID)
	}
	if st.RunService == "" {
		return errors.New("a pool-flow job cannot be reported after a restart; the server abandons it when its lock expires")
	}
	s, k, err := loadState(creds)
	if err != nil {
		return err
	}
	c := newClient(p.HTTP, s.Version)
	a := auth{source: p.tokens(s, k, c)}
	body := completeJobRequest{PlanID: st.PlanID, JobID: st.JobID, Conclusion: "failed", BillingOwnerID: st.Billing,
		Annotations: []annotation{{Level: "FAILURE", Message: reason}}}
	err = retry(ctx, 5, func() error { return c.call(ctx, "POST", joinURL(st.RunService, "completejob"), "", a, body, nil) })
	if statusOf(err) == 404 {
		return nil // the server has finished with it already
	}
	return err
}
