package analysis

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// scrapedWindow waits until Prometheus holds a dozen scrapes of the test
// app and returns the last ten seconds as the window.
func scrapedWindow(t *testing.T, p *promServer, canary, stable string) Window {
	t.Helper()
	p.waitFor(`count_over_time(app_queue_depth{server="canary"}[1m])`, func(v float64) bool { return v >= 12 })
	end := time.Now()
	return Window{Start: end.Add(-10 * time.Second), End: end, Step: 1, Weight: 10, Canary: canary, Stable: stable}
}

func TestPrometheusChecks(t *testing.T) {
	p := startPrometheus(t, metricsApp(t))
	w := scrapedWindow(t, p, "canary", "stable")
	swapped := w
	swapped.Canary, swapped.Stable = "stable", "canary"
	ctx := context.Background()

	t.Run("thresholds", func(t *testing.T) {
		a := mustParse(t, fmt.Sprintf(`prometheus: %s
failure-limit: 10
metrics:
  - name: queue
    query: max(app_queue_depth{server="{{.Canary}}"})
    max: 5
  - name: queue-band
    query: max(app_queue_depth{server="{{.Canary}}"})
    min: 2
    max: 8
  - latency-p95: 300ms
`, p.URL))
		res := a.Analyze(ctx, w)
		got := byCheck(res)
		if m := got["queue"]; m.Value != 7 || m.Pass || m.Err != nil || m.Threshold != "<= 5" {
			t.Errorf("canary queue: %+v", m)
		}
		if m := got["queue-band"]; m.Value != 7 || !m.Pass || m.Threshold != ">= 2, <= 8" {
			t.Errorf("canary queue band: %+v", m)
		}
		if m := got["latency-p95"]; m.Pass || m.Value <= 0.3 || m.Value > 0.5 || m.Threshold != "<= 0.3s" {
			t.Errorf("canary p95: %+v", m)
		}
		if res.Verdict != Continue || a.Failures() != 2 || !strings.Contains(res.Reason, "2 of failure-limit 10 used") {
			t.Errorf("canary: %v, %d failures (%s)", res.Verdict, a.Failures(), res.Reason)
		}

		res = a.Analyze(ctx, swapped)
		got = byCheck(res)
		if m := got["queue"]; m.Value != 3 || !m.Pass {
			t.Errorf("stable queue: %+v", m)
		}
		if m := got["latency-p95"]; !m.Pass || m.Value <= 0 || m.Value > 0.05 {
			t.Errorf("stable p95: %+v", m)
		}
		if res.Verdict != Continue || a.Failures() != 2 || !strings.Contains(res.Reason, "all 3 checks passed") {
			t.Errorf("stable: %v, %d failures (%s)", res.Verdict, a.Failures(), res.Reason)
		}
	})

	t.Run("failure-limit", func(t *testing.T) {
		a := mustParse(t, fmt.Sprintf("prometheus: %s\nfailure-limit: 1\nmetrics:\n  - {name: queue, query: 'max(app_queue_depth{server=\"{{.Canary}}\"})', max: 5}\n", p.URL))
		if res := a.Analyze(ctx, w); res.Verdict != Continue || a.Failures() != 1 {
			t.Fatalf("first failure: %v (%s)", res.Verdict, res.Reason)
		}
		if res := a.Analyze(ctx, w); res.Verdict != Fail || a.Failures() != 2 || !strings.Contains(res.Reason, "queue 7 (want <= 5)") {
			t.Fatalf("second failure: %v (%s)", res.Verdict, res.Reason)
		}
	})

	t.Run("no-data", func(t *testing.T) {
		for _, tc := range []struct {
			policy  string
			verdict Verdict
			pass    bool
		}{{"pass", Continue, true}, {"pause", Pause, false}, {"fail", Fail, false}} {
			for _, q := range []string{
				`sum(no_such_metric{server="{{.Canary}}"})`,                               // empty vector
				`sum(rate(app_queue_depth{server="{{.Canary}}"}[{{.Interval}}])) / 0 * 0`, // NaN
			} {
				a := mustParse(t, fmt.Sprintf("prometheus: %s\nno-data: %s\nmetrics:\n  - name: q\n    query: '%s'\n    max: 1\n", p.URL, tc.policy, q))
				res := a.Analyze(ctx, w)
				m := res.Measurements[0]
				if res.Verdict != tc.verdict || !m.NoData || m.Pass != tc.pass || m.Err != nil {
					t.Errorf("no-data %s, %s: %v %+v (%s)", tc.policy, q, res.Verdict, m, res.Reason)
				}
			}
		}
		// A metric's own policy wins over the analysis'.
		a := mustParse(t, fmt.Sprintf("prometheus: %s\nno-data: fail\nmetrics:\n  - {name: q, query: 'sum(no_such_metric)', max: 1, no-data: pass}\n", p.URL))
		if res := a.Analyze(ctx, w); res.Verdict != Continue || a.Failures() != 0 {
			t.Errorf("per-metric no-data: %v (%s)", res.Verdict, res.Reason)
		}
	})

	t.Run("ambiguous", func(t *testing.T) {
		a := mustParse(t, fmt.Sprintf("prometheus: %s\nmetrics:\n  - {name: all, query: app_queue_depth, max: 10}\n", p.URL))
		res := a.Analyze(ctx, w)
		if m := res.Measurements[0]; m.Err == nil || !strings.Contains(m.Err.Error(), "returned 3 series") || res.Verdict != Continue || a.ConsecutiveErrors() != 1 {
			t.Errorf("several series: %v %+v", res.Verdict, m)
		}
	})

	t.Run("judge", func(t *testing.T) {
		judge := func(direction string, minSamples int) *Analyzer {
			return mustParse(t, fmt.Sprintf(`prometheus: %s
judge:
  resolution: 1s
  min-samples: %d
  metrics:
    - name: latency-judge
      query: max(app_latency_seconds{server="{{.Server}}"})
      direction: %s
`, p.URL, minSamples, direction))
		}
		res := judge("higher-is-worse", 5).Analyze(ctx, w)
		m := res.Measurements[0]
		t.Logf("slower canary: %s", m.Detail)
		if res.Verdict != Fail || m.Pass || m.Value >= 0.01 || !strings.Contains(m.Detail, "canary median 0.3") || !strings.Contains(res.Reason, "the judge finds the canary worse") {
			t.Errorf("slower canary: %v %+v (%s)", res.Verdict, m, res.Reason)
		}
		res = judge("lower-is-worse", 5).Analyze(ctx, w)
		if m := res.Measurements[0]; res.Verdict != Continue || !m.Pass || m.Value < 0.99 {
			t.Errorf("slower canary where lower is worse: %v %+v", res.Verdict, m)
		}
		for _, dir := range []string{"higher-is-worse", "either"} {
			twin := w
			twin.Canary = "twin"
			res = judge(dir, 5).Analyze(ctx, twin)
			if m := res.Measurements[0]; res.Verdict != Continue || !m.Pass || m.Value < 0.3 {
				t.Errorf("identical canary (%s): %v %+v", dir, res.Verdict, m)
			}
		}
		res = judge("higher-is-worse", 1000).Analyze(ctx, w)
		if m := res.Measurements[0]; res.Verdict != Pause || !m.NoData || !strings.Contains(m.Detail, "fewer than min-samples 1000") {
			t.Errorf("too few samples: %v %+v", res.Verdict, m)
		}
	})
}

