package guard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/promtest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func TestHTTPStatusAndCondition(t *testing.T) {
	var status atomic.Int32
	var body atomic.Value
	status.Store(200)
	body.Store(`{"status":"ok","checks":{"errors":2}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, body.Load().(string))
	}))
	defer srv.Close()

	statuses, err := ParseStatus("")
	if err != nil {
		t.Fatal(err)
	}
	plain := &HTTP{URL: srv.URL, Status: statuses}
	if r := plain.Check(context.Background()); !r.Healthy {
		t.Fatalf("200 with default statuses: %+v", r)
	}
	status.Store(503)
	if r := plain.Check(context.Background()); r.Healthy || !strings.Contains(r.Detail, "status 503, want 2xx") {
		t.Fatalf("503: %+v", r)
	}

	status.Store(200)
	cond, err := ParseCondition("checks.errors < 5")
	if err != nil {
		t.Fatal(err)
	}
	withCond := &HTTP{URL: srv.URL, Status: statuses, Cond: cond}
	if r := withCond.Check(context.Background()); !r.Healthy {
		t.Fatalf("errors 2 < 5: %+v", r)
	}
	body.Store(`{"status":"degraded","checks":{"errors":9}}`)
	if r := withCond.Check(context.Background()); r.Healthy || !strings.Contains(r.Detail, "checks.errors is 9") {
		t.Fatalf("errors 9: %+v", r)
	}
	okCond, _ := ParseCondition(`status == "ok"`)
	if r := (&HTTP{URL: srv.URL, Status: statuses, Cond: okCond}).Check(context.Background()); r.Healthy {
		t.Fatalf("status degraded passed == ok: %+v", r)
	}
	body.Store(`<html>`)
	if r := withCond.Check(context.Background()); r.Healthy || !strings.Contains(r.Detail, "not JSON") {
		t.Fatalf("non-JSON body: %+v", r)
	}
}

func TestHTTPUnreachableIsUnhealthy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	r := (&HTTP{URL: url, Status: StatusSet{"2xx"}}).Check(context.Background())
	if r.Healthy || !strings.Contains(r.Detail, url) {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestParseStatusAndCondition(t *testing.T) {
	s, err := ParseStatus("200, 3xx")
	if err != nil || !s.Has(200) || !s.Has(302) || s.Has(201) || s.Has(500) {
		t.Fatalf("%v %v", s, err)
	}
	for _, bad := range []string{"2xxx", "abc", "99", "600"} {
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) accepted", bad)
		}
	}
	c, err := ParseCondition("ready")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Eval(map[string]any{"ready": true}); !ok {
		t.Error("bare path true")
	}
	if ok, _ := c.Eval(map[string]any{"ready": false}); ok {
		t.Error("bare path false")
	}
	c, _ = ParseCondition("items.1.state != down")
	if ok, _ := c.Eval(map[string]any{"items": []any{map[string]any{"state": "down"}, map[string]any{"state": "up"}}}); !ok {
		t.Error("array index")
	}
	for _, bad := range []string{"", "a <", "x > fast", "a b"} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("ParseCondition(%q) accepted", bad)
		}
	}
}

type scripted struct {
	results []bool
	n       int
}

func (s *scripted) String() string { return "scripted" }
func (s *scripted) Check(context.Context) Result {
	r := s.results[min(s.n, len(s.results)-1)]
	s.n++
	return Result{Healthy: r, Detail: fmt.Sprintf("check %d", s.n)}
}

func TestWatch(t *testing.T) {
	ms := time.Millisecond
	// One blip is tolerated with failures=2; two in a row are not.
	c := &scripted{results: []bool{true, false, true, false, false, true}}
	r, err := Watch(context.Background(), c, time.Hour, ms, 2, nil)
	if err != nil || r.Healthy || c.n != 5 {
		t.Fatalf("got %+v after %d checks, err %v", r, c.n, err)
	}
	// Window 0: exactly one check.
	c = &scripted{results: []bool{true}}
	if r, _ := Watch(context.Background(), c, 0, ms, 1, nil); !r.Healthy || c.n != 1 {
		t.Fatalf("window 0: %+v after %d", r, c.n)
	}
	c = &scripted{results: []bool{false}}
	var seen []Result
	if r, _ := Watch(context.Background(), c, 0, ms, 1, func(r Result) { seen = append(seen, r) }); r.Healthy || len(seen) != 1 {
		t.Fatalf("window 0 unhealthy: %+v, logged %d", r, len(seen))
	}
	// A healthy window runs until it closes.
	c = &scripted{results: []bool{true}}
	start := time.Now()
	if r, _ := Watch(context.Background(), c, 50*ms, 5*ms, 1, nil); !r.Healthy || c.n < 2 || time.Since(start) < 50*ms {
		t.Fatalf("healthy window: %+v after %d checks", r, c.n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Watch(ctx, &scripted{results: []bool{true}}, time.Hour, time.Hour, 1, nil); err == nil {
		t.Fatal("cancelled watch returned no error")
	}
}

// TestPrometheusAgainstRealServer scrapes a gauge served here with
// client_golang into a real Prometheus and judges it.
func TestPrometheusAgainstRealServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	ratio := prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_error_ratio", Help: "share of failed requests"})
	reg.MustRegister(ratio)
	ratio.Set(0.01)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	url := promtest.Start(t, l.Addr().String())

	max := 0.05
	p, err := NewPrometheus(url, `app_error_ratio{job="app"}`, nil, &max)
	if err != nil {
		t.Fatal(err)
	}
	// Healthy once the first scrape has landed.
	r, err := Watch(context.Background(), waitFor(t, p, true), 0, time.Second, 1, nil)
	if err != nil || !r.Healthy || !strings.Contains(r.Detail, "0.01") {
		t.Fatalf("healthy: %+v %v", r, err)
	}
	ratio.Set(0.5)
	r = waitFor(t, p, false).Check(context.Background())
	if r.Healthy || !strings.Contains(r.Detail, "0.5") || !strings.Contains(r.Detail, "<= 0.05") {
		t.Fatalf("unhealthy: %+v", r)
	}
	none, _ := NewPrometheus(url, `app_error_ratio{job="nothing"}`, nil, &max)
	if r := none.Check(context.Background()); r.Healthy || !strings.Contains(r.Detail, "no samples") {
		t.Fatalf("empty query: %+v", r)
	}
	bad, _ := NewPrometheus(url, `rate(`, nil, &max)
	if r := bad.Check(context.Background()); r.Healthy || !strings.Contains(r.Detail, "query rate(") {
		t.Fatalf("bad query: %+v", r)
	}
}

// waitFor polls until Prometheus has scraped a value with the given verdict
// (scrapes land every second; a loaded machine may take longer).
func waitFor(t *testing.T, c Check, healthy bool) Check {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := c.Check(context.Background())
		if r.Healthy == healthy {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v verdict within 60 s; last: %+v", healthy, r)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
