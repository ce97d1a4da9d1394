package analysis

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseFull(t *testing.T) {
	src := `prometheus: http://127.0.0.1:9090/
backend: app
min-requests: 20
failure-limit: 2
consecutive-error-limit: 3
no-data: fail
timeout: 5s
latency-selector: 'job="shop",server="{{.Canary}}"'
metrics:
  - success-rate: 0.99
  - latency-p95: 300ms
  - name: p99
    latency-p99: 0.5
    selector: 'pod=~"{{.Canary}}-.*"'
  - name: queue
    query: max(queue{server="{{.Canary}}"}[{{.Interval}}])
    min: 1
    max: 10
    no-data: pass
web:
  - name: status
    url: http://status.local/{{.Canary}}?step={{.Step}}
    method: post
    body: '{"weight": {{.Weight}}}'
    json-path: .data.ready
    equals: "true"
smoke:
  - path: /healthz
  - path: /api
    status: 201
    contains: ok
    timeout: 2s
judge:
  alpha: 0.01
  resolution: 2s
  metrics:
    - name: latency-judge
      query: avg(lat{server="{{.Server}}"})
      direction: either
      tolerance: 0.2
`
	cfg, err := Parse([]byte(src), "analysis.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Prometheus != "http://127.0.0.1:9090" || cfg.Backend != "app" || cfg.MinRequests != 20 ||
		cfg.FailureLimit != 2 || cfg.ConsecutiveErrorLimit != 3 || cfg.NoData != NoDataFail || cfg.Timeout != 5*time.Second {
		t.Errorf("top level: %+v", cfg)
	}
	if len(cfg.Metrics) != 4 {
		t.Fatalf("metrics: %+v", cfg.Metrics)
	}
	sr := cfg.Metrics[0]
	if sr.Name != "success-rate" || sr.Min == nil || *sr.Min != 0.99 || sr.Max != nil ||
		!strings.Contains(sr.Query, `haproxy_server_http_responses_total{proxy="{{.Backend}}",server="{{.Canary}}",code!="5xx"}`) {
		t.Errorf("success-rate: %+v", sr)
	}
	lat := cfg.Metrics[1]
	if lat.Name != "latency-p95" || lat.Max == nil || *lat.Max != 0.3 ||
		lat.Query != `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="shop",server="{{.Canary}}"}[{{.Interval}}])))` {
		t.Errorf("latency-p95: %+v %s", lat, lat.Query)
	}
	if p99 := cfg.Metrics[2]; *p99.Max != 0.5 || !strings.Contains(p99.Query, `histogram_quantile(0.99,`) || !strings.Contains(p99.Query, `{pod=~"{{.Canary}}-.*"}`) {
		t.Errorf("p99: %+v", p99)
	}
	if q := cfg.Metrics[3]; *q.Min != 1 || *q.Max != 10 || q.NoData != NoDataPass {
		t.Errorf("query metric: %+v", q)
	}
	w := cfg.Web[0]
	if w.Method != "POST" || w.JSONPath != ".data.ready" || w.Equals == nil || *w.Equals != "true" || w.Timeout != 5*time.Second || w.Status != 0 {
		t.Errorf("web: %+v", w)
	}
	if len(cfg.Smoke) != 2 || cfg.Smoke[0].Path != "/healthz" || cfg.Smoke[0].Method != "GET" || cfg.Smoke[1].Status != 201 || cfg.Smoke[1].Timeout != 2*time.Second {
		t.Errorf("smoke: %+v", cfg.Smoke)
	}
	j := cfg.Judge
	if j == nil || j.Type != "mann-whitney" || j.Alpha != 0.01 || j.Resolution != 2*time.Second || j.MinSamples != defaultMinSamples ||
		j.Metrics[0].Direction != EitherIsWorse || j.Metrics[0].Tolerance != 0.2 {
		t.Errorf("judge: %+v", j)
	}
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte("web:\n  - name: up\n    url: http://x/\n"), "in")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NoData != NoDataPause || cfg.ConsecutiveErrorLimit != defaultErrorLimit || cfg.FailureLimit != 0 || cfg.Timeout != defaultTimeout {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = Parse([]byte("prometheus: http://p:9090\nmetrics:\n  - latency-p90: 250ms\njudge:\n  metrics:\n    - {name: j, query: 'x{s=\"{{.Server}}\"}'}\n"), "in")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.Metrics[0].Query, `{server="{{.Canary}}"}`) || cfg.Judge.Alpha != 0.05 || cfg.Judge.Resolution != 15*time.Second || cfg.Judge.Metrics[0].Direction != HigherIsWorse {
		t.Errorf("defaults: %+v %+v", cfg.Metrics[0], cfg.Judge)
	}
}

