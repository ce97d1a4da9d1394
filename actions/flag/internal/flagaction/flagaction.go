// Package flagaction is the flag action: it flips a feature flag in a flag
// file (committed the GitOps way) or a flag service, refuses when the flag is
// not as expected, watches a guard and flips back when it turns unhealthy,
// restores temporary flips, and leaves outputs, a summary and an audit trail.
package flagaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/audit"
	"github.com/gantry-ci/gantry/actions/flag/internal/filestore"
	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/gitops"
	"github.com/gantry-ci/gantry/actions/flag/internal/guard"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// conflictRetries is how often a change is read, edited and written again
// when the branch moved under it.
const conflictRetries = 3

// restoreTimeout bounds a flip back after the job was cancelled: the runner
// kills the container soon after asking it to stop.
const restoreTimeout = 8 * time.Second

// Run is the action.
func Run(k *actionkit.Kit) error {
	c := inputs(k)
	if k.InputErrors() != nil {
		return nil
	}
	// A cancelled or timed-out job stops the container with SIGTERM: a
	// temporary or guarded flip is restored before exiting.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	c.runURL = audit.RunURL(k.Getenv)
	f, err := newFlipper(ctx, k, c)
	if err != nil {
		return err
	}
	return f.run(ctx)
}

type flipper struct {
	k      *actionkit.Kit
	c      *config
	target gitops.Target
	prov   flags.Provider
	file   *filestore.Provider // nil for services

	before, final flags.State
	flipped       flags.State // what the flip made, before any flip back
	original      []byte      // the flag file before the flip
	written       []byte      // the flag file the flip wrote
	result        gitops.Result
	changed       bool
	reverted      bool
	diff          string
	checks        []guard.Result
}

func newFlipper(ctx context.Context, k *actionkit.Kit, c *config) (*flipper, error) {
	f := &flipper{k: k, c: c}
	switch c.commit {
	case "none", "local":
		f.target = &gitops.Checkout{Dir: c.workspace, Commit: c.commit == "local", Author: gitops.Bot}
	default:
		gh, err := gitops.NewGitHub(c.apiURL, c.token, c.repository)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.commit, err)
		}
		base := c.base
		if base == "" {
			if base, err = gh.DefaultBranch(ctx); err != nil {
				return nil, fmt.Errorf("find the base branch (or set the base input): %w", err)
			}
		}
		if c.commit == "direct" {
			branch := c.branch
			if branch == "" {
				branch = base
			}
			f.target = &gitops.Branch{GH: gh, Branch: branch}
		} else {
			branch := c.branch
			if branch == "" {
				branch = branchName(c.key, k.Getenv("GITHUB_RUN_ID"))
			}
			f.target = &gitops.PullRequest{GH: gh, Base: base, Branch: branch}
		}
	}
	if doc, ok := documents[c.provider]; ok {
		f.file = &filestore.Provider{Doc: doc(), Path: c.file, Target: f.target}
		f.prov = f.file
		return f, nil
	}
	p, err := services[c.provider](c.service)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", c.provider, err)
	}
	f.prov = p
	return f, nil
}

func (f *flipper) run(ctx context.Context) error {
	c := f.c
	err := f.flip(ctx)
	defer f.report()
	if err != nil || !f.changed || c.dryRun {
		return err
	}
	if c.check == nil && c.duration == 0 {
		return nil
	}
	flippedAt := time.Now()
	window := c.guardWindow
	if c.duration > window {
		// A temporary flip is live, and guarded, until it is restored.
		window = c.duration
	}
	if c.check != nil {
		f.k.Logf("Guard: watching %s for %s, every %s", c.check, window, c.guardInterval)
		verdict, werr := guard.Watch(ctx, c.check, window, c.guardInterval, c.guardFailures, func(r guard.Result) {
			f.checks = append(f.checks, r)
			f.k.Logf("guard: healthy=%v %s", r.Healthy, r.Detail)
		})
		if werr != nil {
			return f.restoreAfterCancel(werr)
		}
		if !verdict.Healthy {
			msg := fmt.Sprintf("guard %s is unhealthy after the flip: %s", c.check, verdict.Detail)
			if rerr := f.restore(ctx, audit.EventGuard, msg); rerr != nil {
				return fmt.Errorf("%s; flipping flag %s back FAILED: %w; restore it by hand to %s", msg, c.key, rerr, stateJSON(f.before))
			}
			return fmt.Errorf("%s; flag %s was flipped back to its previous state", msg, c.key)
		}
	}
	if c.duration == 0 {
		return nil
	}
	if wait := time.Until(flippedAt.Add(c.duration)); wait > 0 {
		select {
		case <-ctx.Done():
			return f.restoreAfterCancel(ctx.Err())
		case <-time.After(wait):
		}
	}
	return f.restore(ctx, audit.EventRestore, fmt.Sprintf("temporary flip of %s ended", c.duration))
}

