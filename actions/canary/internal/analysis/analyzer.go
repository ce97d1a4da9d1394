package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// Window is the stretch of time one step is judged on.
type Window struct {
	Start, End     time.Time
	Step, Weight   int
	Canary, Stable string // server names, for query templates
}

// Measurement is one check's outcome in one window.
type Measurement struct {
	Check     string
	Value     float64
	Threshold string
	Pass      bool
	NoData    bool
	Err       error // the check could not be made (not a failure)
	Detail    string
}

// Verdict is the analysis' decision for a step.
type Verdict int

// Verdicts.
const (
	Continue Verdict = iota
	Pause
	Fail
)

func (v Verdict) String() string {
	switch v {
	case Continue:
		return "continue"
	case Pause:
		return "pause"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// StepResult is the analysis of one window.
type StepResult struct {
	Measurements []Measurement
	Verdict      Verdict
	Reason       string
	Requests     float64 // requests that reached the canary (0 without backend)
}

// Analyzer runs the checks of a Config and keeps the counters that span
// steps. It is safe for concurrent use, though steps are meant to be
// analysed one after another.
type Analyzer struct {
	cfg     *Config
	prom    v1.API // nil when no Prometheus is configured
	client  *http.Client
	metrics []*template.Template
	web     [][2]*template.Template // url, body
	judge   []*template.Template

	mu       sync.Mutex
	failures int
	errRun   map[string]int // consecutive errors per check
}

// New prepares an analyzer; it does not contact anything yet.
func New(cfg *Config) (*Analyzer, error) {
	if cfg == nil {
		return nil, errors.New("no analysis configuration")
	}
	c := *cfg
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if c.NoData == "" {
		c.NoData = NoDataPause
	}
	a := &Analyzer{cfg: &c, errRun: map[string]int{}, client: &http.Client{
		// Redirects are followed; each check's context bounds the time.
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true},
	}}
	if c.Prometheus != "" {
		pc, err := api.NewClient(api.Config{Address: c.Prometheus, RoundTripper: headerTransport{c.PrometheusHeaders, api.DefaultRoundTripper}})
		if err != nil {
			return nil, fmt.Errorf("prometheus client for %s: %w", c.Prometheus, err)
		}
		a.prom = v1.NewAPI(pc)
	} else if len(c.Metrics) > 0 || c.Judge != nil || c.MinRequests > 0 {
		return nil, errors.New("metrics, judge and min-requests need a Prometheus URL")
	}
	for _, m := range c.Metrics {
		t, err := compile(m.Name, m.Query)
		if err != nil {
			return nil, fmt.Errorf("metric %s: query: %w", m.Name, err)
		}
		a.metrics = append(a.metrics, t)
	}
	for _, w := range c.Web {
		u, err := compile(w.Name+" url", w.URL)
		if err != nil {
			return nil, fmt.Errorf("web check %s: url: %w", w.Name, err)
		}
		b, err := compile(w.Name+" body", w.Body)
		if err != nil {
			return nil, fmt.Errorf("web check %s: body: %w", w.Name, err)
		}
		a.web = append(a.web, [2]*template.Template{u, b})
	}
	if c.Judge != nil {
		j := *c.Judge // defaults below must not change the caller's Config
		c.Judge = &j
		if c.Judge.Resolution <= 0 {
			c.Judge.Resolution = defaultResolution
		}
		for _, m := range c.Judge.Metrics {
			t, err := compile(m.Name, m.Query)
			if err != nil {
				return nil, fmt.Errorf("judge metric %s: query: %w", m.Name, err)
			}
			a.judge = append(a.judge, t)
		}
	}
	return a, nil
}

type headerTransport struct {
	headers map[string]string
	next    http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(h.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range h.headers {
			r.Header.Set(k, v)
		}
	}
	return h.next.RoundTrip(r)
}

// Failures is the number of failed measurements so far.
func (a *Analyzer) Failures() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failures
}

// ConsecutiveErrors is the longest current run of errors of any one check.
func (a *Analyzer) ConsecutiveErrors() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	most := 0
	for _, n := range a.errRun {
		most = max(most, n)
	}
	return most
}

type outcome int

const (
	passed outcome = iota
	failed
	paused
	errored
)

// checked is a measurement with what it means for the verdict.
type checked struct {
	Measurement
	outcome outcome
	judged  bool // a failed judge metric fails the step outright
}

// settle turns a measurement into an outcome under a no-data policy.
func settle(m Measurement, policy NoData) checked {
	switch {
	case m.Err != nil:
		m.Pass = false
		return checked{m, errored, false}
	case m.NoData:
		switch policy {
		case NoDataPass:
			m.Pass = true
			return checked{m, passed, false}
		case NoDataFail:
			m.Pass = false
			return checked{m, failed, false}
		}
		m.Pass = false
		return checked{m, paused, false}
	case !m.Pass:
		return checked{m, failed, false}
	}
	return checked{m, passed, false}
}

func (a *Analyzer) policy(p NoData) NoData {
	if p == "" {
		return a.cfg.NoData
	}
	return p
}

// interval is a PromQL duration covering the window, whole seconds rounded
// up so the window's first sample is inside.
func (a *Analyzer) interval(w Window) string {
	d := w.End.Sub(w.Start)
	if d < a.cfg.MinInterval {
		d = a.cfg.MinInterval
	}
	secs := int64(math.Ceil(d.Seconds()))
	return fmt.Sprintf("%ds", max(secs, 1))
}

