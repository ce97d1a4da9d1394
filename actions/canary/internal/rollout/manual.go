package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/state"
)

// handOver waits this long for a running rollout to act on a request.
const handOver = 2 * time.Minute

// Promote finishes a rollout now: all traffic to the canary, roles swapped.
// A rollout driven by another run is asked to promote; an abort asked for
// earlier still wins.
func (c *Controller) Promote(ctx context.Context) (*state.State, error) {
	if err := c.Store.Lock(); errors.Is(err, state.ErrLocked) {
		if ok, _ := c.Store.Requested(state.RequestAbort); ok {
			return nil, fmt.Errorf("rollout %s is being aborted; abort wins over promote", c.Config.Name)
		}
		if err := c.Store.Request(state.RequestPromote, "promoted by a later run"); err != nil {
			return nil, err
		}
		return c.awaitHandOver(ctx, state.Promoted)
	} else if err != nil {
		return nil, err
	}
	defer c.Store.Unlock()
	st, err := c.load()
	if err != nil {
		return nil, err
	}
	if !st.Active() {
		return st, fmt.Errorf("rollout %s is %s, not in progress: nothing to promote", c.Config.Name, st.Phase)
	}
	if ok, why := c.Store.Requested(state.RequestAbort); ok {
		return st, c.rollback(ctx, st, state.Aborted, "abort requested: "+why)
	}
	c.logf("promoting %s from %d%%", st.Canary.Version, st.Weight)
	return st, c.promote(ctx, st)
}

// Abort rolls an unfinished rollout back. A rollout driven by another run is
// asked to abort, and this run waits until it has.
func (c *Controller) Abort(ctx context.Context, reason string) (*state.State, error) {
	if reason == "" {
		reason = "aborted by a later run"
	}
	if err := c.Store.Lock(); errors.Is(err, state.ErrLocked) {
		if err := c.Store.Request(state.RequestAbort, reason); err != nil {
			return nil, err
		}
		return c.awaitHandOver(ctx, state.Aborted)
	} else if err != nil {
		return nil, err
	}
	defer c.Store.Unlock()
	st, err := c.load()
	if err != nil {
		return nil, err
	}
	if !st.Active() {
		return st, fmt.Errorf("rollout %s is %s, not in progress: nothing to abort (use action: rollback to undo a promotion)", c.Config.Name, st.Phase)
	}
	return st, c.rollback(ctx, st, state.Aborted, reason)
}

// Rollback undoes a rollout: an unfinished one is aborted; a promoted one is
// switched back to the previous version while it is still warm.
func (c *Controller) Rollback(ctx context.Context, reason string) (*state.State, error) {
	if reason == "" {
		reason = "rolled back by a later run"
	}
	if err := c.Store.Lock(); errors.Is(err, state.ErrLocked) {
		return c.Abort(ctx, reason)
	} else if err != nil {
		return nil, err
	}
	st, err := c.load()
	if err != nil {
		c.Store.Unlock()
		return nil, err
	}
	if st.Active() {
		defer c.Store.Unlock()
		return st, c.rollback(ctx, st, state.RolledBack, reason)
	}
	defer c.Store.Unlock()
	if st.Phase != state.Promoted || st.Previous == nil {
		return st, fmt.Errorf("rollout %s is %s with no previous version kept warm: nothing to roll back to (deploy the old version instead)", c.Config.Name, st.Phase)
	}
	if st.Previous.Container != "" && !c.Deployer.Alive(ctx, *st.Previous) {
		return st, fmt.Errorf("the previous version %s is no longer running: deploy it again instead", st.Previous.Version)
	}
	// The promoted release becomes the canary of a rollback to the warm
	// previous one: one instant switch, roles swapped back.
	prev := *st.Previous
	st.Canary, st.Stable = st.Stable, prev
	st.StableSlot = prev.Slot
	st.Previous, st.WarmUntil = nil, time.Time{}
	st.Weight = 100
	c.logf("switching traffic back to %s in slot %s", prev.Version, prev.Slot)
	return st, c.rollback(ctx, st, state.RolledBack, reason)
}

// awaitHandOver waits for the run holding the lock to act on a request.
func (c *Controller) awaitHandOver(ctx context.Context, want string) (*state.State, error) {
	c.logf("rollout %s is driven by another run: asked it to %s, waiting", c.Config.Name, map[string]string{state.Promoted: "promote", state.Aborted: "abort"}[want])
	if err := c.Store.LockWait(handOver); err != nil {
		return nil, fmt.Errorf("the run driving rollout %s did not hand over within %s: %w", c.Config.Name, handOver, err)
	}
	defer c.Store.Unlock()
	st, err := c.Store.Load()
	if err != nil {
		return nil, err
	}
	switch {
	case st.Phase == want:
		return st, nil
	case want == state.Aborted && st.Phase == state.RolledBack:
		return st, nil
	}
	return st, fmt.Errorf("rollout %s ended %s, not %s", c.Config.Name, st.Phase, want)
}