// restoreAfterCancel flips back when the job is cancelled before the flip
// proved healthy or before a temporary flip ended.
func (f *flipper) restoreAfterCancel(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	msg := fmt.Sprintf("job cancelled before the flip of %s was done (%v)", f.c.key, cause)
	if err := f.restore(ctx, audit.EventRestore, msg); err != nil {
		return fmt.Errorf("%s; flipping back FAILED: %w; restore it by hand to %s", msg, err, stateJSON(f.before))
	}
	return fmt.Errorf("%s; flag flipped back to its previous state", msg)
}

// flip applies the requested change once, reading again when the branch
// moved between read and write.
func (f *flipper) flip(ctx context.Context) error {
	c := f.c
	for attempt := 1; ; attempt++ {
		o, src, err := f.plan(ctx, c.change)
		if err != nil {
			return err
		}
		f.before, f.final, f.diff = o.Before, o.Before, o.Diff
		if !o.Changed {
			f.k.Logf("Flag %s is already %s: nothing to change.", c.key, describe(o.Before))
			return nil
		}
		if c.expect != nil {
			if why := c.expect.mismatch(o.Before); why != "" {
				return fmt.Errorf("input 'expect-current': flag %s is not in the expected state (%s): %s; refusing to flip", c.key, c.expect.src, why)
			}
		}
		if c.dryRun {
			f.final = o.After
			f.k.Logf("Dry run: flag %s would change from %s to %s.\n%s", c.key, describe(o.Before), describe(o.After), o.Diff)
			return nil
		}
		if f.file == nil {
			// The service changes now; the audit log is written after it.
			if o, err = f.prov.Set(ctx, c.key, c.change, false); err != nil {
				return fmt.Errorf("flip flag %s in %s: %w", c.key, c.provider, err)
			}
			f.diff = o.Diff
		}
		err = f.write(ctx, o, audit.EventFlip, c.reason, f.flipMessage(o))
		if errors.Is(err, gitops.ErrConflict) && f.file != nil && attempt < conflictRetries {
			f.k.Logf("%v; reading the flag again (attempt %d of %d)", err, attempt+1, conflictRetries)
			f.target.Refresh()
			continue
		}
		if err != nil {
			return err
		}
		f.original, f.changed, f.final, f.flipped = src, true, o.After, o.After
		if f.file != nil {
			f.written = o.Files[c.file]
		}
		f.k.Logf("Flag %s: %s -> %s (%s)", c.key, describe(o.Before), describe(o.After), f.target)
		return nil
	}
}

// plan reads the flag and works out the change (nothing is written).
func (f *flipper) plan(ctx context.Context, ch flags.Change) (flags.Outcome, []byte, error) {
	c := f.c
	st, err := f.prov.Get(ctx, c.key)
	if err != nil {
		return flags.Outcome{}, nil, fmt.Errorf("read flag %s: %w", c.key, err)
	}
	if ch.Rollout != nil && ch.Rollout.Variant == "" {
		v, ok := defaultRolloutVariant(st)
		if !ok {
			return flags.Outcome{}, nil, fmt.Errorf("input 'rollout-variant': flag %s has variants %s; name the one to roll out", c.key, strings.Join(sortedKeys(st.Variants), ", "))
		}
		r := *ch.Rollout
		r.Variant = v
		ch.Rollout = &r
		c.change.Rollout = &r
	}
	var src []byte
	if f.file != nil {
		if src, err = f.target.Read(ctx, c.file); err != nil {
			return flags.Outcome{}, nil, fmt.Errorf("read %s: %w", c.file, err)
		}
	}
	o, err := f.prov.Set(ctx, c.key, ch, true)
	if err != nil {
		return flags.Outcome{}, nil, fmt.Errorf("work out the change of flag %s: %w", c.key, err)
	}
	return o, src, nil
}