// TestDocExampleParses keeps the package documentation's example (which the
// action's docs copy) valid.
func TestDocExampleParses(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var yml []string
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "//\t"); ok {
			yml = append(yml, rest)
		}
	}
	if len(yml) < 20 {
		t.Fatalf("found no example in doc.go (%d lines)", len(yml))
	}
	cfg, err := Parse([]byte(strings.Join(yml, "\n")), "doc.go")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Metrics) != 3 || len(cfg.Web) != 1 || len(cfg.Smoke) != 2 || cfg.Judge == nil {
		t.Errorf("example parsed to %+v", cfg)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		where     string // source:line:col of the first error
		want      string
	}{
		{"syntax", "metrics:\n  - query: x\n   min: 1\n", "a.yml:", "invalid YAML: did not find expected '-' indicator"},
		{"tab", "backend: app\n\tfailure-limit: 1\n", "a.yml:2:1", "invalid YAML: found a tab"},
		{"empty", "# nothing\n", "a.yml:1:1", "empty"},
		{"not a mapping", "- a\n- b\n", "a.yml:1:1", "analysis must be a mapping"},
		{"unknown key", "prometheus: http://p:9090\nfailure-limt: 1\n", "a.yml:2:1", `did you mean "failure-limit"`},
		{"bad url", "prometheus: p:9090\nmetrics:\n  - success-rate: 0.9\n", "a.yml:1:13", "base URL"},
		{"negative limit", "failure-limit: -1\nweb: [{name: a, url: 'http://x/'}]\n", "a.yml:1:16", "at least 0"},
		{"no-data value", "no-data: maybe\nweb: [{name: a, url: 'http://x/'}]\n", "a.yml:1:10", "fail, pause or pass"},
		{"rate above 1", "prometheus: http://p:9090\nbackend: app\nmetrics:\n  - success-rate: 99\n", "a.yml:4:19", "between 0 and 1"},
		{"latency not a duration", "prometheus: http://p:9090\nmetrics:\n  - latency-p95: fast\n", "a.yml:3:18", "duration"},
		{"two kinds", "prometheus: http://p:9090\nmetrics:\n  - success-rate: 0.9\n    latency-p95: 1s\n", "a.yml:3:5", "exactly one"},
		{"query without threshold", "prometheus: http://p:9090\nmetrics:\n  - name: q\n    query: up\n", "a.yml:3:5", "min, max or both"},
		{"bad template", "prometheus: http://p:9090\nmetrics:\n  - name: q\n    query: up{s=\"{{.Canry}}\"}\n    max: 1\n", "a.yml:4:12", "Canry"},
		{"min above max", "prometheus: http://p:9090\nmetrics:\n  - {name: q, query: up, min: 2, max: 1}\n", "a.yml:3:5", "nothing could pass"},
		{"duplicate name", "prometheus: http://p:9090\nbackend: b\nmetrics:\n  - success-rate: 0.9\n  - success-rate: 0.8\n", "a.yml:5:5", "also used at a.yml:4:5"},
		{"no prometheus", "metrics:\n  - {name: q, query: up, max: 1}\n", "a.yml:1:1", "add prometheus:"},
		{"min-requests without backend", "prometheus: http://p:9090\nmin-requests: 5\n", "a.yml:2:15", "add backend:"},
		{"success-rate without backend", "prometheus: http://p:9090\nmetrics:\n  - success-rate: 0.9\n", "a.yml:3:5", "add backend:"},
		{"nothing", "timeout: 5s\n", "a.yml:1:1", "checks nothing"},
		{"web without url", "web:\n  - name: a\n", "a.yml:2:5", "needs a url"},
		{"web relative url", "web:\n  - name: a\n    url: /status\n", "a.yml:3:10", "absolute"},
		{"equals without path", "web:\n  - {name: a, url: 'http://x/', equals: ok}\n", "a.yml:2:5", "json-path"},
		{"bad status", "web:\n  - {name: a, url: 'http://x/', status: 700}\n", "a.yml:2:41", "between 100 and 599"},
		{"bad path", "web:\n  - {name: a, url: 'http://x/', json-path: a..b}\n", "a.yml:2:44", "empty step"},
		{"smoke path", "smoke:\n  - path: healthz\n", "a.yml:2:11", "start with /"},
		{"method", "smoke:\n  - method: FETCH\n", "a.yml:2:13", "method must be"},
		{"judge type", "prometheus: http://p:9090\njudge:\n  type: t-test\n  metrics: [{name: a, query: 'x{s=\"{{.Server}}\"}'}]\n", "a.yml:3:9", "mann-whitney"},
		{"judge no server", "prometheus: http://p:9090\njudge:\n  metrics:\n    - name: a\n      query: up\n", "a.yml:5:14", "{{.Server}}"},
		{"judge alpha", "prometheus: http://p:9090\njudge:\n  alpha: 5\n  metrics: [{name: a, query: 'x{s=\"{{.Server}}\"}'}]\n", "a.yml:3:10", "significance"},
		{"judge direction", "prometheus: http://p:9090\njudge:\n  metrics: [{name: a, query: 'x{s=\"{{.Server}}\"}', direction: up}]\n", "a.yml:3:63", "higher-is-worse"},
		{"judge no metrics", "prometheus: http://p:9090\njudge:\n  alpha: 0.1\n", "a.yml:3:3", "needs metrics"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "a.yml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.where) || !strings.Contains(err.Error(), tc.want) || !regexp.MustCompile(`^a\.yml:\d+:\d+: `).MatchString(err.Error()) {
				t.Errorf("error %q, want it at %s mentioning %q", err, tc.where, tc.want)
			}
		})
	}
}

