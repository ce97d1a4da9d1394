package container

import (
	"context"
	"sync"
	"time"
)

// createTimeout bounds one create call made without the caller's
// cancellation.
const createTimeout = 2 * time.Minute

// inflight counts create calls still talking to the engine. A create whose
// client gives up (Ctrl-C) may still complete in the engine; clean-up waits
// for every one of them to return before it lists what to remove.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0
}

func (f *inflight) begin() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

// wait returns when no create is in flight, or when ctx ends.
func (f *inflight) wait(ctx context.Context) {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// creating runs one create call to its end whatever happens to ctx, so its
// result is always known: the caller removes what was made when ctx was
// cancelled meanwhile (reported by the cancelled return).
func (e *Engine) creating(ctx context.Context, create func(context.Context) error) (cancelled bool, err error) {
	e.flight.begin()
	defer e.flight.end()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	err = create(cctx)
	return ctx.Err() != nil, err
}