// Analyze runs every check on the window and decides the step. Failed
// measurements add to Failures (Fail once they exceed failure-limit); a
// check that errors more than consecutive-error-limit times in a row fails
// the step; a failed judge metric fails it at once; missing data follows
// no-data (pause makes the step inconclusive).
func (a *Analyzer) Analyze(ctx context.Context, w Window) StepResult {
	data := queryData{Canary: w.Canary, Stable: w.Stable, Backend: a.cfg.Backend, Server: w.Canary,
		Interval: a.interval(w), Step: w.Step, Weight: w.Weight}
	var res StepResult
	var all []checked

	enough := true
	if a.prom != nil && a.cfg.Backend != "" {
		n, err := a.requests(ctx, w, data)
		res.Requests = n
		if a.cfg.MinRequests > 0 {
			m := Measurement{Check: "min-requests", Value: n, Threshold: fmt.Sprintf(">= %g", a.cfg.MinRequests)}
			switch {
			case err != nil:
				m.Err = err
				enough = false
			case n < a.cfg.MinRequests:
				m.NoData = true
				m.Detail = fmt.Sprintf("%.0f requests reached %s in %s, fewer than min-requests %g: metrics and judge skipped", n, w.Canary, data.Interval, a.cfg.MinRequests)
				enough = false
			default:
				m.Pass = true
				m.Detail = fmt.Sprintf("%.0f requests reached %s in %s", n, w.Canary, data.Interval)
			}
			all = append(all, settle(m, a.cfg.NoData))
		}
	}
	if enough {
		for i, m := range a.cfg.Metrics {
			all = append(all, settle(a.metric(ctx, m, a.metrics[i], w, data), a.policy(m.NoData)))
		}
	}
	for i, wc := range a.cfg.Web {
		all = append(all, settle(a.webCheck(ctx, wc, a.web[i], data), a.policy(wc.NoData)))
	}
	if enough && a.cfg.Judge != nil {
		for i, jm := range a.cfg.Judge.Metrics {
			m, worse := a.judgeMetric(ctx, jm, a.judge[i], w, data)
			c := settle(m, a.cfg.NoData)
			c.judged = worse
			all = append(all, c)
		}
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	var failedNow, pausedNow, erroredNow, fatal []string
	for _, c := range all {
		res.Measurements = append(res.Measurements, c.Measurement)
		if c.outcome == errored {
			a.errRun[c.Check]++
			erroredNow = append(erroredNow, fmt.Sprintf("%s: %v", c.Check, c.Err))
			if n := a.errRun[c.Check]; n > a.cfg.ConsecutiveErrorLimit {
				fatal = append(fatal, fmt.Sprintf("%s errored %d times in a row, more than consecutive-error-limit %d (last: %v)", c.Check, n, a.cfg.ConsecutiveErrorLimit, c.Err))
			}
			continue
		}
		a.errRun[c.Check] = 0
		switch c.outcome {
		case failed:
			a.failures++
			failedNow = append(failedNow, describe(c.Measurement))
			if c.judged {
				fatal = append(fatal, "the judge finds the canary worse: "+describe(c.Measurement))
			}
		case paused:
			pausedNow = append(pausedNow, c.Check)
		}
	}
	if a.failures > a.cfg.FailureLimit {
		fatal = append([]string{fmt.Sprintf("%d failed measurement(s), more than failure-limit %d (this step: %s)",
			a.failures, a.cfg.FailureLimit, orNone(failedNow))}, fatal...)
	}
	switch {
	case len(fatal) > 0:
		res.Verdict, res.Reason = Fail, strings.Join(fatal, "; ")
	case len(pausedNow) > 0:
		res.Verdict, res.Reason = Pause, fmt.Sprintf("no data for %s (no-data: pause)", strings.Join(pausedNow, ", "))
	default:
		var parts []string
		if len(failedNow) > 0 {
			parts = append(parts, fmt.Sprintf("failed: %s (%d of failure-limit %d used)", strings.Join(failedNow, ", "), a.failures, a.cfg.FailureLimit))
		}
		if len(erroredNow) > 0 {
			parts = append(parts, fmt.Sprintf("errors within consecutive-error-limit %d: %s", a.cfg.ConsecutiveErrorLimit, strings.Join(erroredNow, "; ")))
		}
		if len(parts) == 0 {
			parts = append(parts, fmt.Sprintf("all %d checks passed", len(all)))
		}
		res.Verdict, res.Reason = Continue, strings.Join(parts, "; ")
	}
	return res
}

func describe(m Measurement) string {
	if m.NoData {
		return m.Check + " (no data)"
	}
	return fmt.Sprintf("%s %.4g (want %s)", m.Check, m.Value, m.Threshold)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func threshold(minimum, maximum *float64, unit string) string {
	switch {
	case minimum != nil && maximum != nil:
		return fmt.Sprintf(">= %g%s, <= %g%s", *minimum, unit, *maximum, unit)
	case minimum != nil:
		return fmt.Sprintf(">= %g%s", *minimum, unit)
	case maximum != nil:
		return fmt.Sprintf("<= %g%s", *maximum, unit)
	}
	return ""
}

func within(v float64, minimum, maximum *float64) bool {
	return (minimum == nil || v >= *minimum) && (maximum == nil || v <= *maximum)
}

func render(t *template.Template, data queryData) (string, error) {
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		return "", err
	}
	return sb.String(), nil
}
