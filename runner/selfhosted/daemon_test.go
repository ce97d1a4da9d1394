package selfhosted

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/recorder"
)

// fakeProto hands out the queued assignments, then nothing.
type fakeProto struct {
	queue chan forge.Assignment
}

func (p *fakeProto) Register(context.Context, forge.Registration) (*forge.Credentials, error) {
	return &forge.Credentials{Forge: "fake"}, nil
}
func (p *fakeProto) Connect(context.Context, *forge.Credentials, []string) (forge.Session, error) {
	return p, nil
}
func (p *fakeProto) Remove(context.Context, *forge.Credentials) error { return nil }
func (p *fakeProto) Next(ctx context.Context) (forge.Assignment, error) {
	select {
	case a := <-p.queue:
		return a, nil
	case <-ctx.Done():
		return nil, nil
	case <-time.After(10 * time.Millisecond):
		return nil, nil
	}
}
func (p *fakeProto) Close(context.Context) error { return nil }

type fakeAssignment struct {
	job         *forge.Job
	jobErr      error
	completeErr error
	mu          sync.Mutex
	failed      string
	outcome     *forge.Outcome
	done        chan struct{}
}

func newAssignment(job *forge.Job, jobErr, completeErr error) *fakeAssignment {
	return &fakeAssignment{job: job, jobErr: jobErr, completeErr: completeErr, done: make(chan struct{})}
}

func (a *fakeAssignment) Job() (*forge.Job, error)   { return a.job, a.jobErr }
func (a *fakeAssignment) Reporter() report.Job       { return &recorder.Job{} }
func (a *fakeAssignment) Cancelled() <-chan struct{} { return nil }
func (a *fakeAssignment) Complete(_ context.Context, out *forge.Outcome) error {
	a.mu.Lock()
	a.outcome = out
	a.mu.Unlock()
	close(a.done)
	return a.completeErr
}
func (a *fakeAssignment) Fail(_ context.Context, reason error) error {
	a.mu.Lock()
	a.failed = reason.Error()
	a.mu.Unlock()
	close(a.done)
	return nil
}

type execFunc func(ctx context.Context, job *forge.Job, rep report.Job) (*forge.Outcome, error)

func (f execFunc) Execute(ctx context.Context, job *forge.Job, rep report.Job) (*forge.Outcome, error) {
	return f(ctx, job, rep)
}

func TestDaemonFailuresAndInflightRecords(t *testing.T) {
	dir := t.TempDir()
	p := &fakeProto{queue: make(chan forge.Assignment, 4)}
	unreadable := newAssignment(nil, errors.New("payload garbage"), nil)
	leaky := newAssignment(&forge.Job{ServerID: "2", Secrets: map[string]string{"S": "topsecret"}}, nil, nil)
	lost := newAssignment(&forge.Job{ServerID: "3"}, nil, errors.New("server gone"))
	fine := newAssignment(&forge.Job{ServerID: "4"}, nil, nil)
	for _, a := range []*fakeAssignment{unreadable, leaky, lost, fine} {
		p.queue <- a
	}
	exec := execFunc(func(_ context.Context, job *forge.Job, _ report.Job) (*forge.Outcome, error) {
		if job.ServerID == "2" {
			return nil, errors.New("bad thing near topsecret")
		}
		return &forge.Outcome{Result: report.Success}, nil
	})
	m := NewMetrics()
	ctx, stop := context.WithCancel(context.Background())
	r := &Runner{Protocol: p, Creds: &forge.Credentials{Forge: "fake"}, Executor: exec, Dir: dir, Capacity: 2, Metrics: m, Grace: time.Second}
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	for _, a := range []*fakeAssignment{unreadable, leaky, lost, fine} {
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatal("assignment not finished")
		}
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(unreadable.failed, "payload garbage") {
		t.Errorf("unreadable job failed with %q", unreadable.failed)
	}
	if leaky.failed != "bad thing near ***" {
		t.Errorf("executor error reported as %q (want the secret masked)", leaky.failed)
	}
	if fine.outcome == nil || fine.outcome.Result != report.Success {
		t.Errorf("fine job %+v", fine.outcome)
	}
	// Only the job whose end the server never heard of stays in flight.
	got, err := inflight{dir: dir}.list()
	if err != nil || len(got) != 1 || got[0].ServerID != "3" {
		t.Errorf("in flight after the run: %+v %v", got, err)
	}

	// Restarted with a protocol that cannot report orphans: the record is
	// dropped (with a warning), not kept forever.
	p2 := &fakeProto{queue: make(chan forge.Assignment)}
	ctx2, stop2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer stop2()
	r2 := &Runner{Protocol: p2, Creds: &forge.Credentials{Forge: "fake"}, Executor: exec, Dir: dir, Grace: time.Second}
	if err := r2.Run(ctx2); err != nil {
		t.Fatal(err)
	}
	if got, _ := (inflight{dir: dir}).list(); len(got) != 0 {
		t.Errorf("records after restart: %+v", got)
	}
}
