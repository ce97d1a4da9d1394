package scheduler

import (
	"context"
	"errors"
	"sync"
)

// errSuperseded reports that a newer run or job took the pending place in a
// concurrency group, as GitHub cancels the older pending one.
var errSuperseded = errors.New("cancelled: a newer run is pending in the same concurrency group")

// Concurrency implements GitHub's concurrency groups: at most one running and
// one pending holder per group. It is shared by every run of a long-running
// runner so groups span workflow runs.
type Concurrency struct {
	mu     sync.Mutex
	groups map[string]*concGroup
}

type concGroup struct {
	running *concHolder
	pending *concHolder
}

type concHolder struct {
	cancel     context.CancelCauseFunc // cancels the holder's work (cancel-in-progress)
	ready      chan struct{}
	superseded chan struct{}
}

// NewConcurrency returns an empty set of groups.
func NewConcurrency() *Concurrency { return &Concurrency{groups: map[string]*concGroup{}} }

// Acquire waits for the group. cancelWork cancels the caller's work when a
// later arrival with cancel-in-progress takes over. The returned release must
// be called when the work ends.
func (c *Concurrency) Acquire(ctx context.Context, group string, cancelInProgress bool, cancelWork context.CancelCauseFunc) (release func(), err error) {
	if group == "" {
		return func() {}, nil
	}
	h := &concHolder{cancel: cancelWork, ready: make(chan struct{}), superseded: make(chan struct{})}
	c.mu.Lock()
	g := c.groups[group]
	if g == nil {
		g = &concGroup{}
		c.groups[group] = g
	}
	if g.running == nil {
		g.running = h
		c.mu.Unlock()
		return c.releaser(group, h), nil
	}
	if cancelInProgress && g.running.cancel != nil {
		g.running.cancel(errors.New("cancelled by a newer run in concurrency group " + group))
	}
	if g.pending != nil {
		close(g.pending.superseded)
	}
	g.pending = h
	c.mu.Unlock()

	select {
	case <-h.ready:
		return c.releaser(group, h), nil
	case <-h.superseded:
		return nil, errSuperseded
	case <-ctx.Done():
		c.mu.Lock()
		if g.pending == h {
			g.pending = nil
		}
		c.mu.Unlock()
		// The slot may have been handed over just as ctx ended.
		select {
		case <-h.ready:
			c.releaser(group, h)()
		default:
		}
		return nil, context.Cause(ctx)
	}
}

func (c *Concurrency) releaser(group string, h *concHolder) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			g := c.groups[group]
			if g == nil || g.running != h {
				return
			}
			g.running = g.pending
			g.pending = nil
			if g.running != nil {
				close(g.running.ready)
				return
			}
			delete(c.groups, group)
		})
	}
}
