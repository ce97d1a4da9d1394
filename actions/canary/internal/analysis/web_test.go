package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Analyzer {
	t.Helper()
	cfg, err := Parse([]byte(src), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var testWindow = Window{Start: time.Now().Add(-10 * time.Second), End: time.Now(), Step: 2, Weight: 25, Canary: "canary", Stable: "stable"}

// statusServer answers /status/<server> with JSON describing that server.
func statusServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/status/canary":
			fmt.Fprintf(w, `{"status": "ok", "data": {"items": [{"ready": true, "load": 0.7}], "version": 2}, "weight": %q}`, r.URL.Query().Get("w"))
		case "/status/stable":
			io.WriteString(w, `{"status": "degraded", "data": {"items": [{"ready": false, "load": 3}]}}`)
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, `{"method": %q, "body": %s, "token": %q}`, r.Method, body, r.Header.Get("X-Token"))
		case "/html":
			io.WriteString(w, "<html>not json</html>")
		case "/null":
			io.WriteString(w, `{"status": null}`)
		case "/slow":
			<-r.Context().Done()
		default:
			http.Error(w, "no such page", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func byCheck(res StepResult) map[string]Measurement {
	out := map[string]Measurement{}
	for _, m := range res.Measurements {
		out[m.Check] = m
	}
	return out
}

func TestWebChecks(t *testing.T) {
	srv := statusServer(t)
	a := mustParse(t, fmt.Sprintf(`failure-limit: 100
consecutive-error-limit: 100
no-data: pass
web:
  - {name: plain, url: '%[1]s/status/{{.Canary}}'}
  - {name: status-ok, url: '%[1]s/status/{{.Canary}}', json-path: .status, equals: ok}
  - {name: status-stable, url: '%[1]s/status/{{.Stable}}', json-path: .status, equals: ok}
  - {name: ready, url: '%[1]s/status/{{.Canary}}', json-path: data.items.0.ready, equals: "true"}
  - {name: load, url: '%[1]s/status/{{.Canary}}', json-path: data.items.0.load, max: 1}
  - {name: load-stable, url: '%[1]s/status/{{.Stable}}', json-path: data.items.0.load, max: 1}
  - {name: version, url: '%[1]s/status/{{.Canary}}', json-path: .data.version, equals: "2.0"}
  - {name: templated, url: '%[1]s/status/{{.Canary}}?w={{.Weight}}', json-path: weight, equals: "25"}
  - {name: not-a-number, url: '%[1]s/status/{{.Canary}}', json-path: .status, min: 1}
  - {name: missing, url: '%[1]s/status/{{.Canary}}', json-path: data.items.5.ready, equals: "true"}
  - {name: missing-fails, url: '%[1]s/status/{{.Canary}}', json-path: .nope, min: 1, no-data: fail}
  - {name: null, url: '%[1]s/null', json-path: .status, equals: ok, no-data: pause}
  - {name: broken, url: '%[1]s/broken'}
  - {name: teapot, url: '%[1]s/broken', status: 500}
  - {name: html, url: '%[1]s/html', json-path: .status, equals: ok}
  - name: post
    url: '%[1]s/echo'
    method: POST
    headers: {X-Token: secret}
    body: '{"step": {{.Step}}}'
    json-path: body.step
    equals: "2"
  - {name: slow, url: '%[1]s/slow', timeout: 300ms}
  - {name: refused, url: 'http://127.0.0.1:1/'}
`, srv.URL))
	res := a.Analyze(context.Background(), testWindow)
	got := byCheck(res)
	type want struct {
		pass, noData, err bool
		value             float64
	}
	for name, w := range map[string]want{
		"plain":         {pass: true, value: 200},
		"status-ok":     {pass: true, value: 200},
		"status-stable": {value: 200},
		"ready":         {pass: true, value: 1},
		"load":          {pass: true, value: 0.7},
		"load-stable":   {value: 3},
		"version":       {pass: true, value: 2},
		"templated":     {pass: true, value: 200}, // a JSON string: the status is recorded
		"not-a-number":  {value: 200},
		"missing":       {pass: true, noData: true, value: 200},
		"missing-fails": {noData: true, value: 200},
		"null":          {noData: true, value: 200},
		"broken":        {value: 500},
		"teapot":        {pass: true, value: 500},
		"html":          {err: true, value: 200},
		"post":          {pass: true, value: 2},
		"slow":          {err: true},
		"refused":       {err: true},
	} {
		m, ok := got[name]
		if !ok {
			t.Errorf("%s: not measured", name)
			continue
		}
		if m.Pass != w.pass || m.NoData != w.noData || (m.Err != nil) != w.err || m.Value != w.value {
			t.Errorf("%s: pass=%v noData=%v err=%v value=%v (%s), want pass=%v noData=%v err=%v value=%v",
				name, m.Pass, m.NoData, m.Err, m.Value, m.Detail, w.pass, w.noData, w.err, w.value)
		}
	}
	if got["post"].Detail != "body.step = 2" {
		t.Errorf("post detail %q", got["post"].Detail)
	}
	if !strings.Contains(got["broken"].Detail, "status 500, want 2xx: no such page") {
		t.Errorf("broken detail %q", got["broken"].Detail)
	}
	if !errors.Is(got["slow"].Err, context.DeadlineExceeded) {
		t.Errorf("slow: %v", got["slow"].Err)
	}
	// Failures: status-stable, load-stable, not-a-number, missing-fails, broken.
	if a.Failures() != 5 || res.Verdict != Pause || !strings.Contains(res.Reason, "no data for null") {
		t.Errorf("failures %d, verdict %v (%s)", a.Failures(), res.Verdict, res.Reason)
	}
	if a.ConsecutiveErrors() != 1 {
		t.Errorf("consecutive errors %d, want 1", a.ConsecutiveErrors())
	}
}

// flaky answers with the status the test sets; 0 drops the connection.
type flaky struct{ status atomic.Int32 }

func (f *flaky) server(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := int(f.status.Load())
		if s == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.WriteHeader(s)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFailureLimit(t *testing.T) {
	var f flaky
	a := mustParse(t, fmt.Sprintf("failure-limit: 2\nweb:\n  - {name: up, url: '%s'}\n", f.server(t)))
	ctx := context.Background()
	for i, step := range []struct {
		status   int32
		verdict  Verdict
		failures int
	}{
		{200, Continue, 0},
		{500, Continue, 1},
		{200, Continue, 1}, // a pass does not forgive earlier failures
		{503, Continue, 2},
		{500, Fail, 3},
		{200, Fail, 3}, // once over the limit, the rollout stays failed
	} {
		f.status.Store(step.status)
		res := a.Analyze(ctx, testWindow)
		if res.Verdict != step.verdict || a.Failures() != step.failures {
			t.Fatalf("step %d (status %d): %v with %d failures (%s), want %v with %d", i, step.status, res.Verdict, a.Failures(), res.Reason, step.verdict, step.failures)
		}
		if step.verdict == Fail && !strings.Contains(res.Reason, "3 failed measurement(s), more than failure-limit 2") {
			t.Errorf("reason %q", res.Reason)
		}
	}
}

func TestConsecutiveErrorLimitWithWebChecks(t *testing.T) {
	var f flaky
	a := mustParse(t, fmt.Sprintf("consecutive-error-limit: 2\nweb:\n  - {name: up, url: '%s'}\n", f.server(t)))
	ctx := context.Background()
	for i, step := range []struct {
		status  int32
		verdict Verdict
		run     int
	}{
		{0, Continue, 1},
		{0, Continue, 2},
		{200, Continue, 0}, // a success resets the run
		{0, Continue, 1},
		{0, Continue, 2},
		{0, Fail, 3},
	} {
		f.status.Store(step.status)
		res := a.Analyze(ctx, testWindow)
		if res.Verdict != step.verdict || a.ConsecutiveErrors() != step.run {
			t.Fatalf("step %d: %v with %d errors in a row (%s), want %v with %d", i, res.Verdict, a.ConsecutiveErrors(), res.Reason, step.verdict, step.run)
		}
	}
	if a.Failures() != 0 {
		t.Errorf("errors counted as %d failures", a.Failures())
	}
}

func TestSmoke(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/healthz":
			io.WriteString(w, "ok")
		case "/api/cart":
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "want a JSON POST", http.StatusBadRequest)
				return
			}
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id": 7, "got": %s}`, body)
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()

	good := mustParse(t, `smoke:
  - path: /healthz
    contains: ok
  - path: /api/cart
    method: POST
    headers: {Content-Type: application/json}
    body: '{"item": 1}'
    status: 201
    contains: '"got": {"item": 1}'
`)
	if err := good.Smoke(ctx, srv.URL+"/"); err != nil {
		t.Errorf("passing smoke checks: %v", err)
	}

	bad := mustParse(t, `smoke:
  - path: /healthz
    contains: healthy
  - path: /healthz
  - path: /missing
  - path: /api/cart
    status: 201
`)
	hits.Store(0)
	err := bad.Smoke(ctx, srv.URL)
	if err == nil {
		t.Fatal("failing smoke checks passed")
	}
	msg := err.Error()
	for _, want := range []string{
		"3 of 4 smoke checks failed against " + srv.URL,
		`GET /healthz: the body lacks "healthy" (body: ok)`,
		"GET /missing: status 500, want 2xx (body: boom)",
		"GET /api/cart: status 400, want 201",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests, want all 4 checks run", hits.Load())
	}

	if err := good.Smoke(ctx, "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "2 of 2 smoke checks failed") {
		t.Errorf("unreachable canary: %v", err)
	}
}
