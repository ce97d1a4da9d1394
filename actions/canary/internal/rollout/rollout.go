// Package rollout drives a canary release: it shifts traffic in steps,
// judges every step, and promotes the canary by swapping roles or rolls it
// back. Its state is saved after every change, so another workflow run can
// resume, promote, abort or undo it.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/state"
)

// Router moves traffic between the stable and the canary slot.
type Router interface {
	SetWeight(ctx context.Context, percent int) error
	Weight(ctx context.Context) (int, error)
	// PointCanary sends the canary slot's traffic to addr (host:port).
	PointCanary(ctx context.Context, addr string) error
	// Finalize sends all traffic to one side and drains the other.
	Finalize(ctx context.Context, canaryWins bool) error
}

// Routers builds the router for a pair of releases; roles swap after a
// promotion, so the router is rebuilt rather than reconfigured.
type Routers func(stable, canary state.Release) (Router, error)

// Verdict is the analysis' decision for one step.
type Verdict int

// Verdicts.
const (
	Continue Verdict = iota
	Pause
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Continue:
		return "pass"
	case Pause:
		return "inconclusive"
	}
	return "fail"
}

// Window is the stretch of time one step is judged on.
type Window struct {
	Start, End     time.Time
	Step, Weight   int
	Canary, Stable string // slot (server) names
}

// Result is the analysis of one window.
type Result struct {
	Verdict      Verdict
	Reason       string
	Measurements []state.Measurement
}

// Judge runs smoke checks and analyses steps.
type Judge interface {
	Smoke(ctx context.Context, canaryURL string) error
	Analyze(ctx context.Context, w Window) Result
}

// Deployer starts and removes canaries.
type Deployer interface {
	// Up starts version in slot and returns it once healthy.
	Up(ctx context.Context, slot string) (state.Release, error)
	Remove(ctx context.Context, r state.Release) error
	// Alive reports whether a release the action started still runs.
	Alive(ctx context.Context, r state.Release) bool
	// Healthy checks a release directly (used on the stable before a rollback).
	Healthy(ctx context.Context, r state.Release) error
}

// Event is something the release records should hear about.
type Event struct {
	Phase       string // started, step, paused, promoted, rolled-back, aborted, failed
	Weight      int
	Description string
}

// Config is what one rollout does.
type Config struct {
	Name     string
	Version  string
	Strategy string // canary or blue-green
	Steps    []Step
	Interval time.Duration
	// Deadline bounds the whole rollout in this run; past it the canary is
	// rolled back.
	Deadline       time.Duration
	RollbackSteps  []int
	RollbackWait   time.Duration
	RollbackWindow time.Duration
	Slots          [2]string
	StableAddr     string // where the stable serves, for the first rollout
}

// Controller runs rollouts.
type Controller struct {
	Config   Config
	Store    state.Store
	Routers  Routers
	Judge    Judge
	Deployer Deployer
	Notify   func(ctx context.Context, e Event)
	Logf     func(format string, args ...any)
	// OnWeight is called once a weight is set and verified (tests measure
	// the split there).
	OnWeight func(weight int)
	Poll     time.Duration
}

// ErrRolledBack is returned when the canary was rolled back or aborted.
var ErrRolledBack = errors.New("canary rolled back")

// RollbackError says why a rollout was rolled back, and what went wrong
// while rolling back, if anything.
type RollbackError struct {
	Phase    string // rolled-back or aborted
	Reason   string
	Problems []error
}

func (e *RollbackError) Error() string {
	msg := e.Phase + ": " + e.Reason
	if len(e.Problems) > 0 {
		msg += " (and: " + errors.Join(e.Problems...).Error() + ")"
	}
	return msg
}

// Unwrap lets errors.Is match ErrRolledBack.
func (e *RollbackError) Unwrap() error { return ErrRolledBack }

// Clean reports whether the rollback itself went without problems.
func (e *RollbackError) Clean() bool { return len(e.Problems) == 0 }

func (c *Controller) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (c *Controller) notify(ctx context.Context, phase string, weight int, format string, args ...any) {
	if c.Notify != nil {
		c.Notify(ctx, Event{Phase: phase, Weight: weight, Description: fmt.Sprintf(format, args...)})
	}
}

func (c *Controller) poll() time.Duration {
	if c.Poll > 0 {
		return c.Poll
	}
	return 200 * time.Millisecond
}