// TestPrometheusDown stops and restarts the real Prometheus: errors are not
// failures, a success resets the run, and too many in a row fail the step.
func TestPrometheusDown(t *testing.T) {
	p := startPrometheus(t)
	a := mustParse(t, fmt.Sprintf("prometheus: %s\nconsecutive-error-limit: 1\nmetrics:\n  - {name: one, query: vector(1), max: 2}\n", p.URL))
	ctx := context.Background()
	step := func(want Verdict, run int) StepResult {
		t.Helper()
		end := time.Now()
		res := a.Analyze(ctx, Window{Start: end.Add(-5 * time.Second), End: end, Canary: "green", Stable: "blue"})
		if res.Verdict != want || a.ConsecutiveErrors() != run || a.Failures() != 0 {
			t.Fatalf("%v with %d errors in a row, %d failures (%s); want %v with %d", res.Verdict, a.ConsecutiveErrors(), a.Failures(), res.Reason, want, run)
		}
		return res
	}
	if m := step(Continue, 0).Measurements[0]; !m.Pass || m.Value != 1 {
		t.Fatalf("up: %+v", m)
	}
	p.p.stop()
	res := step(Continue, 1)
	if m := res.Measurements[0]; m.Err == nil || !strings.Contains(m.Err.Error(), "query Prometheus at "+p.URL) {
		t.Errorf("down: %+v", m)
	}
	p.restart()
	step(Continue, 0)
	p.p.stop()
	step(Continue, 1)
	res = step(Fail, 2)
	if !strings.Contains(res.Reason, "one errored 2 times in a row, more than consecutive-error-limit 1") {
		t.Errorf("reason %q", res.Reason)
	}
}
