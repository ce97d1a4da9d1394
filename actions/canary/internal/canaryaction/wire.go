package canaryaction

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/analysis"
	"github.com/gantry-ci/gantry/actions/canary/internal/deploy"
	"github.com/gantry-ci/gantry/actions/canary/internal/rollout"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/actionkit"
	"github.com/gantry-ci/gantry/internal/container"
)

// wiring is the rollout's parts built from the inputs.
type wiring struct {
	slots      [2]string
	stableAddr string
	routers    rollout.Routers
	judge      rollout.Judge
	deployer   rollout.Deployer
	notify     func(ctx context.Context, e rollout.Event)
	rec        *recorders
	engine     *container.Engine
}

func (w *wiring) close() {
	if w.engine != nil {
		w.engine.Close()
	}
}

func wire(k *actionkit.Kit, in inputs) (*wiring, error) {
	rc := readRouter(k)
	w := &wiring{slots: rc.slots, routers: rc.routers(), stableAddr: k.String("stable-address", "")}

	spec := deploy.Spec{
		Name: in.name, Version: in.version,
		Address:       k.String("canary-address", ""),
		Image:         k.String("canary-image", ""),
		Port:          k.Int("canary-port", 0),
		Network:       k.String("canary-network", ""),
		HealthPath:    k.String("health-path", "/"),
		HealthTimeout: k.Duration("health-timeout", 2*time.Minute),
		Env:           map[string]string{},
	}
	for _, kv := range actionkit.SplitList(k.String("canary-env", "")) {
		key, val, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			k.Invalid("canary-env", "%q: use KEY=VALUE lines", kv)
			continue
		}
		spec.Env[key] = val
	}
	if in.action == "deploy" && (spec.Address == "") == (spec.Image == "") {
		k.Invalid("canary-image", "give either canary-image (the action starts it) or canary-address (already running)")
	}
	if spec.Image != "" && spec.Port <= 0 {
		k.Invalid("canary-port", "give the port the canary image listens on")
	}

	var cfg *analysis.Config
	src, source := []byte(k.String("analysis", "")), "input 'analysis'"
	if f := k.String("analysis-file", ""); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			k.Invalid("analysis-file", "%v", err)
		}
		src, source = data, f
	}
	if len(strings.TrimSpace(string(src))) > 0 {
		c, err := analysis.Parse(src, source)
		if err != nil {
			k.Invalid("analysis", "%v", err)
		}
		cfg = c
	} else {
		k.Logf("warning: no analysis configured: steps are judged by nothing but time")
	}
	st := in.store()
	saved, err := st.Load()
	st.Unlock()
	if err != nil {
		k.Invalid("state-file", "%v", err)
		saved = &state.State{}
	}
	w.rec = readRecorders(k, in, saved)
	if k.InputErrors() != nil {
		return w, nil
	}
	if cfg != nil {
		a, err := analysis.New(cfg)
		if err != nil {
			return w, fmt.Errorf("analysis: %w", err)
		}
		w.judge = &judge{a: a, backend: rc.backend}
	} else {
		w.judge = noJudge{}
	}
	if spec.Image != "" || in.action != "deploy" {
		// Later runs may have to remove containers an earlier run started.
		e, err := container.Connect(context.Background())
		if err != nil && spec.Image != "" {
			return w, fmt.Errorf("connect to the Docker engine to start %s: %w", spec.Image, err)
		}
		w.engine = e
	}
	w.deployer = &deployer{engine: w.engine, spec: spec}
	w.notify = w.rec.notify(k)
	return w, nil
}

// judge adapts the analysis package to the controller.
type judge struct {
	a       *analysis.Analyzer
	backend string
}

func (j *judge) Smoke(ctx context.Context, url string) error { return j.a.Smoke(ctx, url) }

func (j *judge) Analyze(ctx context.Context, w rollout.Window) rollout.Result {
	r := j.a.Analyze(ctx, analysis.Window{Start: w.Start, End: w.End, Step: w.Step, Weight: w.Weight, Canary: w.Canary, Stable: w.Stable})
	out := rollout.Result{Reason: r.Reason}
	switch r.Verdict {
	case analysis.Fail:
		out.Verdict = rollout.Fail
	case analysis.Pause:
		out.Verdict = rollout.Pause
	default:
		out.Verdict = rollout.Continue
	}
	for _, m := range r.Measurements {
		sm := state.Measurement{Check: m.Check, Value: m.Value, Threshold: m.Threshold, Pass: m.Pass, NoData: m.NoData, Detail: m.Detail}
		if m.Err != nil {
			sm.Error = m.Err.Error()
		}
		out.Measurements = append(out.Measurements, sm)
	}
	return out
}

// noJudge passes every step: a rollout with no analysis only waits.
type noJudge struct{}

func (noJudge) Smoke(context.Context, string) error { return nil }
func (noJudge) Analyze(context.Context, rollout.Window) rollout.Result {
	return rollout.Result{Verdict: rollout.Continue, Reason: "no analysis configured"}
}
