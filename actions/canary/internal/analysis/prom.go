package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
)

// errNoData marks a query that answered with nothing usable.
var errNoData = errors.New("no data")

// instant runs query at t and returns its single value.
func (a *Analyzer) instant(ctx context.Context, query string, t time.Time) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	v, _, err := a.prom.Query(ctx, query, t)
	if err != nil {
		return 0, fmt.Errorf("query Prometheus at %s: %w", a.cfg.Prometheus, err)
	}
	switch v := v.(type) {
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, errNoData
		case 1:
		default:
			return 0, fmt.Errorf("the query returned %d series (first %s): aggregate it to one, e.g. with sum()", len(v), v[0].Metric)
		}
		if f := float64(v[0].Value); !math.IsNaN(f) {
			return f, nil
		}
		return 0, errNoData
	case *model.Scalar:
		if f := float64(v.Value); !math.IsNaN(f) {
			return f, nil
		}
		return 0, errNoData
	}
	return 0, fmt.Errorf("the query returned a %s; want a single number (an instant vector of one series or a scalar)", v.Type())
}

// requests counts the responses HAProxy got from the canary in the window.
func (a *Analyzer) requests(ctx context.Context, w Window, data queryData) (float64, error) {
	q := fmt.Sprintf(`sum(increase(%s{proxy=%q,server=%q}[%s]))`, haproxyResponses, data.Backend, data.Canary, data.Interval)
	n, err := a.instant(ctx, q, w.End)
	if errors.Is(err, errNoData) {
		return 0, fmt.Errorf("no %s in Prometheus for backend %q server %q: check that Prometheus scrapes HAProxy's prometheus-exporter, the backend and server names, and that the window (or min-interval) spans at least two scrapes", haproxyResponses, data.Backend, data.Canary)
	}
	if err != nil {
		return 0, fmt.Errorf("count the canary's requests: %w", err)
	}
	return n, nil
}

func (a *Analyzer) metric(ctx context.Context, m Metric, t *template.Template, w Window, data queryData) Measurement {
	out := Measurement{Check: m.Name, Threshold: threshold(m.Min, m.Max, m.Unit)}
	q, err := render(t, data)
	if err != nil {
		out.Err = fmt.Errorf("metric %s: render the query: %w", m.Name, err)
		return out
	}
	out.Detail = q
	v, err := a.instant(ctx, q, w.End)
	switch {
	case errors.Is(err, errNoData):
		out.NoData = true
		out.Detail = "empty result or NaN (no traffic?): " + q
	case err != nil:
		out.Err = fmt.Errorf("metric %s: %w", m.Name, err)
	default:
		out.Value = v
		out.Pass = within(v, m.Min, m.Max)
	}
	return out
}
