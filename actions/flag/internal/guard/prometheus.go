package guard

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Prometheus is healthy when every sample of an instant query lies within
// [Min, Max] (nil bounds are open). A query with no samples is unhealthy:
// the signal the flip is judged by is missing.
type Prometheus struct {
	URL      string
	Query    string
	Min, Max *float64
	api      promv1.API
}

// NewPrometheus returns a check against the Prometheus server at url.
func NewPrometheus(url, query string, min, max *float64) (*Prometheus, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", url, err)
	}
	return &Prometheus{URL: url, Query: query, Min: min, Max: max, api: promv1.NewAPI(c)}, nil
}

func (p *Prometheus) String() string { return fmt.Sprintf("%s at %s", p.Query, p.URL) }

// Check implements Check.
func (p *Prometheus) Check(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, _, err := p.api.Query(ctx, p.Query, time.Now())
	if err != nil {
		return Result{Detail: fmt.Sprintf("query %s: %v", p.Query, err)}
	}
	var samples []float64
	switch r := v.(type) {
	case model.Vector:
		for _, s := range r {
			samples = append(samples, float64(s.Value))
		}
	case *model.Scalar:
		samples = append(samples, float64(r.Value))
	default:
		return Result{Detail: fmt.Sprintf("query %s returned a %s; want an instant vector or scalar", p.Query, v.Type())}
	}
	if len(samples) == 0 {
		return Result{Detail: fmt.Sprintf("query %s returned no samples", p.Query)}
	}
	var vals []string
	healthy := true
	for _, s := range samples {
		vals = append(vals, fmt.Sprintf("%g", s))
		if math.IsNaN(s) || (p.Min != nil && s < *p.Min) || (p.Max != nil && s > *p.Max) {
			healthy = false
		}
	}
	return Result{Healthy: healthy, Detail: fmt.Sprintf("%s = %s (want %s)", p.Query, strings.Join(vals, ", "), p.bounds())}
}

func (p *Prometheus) bounds() string {
	switch {
	case p.Min != nil && p.Max != nil:
		return fmt.Sprintf("%g..%g", *p.Min, *p.Max)
	case p.Min != nil:
		return fmt.Sprintf(">= %g", *p.Min)
	case p.Max != nil:
		return fmt.Sprintf("<= %g", *p.Max)
	}
	return "a number"
}