func other(slots [2]string, slot string) string {
	if slot == slots[0] {
		return slots[1]
	}
	return slots[0]
}

// load reads the state and fills in the first rollout's stable.
func (c *Controller) load() (*state.State, error) {
	st, err := c.Store.Load()
	if err != nil {
		return nil, err
	}
	if st.StableSlot == "" {
		st.Name = c.Config.Name
		st.StableSlot = c.Config.Slots[0]
		st.Stable = state.Release{Slot: c.Config.Slots[0], Addr: c.Config.StableAddr, Version: "stable"}
	}
	return st, nil
}

func (c *Controller) router(st *state.State) (Router, error) {
	return c.Routers(st.Stable, st.Canary)
}

// expireWarm removes the previous stable once its rollback window is over.
func (c *Controller) expireWarm(ctx context.Context, st *state.State, force bool) {
	if st.Previous == nil || (!force && time.Now().Before(st.WarmUntil)) {
		return
	}
	c.logf("removing the previous version %s (rollback window over)", st.Previous.Version)
	if err := c.Deployer.Remove(ctx, *st.Previous); err != nil {
		c.logf("warning: %v", err)
	}
	st.Previous = nil
	st.WarmUntil = time.Time{}
}

// Deploy starts a rollout of the configured version, or resumes one that a
// killed or paused run left behind.
func (c *Controller) Deploy(ctx context.Context) (*state.State, error) {
	if err := c.Store.Lock(); err != nil {
		if errors.Is(err, state.ErrLocked) {
			return nil, fmt.Errorf("rollout %s is being driven by another run: wait for it, or run action: abort", c.Config.Name)
		}
		return nil, err
	}
	defer c.Store.Unlock()
	st, err := c.load()
	if err != nil {
		return nil, err
	}
	if st.Active() {
		if st.Canary.Version != c.Config.Version {
			return st, fmt.Errorf("rollout %s of version %s is %s: promote or abort it before deploying %s", c.Config.Name, st.Canary.Version, st.Phase, c.Config.Version)
		}
		c.logf("resuming the rollout of %s at step %d of %d (weight %d%%)", st.Canary.Version, st.NextStep+1, len(st.Steps), st.Weight)
		if st.Canary.Container != "" && !c.Deployer.Alive(ctx, st.Canary) {
			c.logf("the canary container is gone; starting it again")
			rel, err := c.Deployer.Up(ctx, st.Canary.Slot)
			if err != nil {
				return st, c.rollback(ctx, st, state.RolledBack, fmt.Sprintf("restart canary: %v", err))
			}
			rel.Version = c.Config.Version
			st.Canary = rel
			if err := c.point(ctx, st); err != nil {
				return st, c.rollback(ctx, st, state.RolledBack, err.Error())
			}
		}
		st.Phase = state.Progressing
		return st, c.drive(ctx, st)
	}
	c.Store.ClearRequests()
	c.expireWarm(ctx, st, false)
	slot := other(c.Config.Slots, st.StableSlot)
	if st.Previous != nil && st.Previous.Slot == slot {
		c.logf("the canary slot %s still holds %s from the last rollback window; removing it", slot, st.Previous.Version)
		c.expireWarm(ctx, st, true)
	}
	*st = state.State{
		Name: c.Config.Name, Phase: state.Progressing, Strategy: c.Config.Strategy,
		StableSlot: st.StableSlot, Stable: st.Stable, Previous: st.Previous, WarmUntil: st.WarmUntil,
		Steps: stepNames(c.steps()), Deployment: 0, Started: time.Now().UTC(),
		Canary: state.Release{Version: c.Config.Version, Slot: slot},
	}
	// Saved before the container starts, so a kill here still leaves a
	// record of what to clean up.
	if err := c.Store.Save(st); err != nil {
		return st, err
	}
	c.notify(ctx, "started", 0, "deploying %s as a %s", c.Config.Version, c.strategy())
	c.logf("starting %s in slot %s", c.Config.Version, slot)
	rel, err := c.Deployer.Up(ctx, slot)
	if err != nil {
		st.Phase, st.Result, st.Reason = state.RolledBack, "failed", err.Error()
		_ = c.Store.Save(st)
		c.notify(ctx, "failed", 0, "canary did not start: %v", err)
		return st, &RollbackError{Phase: state.RolledBack, Reason: fmt.Sprintf("canary did not start: %v", err)}
	}
	rel.Version = c.Config.Version
	st.Canary = rel
	if err := c.Store.Save(st); err != nil {
		return st, err
	}
	if err := c.point(ctx, st); err != nil {
		return st, c.rollback(ctx, st, state.RolledBack, err.Error())
	}
	if err := c.Judge.Smoke(ctx, "http://"+st.Canary.Addr); err != nil {
		return st, c.rollback(ctx, st, state.RolledBack, fmt.Sprintf("smoke checks failed before any traffic: %v", err))
	}
	return st, c.drive(ctx, st)
}