// defaultRolloutVariant is the variant a rollout serves when none is named:
// the one called "on", or the only true-valued one.
func defaultRolloutVariant(st flags.State) (string, bool) {
	if _, ok := st.Variants["on"]; ok {
		return "on", true
	}
	var found []string
	for k, v := range st.Variants {
		if v == true {
			found = append(found, k)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return "", false
}

// restore flips the flag back to how it was before this step.
func (f *flipper) restore(ctx context.Context, event, why string) error {
	c := f.c
	f.k.Logf("Flipping flag %s back to %s: %s", c.key, describe(f.before), why)
	back := reverse(c.change, f.before, f.final)
	for attempt := 1; ; attempt++ {
		var o flags.Outcome
		var err error
		if f.file != nil {
			o, err = f.file.Restore(ctx, c.key, f.original, f.written, back)
		} else {
			o, err = f.prov.Set(ctx, c.key, back, false)
		}
		if err != nil {
			return fmt.Errorf("flip flag %s back: %w", c.key, err)
		}
		if !o.Changed && f.file != nil {
			f.final, f.reverted = o.After, true
			return nil
		}
		err = f.write(ctx, o, event, why, fmt.Sprintf("flag %s: flip back (%s)\n\n%s", c.key, event, why))
		if errors.Is(err, gitops.ErrConflict) && attempt < conflictRetries {
			f.target.Refresh()
			continue
		}
		if err != nil {
			return err
		}
		f.final, f.reverted = o.After, true
		f.k.Logf("Flag %s is back to %s.", c.key, describe(o.After))
		return nil
	}
}

// reverse is the change that undoes ch, from the states around it.
func reverse(ch flags.Change, before, after flags.State) flags.Change {
	var back flags.Change
	if ch.Enabled != nil {
		back.Enabled = &before.Enabled
	}
	if ch.DefaultVariant != nil {
		back.DefaultVariant = &before.DefaultVariant
	}
	if ch.Rollout != nil {
		r := flags.Rollout{Variant: before.RolloutVariant, Percent: before.Rollout}
		if before.Rollout < 0 {
			// No rollout before: serving the variant to nobody is the same.
			r = flags.Rollout{Variant: ch.Rollout.Variant, Percent: 0}
		}
		back.Rollout = &r
	}
	if ch.Targeting != nil {
		back.Targeting = before.Targeting
		if len(before.Targeting) == 0 {
			back.Targeting = json.RawMessage("{}")
			if t := strings.TrimSpace(string(after.Targeting)); strings.HasPrefix(t, "[") {
				back.Targeting = json.RawMessage("[]")
			}
		}
	}
	return back
}

// write stores the change's files plus an audit record where the target is.
func (f *flipper) write(ctx context.Context, o flags.Outcome, event, reason, message string) error {
	c := f.c
	files := map[string][]byte{}
	for p, b := range o.Files {
		files[p] = b
	}
	if c.auditLog != "" {
		log, err := f.target.Read(ctx, c.auditLog)
		if err != nil && !gitops.IsNotExist(err) {
			return fmt.Errorf("read audit log %s: %w", c.auditLog, err)
		}
		rec := audit.Record{Time: time.Now().UTC(), Actor: c.actor, RunURL: c.runURL, Provider: c.provider, Flag: c.key, Event: event,
			Before: o.Before, After: o.After, Reason: reason}
		if files[c.auditLog], err = audit.Append(log, rec); err != nil {
			return err
		}
	}
	if len(files) == 0 {
		return nil
	}
	if c.runURL != "" {
		message += "\n\nRun: " + c.runURL
	}
	res, err := f.target.Write(ctx, gitops.Change{Files: files, Message: message,
		Title: strings.SplitN(message, "\n", 2)[0], Body: f.prBody(o)})
	if err != nil {
		return fmt.Errorf("write flag %s to %s: %w", c.key, f.target, err)
	}
	if res.SHA != "" {
		f.result.SHA = res.SHA
	}
	if res.PullRequestURL != "" {
		f.result.PullRequestURL = res.PullRequestURL
	}
	return nil
}

func (f *flipper) flipMessage(o flags.Outcome) string {
	if f.c.message != "" {
		return f.c.message
	}
	m := fmt.Sprintf("flag %s: %s", f.c.key, changes(o.Before, o.After))
	if f.c.reason != "" {
		m += "\n\n" + f.c.reason
	}
	return m
}

func (f *flipper) prBody(o flags.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Changes feature flag `%s` (%s).\n\n", f.c.key, f.c.provider)
	if f.c.reason != "" {
		fmt.Fprintf(&b, "%s\n\n", f.c.reason)
	}
	b.WriteString(stateTable(o.Before, o.After, nil))
	if o.Diff != "" {
		fmt.Fprintf(&b, "\n```diff\n%s```\n", ensureNL(o.Diff))
	}
	if f.c.runURL != "" {
		fmt.Fprintf(&b, "\nOpened by %s.\n", f.c.runURL)
	}
	return b.String()
}

// report sets the outputs and writes the summary.
func (f *flipper) report() {
	k, c := f.k, f.c
	k.SetOutput("previous-state", stateJSON(f.before))
	k.SetOutput("new-state", stateJSON(f.final))
	k.SetOutput("changed", fmt.Sprint(f.changed))
	k.SetOutput("reverted", fmt.Sprint(f.reverted))
	k.SetOutput("diff", f.diff)
	k.SetOutput("commit-sha", f.result.SHA)
	k.SetOutput("pull-request-url", f.result.PullRequestURL)

	var b strings.Builder
	title := "Flag `" + c.key + "`"
	switch {
	case c.dryRun:
		title += " - dry run, nothing changed"
	case f.reverted:
		title += " - flipped, then flipped back"
	case f.changed:
		title += " - flipped"
	case f.before.Key != "":
		title += " - already as requested"
	}
	fmt.Fprintf(&b, "### %s\n\nProvider: %s", title, c.provider)
	if c.file != "" {
		fmt.Fprintf(&b, ", file `%s`", c.file)
	}
	b.WriteString("\n\n")
	if f.before.Key != "" {
		var final *flags.State
		after := f.final
		if f.reverted {
			final = &f.final
			after = f.flipped
		}
		b.WriteString(stateTable(f.before, after, final))
	}
	if f.diff != "" {
		fmt.Fprintf(&b, "\n```diff\n%s```\n", ensureNL(f.diff))
	}
	if f.result.PullRequestURL != "" {
		fmt.Fprintf(&b, "\nPull request: %s\n", f.result.PullRequestURL)
	}
	if f.result.SHA != "" {
		fmt.Fprintf(&b, "\nCommit: `%s` (%s)\n", f.result.SHA, f.target)
	}
	if len(f.checks) > 0 {
		var rows [][]string
		for i, r := range f.checks {
			rows = append(rows, []string{fmt.Sprint(i + 1), map[bool]string{true: "healthy", false: "unhealthy"}[r.Healthy], r.Detail})
		}
		fmt.Fprintf(&b, "\nGuard `%s`:\n\n%s", c.check, actionkit.Table([]string{"check", "verdict", "detail"}, rows))
	}
	k.Summary(b.String())
}

func stateTable(before, after flags.State, final *flags.State) string {
	headers := []string{"", "before", "after"}
	if final != nil {
		headers = append(headers, "now (flipped back)")
	}
	row := func(name string, get func(flags.State) string) []string {
		r := []string{name, get(before), get(after)}
		if final != nil {
			r = append(r, get(*final))
		}
		return r
	}
	rows := [][]string{
		row("enabled", func(s flags.State) string { return fmt.Sprint(s.Enabled) }),
		row("default variant", func(s flags.State) string { return s.DefaultVariant }),
		row("rollout", func(s flags.State) string { return rolloutText(s) }),
		row("targeting", func(s flags.State) string { return compactJSON(s.Targeting) }),
	}
	return actionkit.Table(headers, rows)
}

func rolloutText(s flags.State) string {
	if s.Rollout < 0 {
		return "none"
	}
	return fmt.Sprintf("%d%% %s", s.Rollout, s.RolloutVariant)
}

func describe(s flags.State) string {
	d := map[bool]string{true: "on", false: "off"}[s.Enabled]
	if s.DefaultVariant != "" {
		d += ", default " + s.DefaultVariant
	}
	if s.Rollout >= 0 {
		d += ", rollout " + rolloutText(s)
	}
	return d
}

// changes lists what differs between two states, for commit messages.
func changes(a, b flags.State) string {
	var out []string
	if a.Enabled != b.Enabled {
		out = append(out, map[bool]string{true: "on", false: "off"}[b.Enabled])
	}
	if a.DefaultVariant != b.DefaultVariant {
		out = append(out, fmt.Sprintf("default variant %s -> %s", a.DefaultVariant, b.DefaultVariant))
	}
	if a.Rollout != b.Rollout || a.RolloutVariant != b.RolloutVariant {
		out = append(out, fmt.Sprintf("rollout %s -> %s", rolloutText(a), rolloutText(b)))
	}
	// A rollout lives in the targeting rules of some formats: not news twice.
	if compactJSON(a.Targeting) != compactJSON(b.Targeting) && a.Rollout == b.Rollout {
		out = append(out, "targeting changed")
	}
	if len(out) == 0 {
		return "update"
	}
	return strings.Join(out, ", ")
}

func ensureNL(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
