package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	r := New(`v1"x`)
	r.Observe("GET", 200, 3*time.Millisecond)
	r.Observe("GET", 200, 30*time.Millisecond)
	r.Observe("GET", 500, 5*time.Second)
	r.Order("express")
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`http_requests_total{version="v1\"x",method="GET",code="200"} 2`,
		`http_requests_total{version="v1\"x",method="GET",code="500"} 1`,
		// cumulative buckets: 3ms is not <= 2.5ms, both are <= 50ms
		`http_request_duration_seconds_bucket{version="v1\"x",code="200",le="0.0025"} 0`,
		`http_request_duration_seconds_bucket{version="v1\"x",code="200",le="0.005"} 1`,
		`http_request_duration_seconds_bucket{version="v1\"x",code="200",le="0.05"} 2`,
		`http_request_duration_seconds_bucket{version="v1\"x",code="500",le="2.5"} 0`,
		`http_request_duration_seconds_bucket{version="v1\"x",code="500",le="+Inf"} 1`,
		`http_request_duration_seconds_count{version="v1\"x",code="200"} 2`,
		`http_request_duration_seconds_sum{version="v1\"x",code="500"} 5`,
		`shop_orders_total{version="v1\"x",checkout="express"} 1`,
		"# TYPE http_request_duration_seconds histogram",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if r.Requests(200) != 2 || r.Requests(500) != 1 {
		t.Errorf("requests: %d %d", r.Requests(200), r.Requests(500))
	}
}