// point aims the canary slot at the new release with no traffic yet.
func (c *Controller) point(ctx context.Context, st *state.State) error {
	r, err := c.router(st)
	if err != nil {
		return err
	}
	if err := r.SetWeight(ctx, 0); err != nil {
		return fmt.Errorf("take the canary slot out of traffic: %w", err)
	}
	if err := r.PointCanary(ctx, st.Canary.Addr); err != nil {
		return fmt.Errorf("point the canary slot %s at %s: %w", st.Canary.Slot, st.Canary.Addr, err)
	}
	return c.setWeight(ctx, st, r, 0)
}

func (c *Controller) strategy() string {
	if c.Config.Strategy == "" {
		return "canary"
	}
	return c.Config.Strategy
}

// steps are the configured steps; blue-green is one full switch.
func (c *Controller) steps() []Step {
	if c.strategy() == "blue-green" {
		return []Step{{Weight: 100}}
	}
	return c.Config.Steps
}

func stepNames(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.String()
	}
	return out
}

func (c *Controller) setWeight(ctx context.Context, st *state.State, r Router, w int) error {
	if err := r.SetWeight(ctx, w); err != nil {
		return fmt.Errorf("set canary weight %d%%: %w", w, err)
	}
	got, err := r.Weight(ctx)
	if err != nil {
		return fmt.Errorf("read back canary weight: %w", err)
	}
	if got != w {
		return fmt.Errorf("router reports %d%% to the canary after setting %d%%", got, w)
	}
	st.Weight = w
	if err := c.Store.Save(st); err != nil {
		return err
	}
	if c.OnWeight != nil {
		c.OnWeight(w)
	}
	return nil
}

// errAbort and errPromote end a wait early.
var (
	errAbort   = errors.New("abort requested")
	errPromote = errors.New("promotion requested")
)

// wait sleeps d, watching for abort and promote requests and the deadline.
func (c *Controller) wait(ctx context.Context, d time.Duration, deadline time.Time) error {
	end := time.Now().Add(d)
	for {
		if ok, _ := c.Store.Requested(state.RequestAbort); ok {
			return errAbort
		}
		if ok, _ := c.Store.Requested(state.RequestPromote); ok {
			return errPromote
		}
		now := time.Now()
		if !deadline.IsZero() && now.After(deadline) {
			return fmt.Errorf("the rollout passed its deadline of %s", c.Config.Deadline)
		}
		if !now.Before(end) {
			return nil
		}
		step := min(c.poll(), end.Sub(now))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(step):
		}
	}
}

