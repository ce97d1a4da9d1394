// Package canaryaction is the canary action: inputs, wiring of router,
// analysis, deployer and records, and the report.
package canaryaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/rollout"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// onWeight lets in-process tests measure the traffic split at every step.
var onWeight func(weight int)

// inputs are the action's inputs after validation.
type inputs struct {
	action, name, environment, version, strategy string
	steps                                        []rollout.Step
	interval, deadline, rollbackWait, window     time.Duration
	rollbackSteps                                []int
	stateFile, stateURL                          string
	chartDir                                     string
}

func readInputs(k *actionkit.Kit) inputs {
	in := inputs{
		action:       k.OneOf("action", "deploy", "deploy", "promote", "abort", "rollback"),
		environment:  k.String("environment", "production"),
		strategy:     k.OneOf("strategy", "canary", "canary", "blue-green"),
		interval:     k.Duration("interval", time.Minute),
		deadline:     k.Duration("deadline", 30*time.Minute),
		window:       k.Duration("rollback-window", 0),
		rollbackWait: k.Duration("rollback-step-wait", 5*time.Second),
	}
	in.name = k.String("name", "")
	if in.name == "" {
		repo := k.Getenv("GITHUB_REPOSITORY")
		in.name = strings.ReplaceAll(repo, "/", "-")
		if in.name != "" {
			in.name += "-"
		}
		in.name += in.environment
	}
	in.version = k.String("version", "")
	if in.version == "" {
		in.version = shortSHA(k.Getenv("GITHUB_SHA"))
	}
	if in.action == "deploy" && in.version == "" {
		k.Invalid("version", "name the version being deployed (no GITHUB_SHA to default to)")
	}
	steps, err := rollout.ParseSteps(k.String("steps", "10,25,50,100"))
	if err != nil {
		k.Invalid("steps", "%v", err)
	}
	in.steps = steps
	if rs := k.String("rollback-steps", ""); rs != "" {
		w, err := rollout.ParseWeights(rs)
		if err != nil {
			k.Invalid("rollback-steps", "%v", err)
		}
		in.rollbackSteps = w
	}
	if in.interval <= 0 {
		k.Invalid("interval", "must be positive, e.g. 1m")
	}
	in.stateFile = k.String("state-file", "")
	if in.stateFile == "" {
		base := k.Getenv("RUNNER_TOOL_CACHE")
		if base == "" {
			base = filepath.Join(os.TempDir(), "gantry")
		}
		in.stateFile = filepath.Join(base, "gantry-canary", in.name+".json")
	}
	in.stateURL = k.String("state-url", "")
	if in.stateURL != "" {
		k.Mask(in.stateURL)
		if !strings.HasPrefix(in.stateURL, "postgres://") && !strings.HasPrefix(in.stateURL, "postgresql://") {
			k.Invalid("state-url", "use a postgres:// URL (or leave it empty for state-file)")
		}
	}
	in.chartDir = k.String("chart-dir", "")
	return in
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Run is the action: deploy, promote, abort or roll back a canary.
func Run(k *actionkit.Kit) error {
	in := readInputs(k)
	wiring, err := wire(k, in)
	if ierr := k.InputErrors(); ierr != nil {
		return ierr
	}
	if err != nil {
		return err
	}
	defer wiring.close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store := in.store()
	c := &rollout.Controller{
		Config: rollout.Config{
			Name: in.name, Version: in.version, Strategy: in.strategy, Steps: in.steps,
			Interval: in.interval, Deadline: in.deadline, RollbackSteps: in.rollbackSteps,
			RollbackWait: in.rollbackWait, RollbackWindow: in.window, Slots: wiring.slots,
			StableAddr: wiring.stableAddr,
		},
		Store:    store,
		Routers:  wiring.routers,
		Judge:    wiring.judge,
		Deployer: wiring.deployer,
		Notify:   wiring.notify,
		Logf:     k.Logf,
		OnWeight: onWeight,
	}
	defer store.Unlock()
	k.Logf("%s %s: rollout %s (state in %s)", in.action, in.version, in.name, store.Where())
	var st *state.State
	switch in.action {
	case "deploy":
		st, err = c.Deploy(ctx)
	case "promote":
		st, err = c.Promote(ctx)
	case "abort":
		st, err = c.Abort(ctx, k.String("reason", ""))
	case "rollback":
		st, err = c.Rollback(ctx, k.String("reason", ""))
	}
	if st == nil {
		st, _ = store.Load()
	}
	keepRecordIDs(store, wiring)
	report(k, in, st, wiring, err)
	var rb *rollout.RollbackError
	if errors.As(err, &rb) && rb.Clean() && (in.action == "abort" || in.action == "rollback") {
		// Asked for, and done cleanly: that is success.
		return nil
	}
	return err
}

// report sets the outputs and writes the summary.
func report(k *actionkit.Kit, in inputs, st *state.State, w *wiring, err error) {
	result := "failed"
	weight := 0
	if st != nil {
		weight = st.Weight
		switch {
		case st.Phase == state.Promoted:
			result, weight = "promoted", 100
		case st.Phase == state.Paused:
			result = "paused"
		case st.Phase == state.Aborted:
			result = "aborted"
		case st.Phase == state.RolledBack:
			result = "rolled-back"
		case st.Phase == state.Progressing && err == nil:
			result = "progressing"
		}
	}
	rolledBack := errors.Is(err, rollout.ErrRolledBack) || result == "rolled-back" || result == "aborted"
	k.SetOutput("result", result)
	k.SetOutput("final-weight", strconv.Itoa(weight))
	k.SetOutput("rolled-back", strconv.FormatBool(rolledBack))
	k.SetOutput("annotation-id", w.annotationID())
	if id := w.deploymentID(); id != 0 {
		k.SetOutput("deployment-id", strconv.FormatInt(id, 10))
	}
	k.SetOutput("state-file", in.stateFile)
	if st == nil {
		return
	}
	k.Summary(summary(in, st, result, err))
	if chart := w.writeChart(k, in, st); chart != "" {
		k.SetOutput("chart", chart)
	}
	if err != nil && !errors.Is(err, rollout.ErrRolledBack) {
		k.Logf("%v", err)
	}
}

func summary(in inputs, st *state.State, result string, err error) string {
	var b strings.Builder
	icon := map[string]string{"promoted": "✅", "paused": "⏸️", "aborted": "🛑", "rolled-back": "↩️", "failed": "❌", "progressing": "⏳"}[result]
	fmt.Fprintf(&b, "## %s Canary %s: %s\n\n", icon, in.version, result)
	fmt.Fprintf(&b, "Rollout `%s`, strategy %s, steps %s.\n\n", in.name, in.strategy, strings.Join(st.Steps, " → "))
	if st.Reason != "" {
		fmt.Fprintf(&b, "**Decision:** %s\n\n", st.Reason)
	} else if err != nil {
		fmt.Fprintf(&b, "**Error:** %v\n\n", err)
	}
	var rows [][]string
	for _, h := range st.History {
		if len(h.Measurements) == 0 {
			rows = append(rows, []string{strconv.Itoa(h.Index), fmt.Sprintf("%d%%", h.Weight), "", "", "", h.Verdict})
		}
		for i, m := range h.Measurements {
			step, weight, verdict := "", "", ""
			if i == 0 {
				step, weight, verdict = strconv.Itoa(h.Index), fmt.Sprintf("%d%%", h.Weight), h.Verdict
			}
			val := strconv.FormatFloat(m.Value, 'g', 4, 64)
			switch {
			case m.Error != "":
				val = "error: " + m.Error
			case m.NoData:
				val = "no data"
			case !m.Pass && m.Detail != "":
				val += " (" + m.Detail + ")"
			}
			mark := "✅"
			if !m.Pass {
				mark = "❌"
			}
			rows = append(rows, []string{step, weight, m.Check, val, m.Threshold + " " + mark, verdict})
		}
	}
	if len(rows) > 0 {
		b.WriteString(actionkit.Table([]string{"Step", "Weight", "Check", "Value", "Threshold", "Verdict"}, rows))
		b.WriteString("\n")
	}
	return b.String()
}

// keepRecordIDs saves the GitHub deployment and Grafana annotation IDs so
// a later run (promote, abort, resume) updates the same records.
func keepRecordIDs(store state.Store, w *wiring) {
	dep, ann := w.deploymentID(), int64(0)
	if w.rec != nil && w.rec.grafana != nil {
		ann = w.rec.grafana.AnnotationID()
	}
	if dep == 0 && ann == 0 {
		return
	}
	if err := store.LockWait(10 * time.Second); err != nil {
		return
	}
	defer store.Unlock()
	st, err := store.Load()
	if err != nil {
		return
	}
	st.Deployment, st.Annotation = dep, ann
	_ = store.Save(st)
}

// store is where the rollout's state lives: PostgreSQL when runs happen on
// different machines, else a file.
func (in inputs) store() state.Store {
	if in.stateURL != "" {
		return &state.Postgres{URL: in.stateURL, Name: in.name}
	}
	return &state.File{Path: in.stateFile}
}
