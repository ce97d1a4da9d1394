package records

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
)

type fakeRecorder struct {
	name string
	err  error
	mu   sync.Mutex
	got  []Event
	// block, when set, makes Record hang until it is closed, ignoring ctx.
	block chan struct{}
}

func (f *fakeRecorder) String() string { return f.name }

func (f *fakeRecorder) Record(ctx context.Context, e Event) error {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, e)
	return f.err
}

func (f *fakeRecorder) events() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.got...)
}

func TestMultiFansOutAndCollects(t *testing.T) {
	ok1, ok2 := &fakeRecorder{name: "a"}, &fakeRecorder{name: "b"}
	bad1 := &fakeRecorder{name: "c", err: errors.New("c: boom")}
	bad2 := &fakeRecorder{name: "d", err: errors.New("d: bang")}
	m := &Multi{Recorders: []Recorder{ok1, bad1, nil, ok2, bad2}}
	err := m.Record(context.Background(), ev(Step, 10))
	var me *multierror.Error
	if !errors.As(err, &me) || len(me.Errors) != 2 {
		t.Fatalf("error = %v, want a multierror with 2 entries", err)
	}
	if !strings.Contains(err.Error(), "c: boom") || !strings.Contains(err.Error(), "d: bang") {
		t.Errorf("error = %v", err)
	}
	for _, r := range []*fakeRecorder{ok1, ok2, bad1, bad2} {
		if got := r.events(); len(got) != 1 || got[0].Weight != 10 {
			t.Errorf("%s got %v", r.name, got)
		}
	}
	if err := (&Multi{Recorders: []Recorder{ok1}}).Record(context.Background(), ev(Step, 25)); err != nil {
		t.Errorf("all fine, yet error %v", err)
	}
	if err := (&Multi{}).Record(context.Background(), ev(Step, 25)); err != nil {
		t.Errorf("no recorders, yet error %v", err)
	}
}

func TestMultiNeverBlocks(t *testing.T) {
	stuck := &fakeRecorder{name: "stuck endpoint", block: make(chan struct{})}
	defer close(stuck.block)
	fine := &fakeRecorder{name: "fine"}
	m := &Multi{Recorders: []Recorder{stuck, fine}, Timeout: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- m.Record(context.Background(), ev(RolledBack, 0)) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stuck endpoint: no answer within 100ms") {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a recorder ignoring its context blocked Multi")
	}
	if len(fine.events()) != 1 {
		t.Error("the healthy recorder missed the event")
	}
}

func TestMultiRecordsWhileCancelled(t *testing.T) {
	r := &ctxRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Multi{Recorders: []Recorder{r}, Timeout: time.Minute}).Record(ctx, ev(Aborted, 0)); err != nil {
		t.Fatalf("a cancelled run's rollback went unrecorded: %v", err)
	}
	if _, ok := r.deadline(); !ok {
		t.Error("the recorder's context has no deadline")
	}
}

// ctxRecorder fails if its context is already done, like an HTTP call would.
type ctxRecorder struct {
	mu sync.Mutex
	dl time.Time
	ok bool
}

func (c *ctxRecorder) Record(ctx context.Context, e Event) error {
	c.mu.Lock()
	c.dl, c.ok = ctx.Deadline()
	c.mu.Unlock()
	return ctx.Err()
}

func (c *ctxRecorder) deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dl, c.ok
}

func TestScrub(t *testing.T) {
	base := fmt.Errorf("wrap: %w", context.DeadlineExceeded)
	err := scrub(fmt.Errorf("token tok123 rejected: %w", base), "tok123", "")
	if strings.Contains(err.Error(), "tok123") || !strings.Contains(err.Error(), "***") {
		t.Errorf("scrub = %q", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("scrub lost the wrapped error")
	}
	if scrub(nil, "x") != nil {
		t.Error("scrub(nil) != nil")
	}
	if got := redactURL("https://user:pw@hooks.example.com/T1/B2/secret?x=1"); got != "https://hooks.example.com/…" {
		t.Errorf("redactURL = %q", got)
	}
	if got := truncate("ééééé", 3); got != "éé…" {
		t.Errorf("truncate = %q", got)
	}
}