// drive runs the steps from st.NextStep on.
func (c *Controller) drive(ctx context.Context, st *state.State) error {
	steps := c.steps()
	var deadline time.Time
	if c.Config.Deadline > 0 {
		deadline = time.Now().Add(c.Config.Deadline)
	}
	r, err := c.router(st)
	if err != nil {
		return c.rollback(ctx, st, state.RolledBack, err.Error())
	}
	if c.strategy() == "blue-green" && st.NextStep == 0 && st.Weight == 0 {
		// The idle colour is judged before it takes any traffic.
		if res := c.analyse(ctx, st, r, -1, 0, deadline); res != nil || st.Phase != state.Progressing {
			return res
		}
	}
	for st.NextStep < len(steps) {
		i := st.NextStep
		s := steps[i]
		if ok, why := c.Store.Requested(state.RequestAbort); ok {
			return c.rollback(ctx, st, state.Aborted, "abort requested: "+why)
		}
		if ok, _ := c.Store.Requested(state.RequestPromote); ok {
			break
		}
		switch {
		case s.Manual:
			st.NextStep = i + 1
			st.Phase = state.Paused
			if err := c.Store.Save(st); err != nil {
				return err
			}
			c.notify(ctx, "paused", st.Weight, "paused at %d%% until promoted or resumed", st.Weight)
			c.logf("paused at %d%%: run the action again with action: deploy to continue, promote to finish now, or abort", st.Weight)
			return nil
		case s.Pause > 0:
			c.logf("step %d: pausing %s at %d%%", i+1, s.Pause, st.Weight)
			if err := c.wait(ctx, s.Pause, deadline); err != nil {
				if res, done := c.interrupted(ctx, st, err); done {
					return res
				}
				return c.promote(ctx, st)
			}
			st.NextStep = i + 1
			if err := c.Store.Save(st); err != nil {
				return err
			}
			continue
		}
		c.logf("step %d: %d%% of traffic to %s", i+1, s.Weight, st.Canary.Version)
		if err := c.setWeight(ctx, st, r, s.Weight); err != nil {
			return c.rollback(ctx, st, state.RolledBack, err.Error())
		}
		c.notify(ctx, "step", s.Weight, "canary at %d%%", s.Weight)
		if res := c.analyse(ctx, st, r, i, s.Weight, deadline); res != nil || st.Phase != state.Progressing {
			return res // failed, paused, or promoted on request
		}
		st.NextStep = i + 1
		if err := c.Store.Save(st); err != nil {
			return err
		}
	}
	if ok, why := c.Store.Requested(state.RequestAbort); ok {
		return c.rollback(ctx, st, state.Aborted, "abort requested: "+why)
	}
	return c.promote(ctx, st)
}

// analyse waits one interval and judges it. A non-nil return ends drive.
func (c *Controller) analyse(ctx context.Context, st *state.State, r Router, i, weight int, deadline time.Time) error {
	start := time.Now()
	if err := c.wait(ctx, c.Config.Interval, deadline); err != nil {
		if res, done := c.interrupted(ctx, st, err); done {
			return res
		}
		if errors.Is(err, errPromote) {
			st.NextStep = len(c.steps())
			return c.promote(ctx, st)
		}
	}
	res := c.Judge.Analyze(ctx, Window{Start: start, End: time.Now(), Step: i + 1, Weight: weight, Canary: st.Canary.Slot, Stable: st.Stable.Slot})
	rec := state.Step{Index: i + 1, Weight: weight, Start: start.UTC(), End: time.Now().UTC(), Verdict: res.Verdict.String(), Reason: res.Reason, Measurements: res.Measurements}
	st.History = append(st.History, rec)
	for _, m := range res.Measurements {
		mark := "pass"
		switch {
		case m.Error != "":
			mark = "error: " + m.Error
		case m.NoData:
			mark = "no data"
		case !m.Pass:
			mark = "FAIL"
			if m.Detail != "" {
				mark += ": " + m.Detail
			}
		}
		c.logf("  %-24s %12.4g  %-14s %s", m.Check, m.Value, m.Threshold, mark)
	}
	if err := c.Store.Save(st); err != nil {
		return err
	}
	if res.Verdict == Pause && i < 0 {
		// The idle colour has no traffic before the switch, so traffic
		// metrics have no data yet; only failures count here.
		c.logf("idle colour: %s (no traffic before the switch; judged again after it)", res.Reason)
		res.Verdict = Continue
	}
	switch res.Verdict {
	case Fail:
		return c.rollback(ctx, st, state.RolledBack, fmt.Sprintf("analysis failed at %d%%: %s", weight, res.Reason))
	case Pause:
		st.Phase = state.Paused
		if err := c.Store.Save(st); err != nil {
			return err
		}
		c.notify(ctx, "paused", weight, "analysis inconclusive at %d%%: %s", weight, res.Reason)
		c.logf("analysis inconclusive at %d%% (%s): paused; run action: deploy again to re-analyse, promote or abort", weight, res.Reason)
		return nil
	}
	if c.strategy() == "blue-green" && i < 0 {
		c.logf("idle colour %s passed analysis", st.Canary.Slot)
	}
	return nil
}

