package analysis

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHAProxySuccessRate proves the success-rate shortcut's and
// min-requests' queries against HAProxy 2.6's own exporter: Prometheus
// scrapes a real haproxy while the test sends traffic through it to a
// stable that always answers 200 and a canary that fails every third
// request with 500.
func TestHAProxySuccessRate(t *testing.T) {
	bin := need(t, "haproxy", "haproxy")
	var canaryHits atomic.Int64
	stable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "blue")
		io.WriteString(w, "stable")
	}))
	t.Cleanup(stable.Close)
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server", "green")
		if canaryHits.Add(1)%3 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "canary")
	}))
	t.Cleanup(canary.Close)

	dir := t.TempDir()
	front, metrics := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := fmt.Sprintf(`defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind 127.0.0.1:%d
  default_backend app
frontend metrics
  bind %s
  http-request use-service prometheus-exporter if { path /metrics }
backend app
  balance roundrobin
  server blue %s weight 50
  server green %s weight 50
`, front, metrics, stable.Listener.Addr(), canary.Listener.Addr())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, bin, "-f", path, "-db")
	waitHTTP(t, "http://"+metrics+"/metrics")
	p := startPrometheus(t, metrics)
	// The counters must be scraped at zero before the traffic starts.
	p.waitFor(`count_over_time(haproxy_server_http_responses_total{proxy="app",server="green",code="2xx"}[1m])`, func(v float64) bool { return v >= 2 })

	begin := time.Now()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	sent := map[string]int{}
	for i := 0; i < 300; i++ {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", front))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		sent[resp.Header.Get("X-Server")]++
		if i%50 == 0 {
			time.Sleep(300 * time.Millisecond) // spread the traffic over a few scrapes
		}
	}
	green := sent["green"]
	t.Logf("sent %v", sent)
	if green < 100 || int(canaryHits.Load()) != green {
		t.Fatalf("the canary got %d requests (%d by its own count)", green, canaryHits.Load())
	}
	p.waitFor(`sum(haproxy_server_http_responses_total{proxy="app",server="green"})`, func(v float64) bool { return int(v) == green })
	end := time.Now()
	w := Window{Start: begin.Add(-2 * time.Second), End: end, Step: 1, Weight: 50, Canary: "green", Stable: "blue"}
	ctx := context.Background()

	analysis := func(minRequests int, backend string) *Analyzer {
		return mustParse(t, fmt.Sprintf("prometheus: %s\nbackend: %s\nmin-requests: %d\nno-data: pause\nmetrics:\n  - success-rate: 0.95\n", p.URL, backend, minRequests))
	}

	res := analysis(20, "app").Analyze(ctx, w)
	got := byCheck(res)
	t.Logf("canary: %v (%s) requests %.1f, success rate %+v", res.Verdict, res.Reason, res.Requests, got["success-rate"])
	// increase() extrapolates to the window's edges, so allow some slack.
	if res.Requests < 0.8*float64(green) || res.Requests > 1.35*float64(green) {
		t.Errorf("requests %.1f, want about %d", res.Requests, green)
	}
	if m := got["min-requests"]; !m.Pass || m.Value != res.Requests {
		t.Errorf("min-requests: %+v", m)
	}
	if m := got["success-rate"]; m.Pass || m.Value < 0.55 || m.Value > 0.8 || m.Threshold != ">= 0.95" {
		t.Errorf("canary success rate (2 of 3 succeed): %+v", m)
	}
	if res.Verdict != Fail {
		t.Errorf("canary verdict %v (%s)", res.Verdict, res.Reason)
	}

	swapped := w
	swapped.Canary, swapped.Stable = "blue", "green"
	res = analysis(20, "app").Analyze(ctx, swapped)
	if m := byCheck(res)["success-rate"]; !m.Pass || m.Value != 1 || res.Verdict != Continue {
		t.Errorf("stable: %v %+v (%s)", res.Verdict, m, res.Reason)
	}

	res = analysis(100000, "app").Analyze(ctx, w)
	got = byCheck(res)
	if m, measured := got["success-rate"]; measured || res.Verdict != Pause || !got["min-requests"].NoData ||
		!strings.Contains(got["min-requests"].Detail, "fewer than min-requests 100000") {
		t.Errorf("below min-requests: %v %+v (%s); success-rate measured: %v", res.Verdict, got["min-requests"], res.Reason, m)
	}

	// A window after the traffic stopped holds no canary requests.
	later := Window{Start: end, End: end.Add(4 * time.Second), Canary: "green", Stable: "blue"}
	p.waitFor(`vector(time())`, func(v float64) bool { return v > float64(later.End.Unix()+1) })
	if res = analysis(1, "app").Analyze(ctx, later); res.Verdict != Pause || res.Requests != 0 {
		t.Errorf("idle window: %v, %v requests (%s)", res.Verdict, res.Requests, res.Reason)
	}

	res = analysis(20, "nosuch").Analyze(ctx, w)
	if m := byCheck(res)["min-requests"]; m.Err == nil || !strings.Contains(m.Err.Error(), "check that Prometheus scrapes HAProxy") || res.Verdict != Continue {
		t.Errorf("unknown backend: %v %+v", res.Verdict, m)
	}
}