// Every problem is reported, each with its own position.
func TestParseReportsAllErrors(t *testing.T) {
	_, err := Parse([]byte("failure-limit: x\nno-data: never\nsmoke:\n  - path: nope\n"), "in")
	if err == nil {
		t.Fatal("accepted")
	}
	got := regexp.MustCompile(`(?m)^in:\d+:\d+:`).FindAllString(err.Error(), -1)
	if strings.Join(got, " ") != "in:1:16: in:2:10: in:4:11:" {
		t.Errorf("positions %v in %q", got, err)
	}
}

var errorPosition = regexp.MustCompile(`^fuzz:\d+:\d+: `)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"prometheus: http://p:9090\nbackend: app\nmetrics:\n  - success-rate: 0.99\n",
		"web:\n  - {name: a, url: 'http://x/{{.Canary}}', json-path: .a.0, min: 1}\n",
		"smoke: [{path: /, contains: ok}]\n",
		"judge:\n  metrics: [{name: a, query: 'x{s=\"{{.Server}}\"}'}]\n",
		"metrics: {a: b}\n", "- [", "a: &x [*x]\n", "{{", "\t",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src, "fuzz")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !errorPosition.MatchString(line) {
					t.Fatalf("error line without source:line:col: %q", line)
				}
			}
			return
		}
		if _, err := New(cfg); err != nil {
			t.Fatalf("Parse accepted what New rejects: %v", err)
		}
	})
}
