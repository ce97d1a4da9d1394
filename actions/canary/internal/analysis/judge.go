package analysis

import (
	"context"
	"fmt"
	"math"
	"text/template"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/gantry-ci/gantry/actions/canary/internal/analysis/mannwhitney"
)

// samples runs a range query over the window and pools the values of every
// series it returns (several series are e.g. one per instance).
func (a *Analyzer) samples(ctx context.Context, q string, w Window) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	v, _, err := a.prom.QueryRange(ctx, q, v1.Range{Start: w.Start, End: w.End, Step: a.cfg.Judge.Resolution})
	if err != nil {
		return nil, fmt.Errorf("query_range Prometheus at %s: %w", a.cfg.Prometheus, err)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("the query returned a %s; want a range vector", v.Type())
	}
	var out []float64
	for _, s := range m {
		for _, p := range s.Values {
			if f := float64(p.Value); !math.IsNaN(f) && !math.IsInf(f, 0) {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// judgeMetric samples the metric for canary and stable and tests whether
// the canary is worse; worse reports a significant change in the bad
// direction beyond the tolerance.
func (a *Analyzer) judgeMetric(ctx context.Context, jm JudgeMetric, t *template.Template, w Window, data queryData) (out Measurement, worse bool) {
	j := a.cfg.Judge
	out = Measurement{Check: jm.Name, Threshold: fmt.Sprintf("p >= %g", j.Alpha)}
	var sets [2][]float64
	for i, server := range []string{w.Canary, w.Stable} {
		d := data
		d.Server = server
		q, err := render(t, d)
		if err == nil {
			sets[i], err = a.samples(ctx, q, w)
		}
		if err != nil {
			out.Err = fmt.Errorf("judge metric %s for %s: %w", jm.Name, server, err)
			return out, false
		}
	}
	canary, stable := sets[0], sets[1]
	if len(canary) < j.MinSamples || len(stable) < j.MinSamples {
		out.NoData = true
		out.Detail = fmt.Sprintf("%d canary and %d stable samples, fewer than min-samples %d (the window holds about window/resolution samples)", len(canary), len(stable), j.MinSamples)
		return out, false
	}
	alt := mannwhitney.Greater
	switch jm.Direction {
	case LowerIsWorse:
		alt = mannwhitney.Less
	case EitherIsWorse:
		alt = mannwhitney.TwoSided
	}
	r, err := mannwhitney.Test(canary, stable, alt)
	if err != nil {
		out.Err = fmt.Errorf("judge metric %s: %w", jm.Name, err)
		return out, false
	}
	out.Value = r.P
	significant := r.P < j.Alpha
	change := relativeChange(r.MedianX, r.MedianY)
	worse = significant && (jm.Tolerance == 0 || math.Abs(change) > jm.Tolerance)
	out.Pass = !worse
	method := "normal approximation"
	if r.Exact {
		method = "exact"
	}
	out.Detail = fmt.Sprintf("mann-whitney (%s, %s): U=%g p=%.4g; canary median %.4g (n=%d), stable median %.4g (n=%d), change %+.1f%%",
		jm.Direction, method, r.U, r.P, r.MedianX, r.N1, r.MedianY, r.N2, 100*change)
	if significant && !worse {
		out.Detail += fmt.Sprintf(", within tolerance %g", jm.Tolerance)
	}
	return out, worse
}

// relativeChange of the canary's median against the stable's; a change from
// zero counts as infinite so any tolerance is exceeded.
func relativeChange(canary, stable float64) float64 {
	if stable == 0 {
		switch {
		case canary > 0:
			return math.Inf(1)
		case canary < 0:
			return math.Inf(-1)
		}
		return 0
	}
	return (canary - stable) / math.Abs(stable)
}