// interrupted turns a wait error into the rollout's end: abort and deadline
// roll back; a promotion request lets the caller promote.
func (c *Controller) interrupted(ctx context.Context, st *state.State, err error) (error, bool) {
	switch {
	case errors.Is(err, errAbort):
		_, why := c.Store.Requested(state.RequestAbort)
		return c.rollback(ctx, st, state.Aborted, "abort requested: "+why), true
	case errors.Is(err, errPromote):
		return nil, false
	case ctx.Err() != nil:
		return c.rollback(context.WithoutCancel(ctx), st, state.Aborted, "the run was cancelled"), true
	}
	return c.rollback(ctx, st, state.RolledBack, err.Error()), true
}

// promote makes the canary the stable by swapping roles: the serving slot
// is never rebuilt, and the old stable stays warm for the rollback window.
func (c *Controller) promote(ctx context.Context, st *state.State) error {
	if ok, why := c.Store.Requested(state.RequestAbort); ok {
		return c.rollback(ctx, st, state.Aborted, "abort requested: "+why)
	}
	r, err := c.router(st)
	if err != nil {
		return c.rollback(ctx, st, state.RolledBack, err.Error())
	}
	if st.Weight != 100 {
		if err := c.setWeight(ctx, st, r, 100); err != nil {
			return c.rollback(ctx, st, state.RolledBack, err.Error())
		}
	}
	if err := r.Finalize(ctx, true); err != nil {
		return c.rollback(ctx, st, state.RolledBack, fmt.Sprintf("finalize: %v", err))
	}
	old := st.Stable
	st.Stable, st.StableSlot = st.Canary, st.Canary.Slot
	st.Canary = state.Release{}
	st.Phase, st.Result, st.Reason = state.Promoted, "promoted", ""
	st.NextStep = len(c.steps())
	st.Previous = &old
	st.WarmUntil = time.Now().Add(c.Config.RollbackWindow).UTC()
	if c.Config.RollbackWindow <= 0 {
		c.expireWarm(ctx, st, true)
	} else {
		c.logf("keeping %s warm in slot %s for %s for a fast rollback", old.Version, old.Slot, c.Config.RollbackWindow)
	}
	c.Store.ClearRequests()
	if err := c.Store.Save(st); err != nil {
		return err
	}
	c.notify(ctx, "promoted", 100, "%s promoted: 100%% of traffic", st.Stable.Version)
	c.logf("promoted %s: it now serves all traffic as the stable (slot %s)", st.Stable.Version, st.StableSlot)
	return nil
}

// rollback sends all traffic back to a healthy stable, in steps when asked,
// and removes the canary. It returns ErrRolledBack wrapped with the reason.
func (c *Controller) rollback(ctx context.Context, st *state.State, phase, reason string) error {
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c.logf("rolling back %s: %s", st.Canary.Version, reason)
	var problems []error
	if err := c.Deployer.Healthy(ctx, st.Stable); err != nil {
		// Shifting traffic to a broken stable would not help; still the
		// canary failed, so go on, but say so loudly.
		problems = append(problems, fmt.Errorf("the stable %s is not healthy either: %w", st.Stable.Version, err))
	}
	r, err := c.router(st)
	if err != nil {
		problems = append(problems, err)
	} else {
		for _, w := range c.Config.RollbackSteps {
			if w >= st.Weight || len(problems) > 0 && c.strategy() == "blue-green" {
				continue
			}
			if err := c.setWeight(ctx, st, r, w); err != nil {
				problems = append(problems, err)
				break
			}
			_ = c.wait(ctx, c.Config.RollbackWait, time.Time{})
		}
		if err := c.setWeight(ctx, st, r, 0); err != nil {
			problems = append(problems, err)
		} else if err := r.Finalize(ctx, false); err != nil {
			problems = append(problems, fmt.Errorf("finalize: %w", err))
		}
	}
	if st.Weight == 0 {
		if err := c.Deployer.Remove(ctx, st.Canary); err != nil {
			problems = append(problems, err)
		}
	} else {
		problems = append(problems, fmt.Errorf("the canary still has %d%% of traffic, so it was left running: fix the router and run action: abort", st.Weight))
	}
	st.Phase, st.Result, st.Reason = phase, phase, reason
	c.Store.ClearRequests()
	if err := c.Store.Save(st); err != nil {
		problems = append(problems, err)
	}
	c.notify(ctx, phase, st.Weight, "%s: %s", phase, reason)
	return &RollbackError{Phase: phase, Reason: reason, Problems: problems}
}
