package analysis

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"
)

// NoData is what an empty result means for the step.
type NoData string

// No-data policies.
const (
	NoDataFail  NoData = "fail"  // a failed measurement (counts towards failure-limit)
	NoDataPause NoData = "pause" // the step is inconclusive: the rollout pauses
	NoDataPass  NoData = "pass"  // the measurement passes
)

// Direction says which way a judged metric gets worse.
type Direction string

// Directions.
const (
	HigherIsWorse Direction = "higher-is-worse"
	LowerIsWorse  Direction = "lower-is-worse"
	EitherIsWorse Direction = "either"
)

// Config is the parsed `analysis` input.
type Config struct {
	Source                string            // where the YAML came from (for messages)
	Prometheus            string            // base URL
	PrometheusHeaders     map[string]string // e.g. Authorization for a hosted Prometheus
	Backend               string            // HAProxy backend holding the canary and stable servers
	FailureLimit          int               // failed measurements allowed; Fail when exceeded
	ConsecutiveErrorLimit int               // errors in a row allowed per check; Fail when exceeded
	MinRequests           float64           // canary requests a window needs to be judged
	NoData                NoData
	Timeout               time.Duration // per query or request
	MinInterval           time.Duration // floor of {{.Interval}}
	Metrics               []Metric
	Web                   []WebCheck
	Smoke                 []SmokeCheck
	Judge                 *Judge
}

// Metric is a Prometheus check: an instant query at the window's end whose
// single value must lie within [Min, Max].
type Metric struct {
	Name     string
	Query    string // Go template of PromQL
	Min, Max *float64
	NoData   NoData // "" means the analysis' policy
	Unit     string // "s" for latencies (display only)
}

// WebCheck is an HTTP request whose answer is judged.
type WebCheck struct {
	Name, URL, Method, Body string // URL and Body are Go templates
	Headers                 map[string]string
	Status                  int // 0 means any 2xx
	JSONPath                string
	Equals                  *string
	Min, Max                *float64
	Timeout                 time.Duration
	NoData                  NoData
}

// SmokeCheck is a request straight to the canary before it gets traffic.
type SmokeCheck struct {
	Path, Method, Body string
	Headers            map[string]string
	Status             int // 0 means any 2xx
	Contains           string
	Timeout            time.Duration
}

// Judge compares canary and stable samples statistically.
type Judge struct {
	Type       string // mann-whitney
	Alpha      float64
	Resolution time.Duration // query_range step
	MinSamples int           // per side
	Metrics    []JudgeMetric
}

// JudgeMetric is a per-server PromQL expression sampled over the window.
type JudgeMetric struct {
	Name      string
	Query     string // Go template; {{.Server}} is the server being sampled
	Direction Direction
	Tolerance float64 // relative median change ignored even when significant
}

// queryData is what query, URL and body templates see.
type queryData struct {
	Canary, Stable, Backend string
	Server                  string // the judge's sampled server; the canary elsewhere
	Interval                string // PromQL duration covering the window
	Step, Weight            int
}

// sampleData tries templates out at parse time.
var sampleData = queryData{Canary: "green", Stable: "blue", Backend: "app", Server: "green", Interval: "30s", Step: 1, Weight: 10}

// compile parses a template and runs it once on sample data, which is what
// catches unknown fields.
func compile(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	if err := t.Execute(new(strings.Builder), sampleData); err != nil {
		return nil, err
	}
	return t, nil
}

const (
	defaultTimeout          = 10 * time.Second
	defaultErrorLimit       = 4
	defaultResolution       = 15 * time.Second
	defaultMinSamples       = 5
	defaultAlpha            = 0.05
	defaultLatencySelector  = `server="{{.Canary}}"`
	defaultLatencyHistogram = "http_request_duration_seconds"
	haproxyResponses        = "haproxy_server_http_responses_total"
)

var topKeys = []string{"prometheus", "prometheus-headers", "backend", "failure-limit", "consecutive-error-limit",
	"min-requests", "no-data", "timeout", "min-interval", "latency-selector", "latency-histogram",
	"metrics", "web", "smoke", "judge"}

var metricKeys = []string{"name", "query", "min", "max", "no-data", "success-rate",
	"latency-p50", "latency-p90", "latency-p95", "latency-p99", "selector"}

// Parse reads the analysis YAML. Errors name source:line:col and say how to
// fix the problem; all problems found are reported together.
func Parse(src []byte, source string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, syntaxError(source, src, err)
	}
	d := &decoder{source: source}
	cfg := &Config{Source: source, NoData: NoDataPause, Timeout: defaultTimeout, ConsecutiveErrorLimit: defaultErrorLimit, MinInterval: time.Second}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s:1:1: the analysis is empty: give metrics, web, smoke or judge", source)
	}
	doc := root.Content[0]
	f := d.fields(doc, "analysis", topKeys...)

	if n := f["prometheus"]; n != nil {
		cfg.Prometheus = strings.TrimRight(d.str(n, "prometheus"), "/")
		if u, err := url.Parse(cfg.Prometheus); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(n, "prometheus must be the server's base URL such as http://prometheus:9090, not %q", cfg.Prometheus)
		}
	}
	if n := f["prometheus-headers"]; n != nil {
		cfg.PrometheusHeaders = d.stringMap(n, "prometheus-headers")
	}
	if n := f["backend"]; n != nil {
		cfg.Backend = d.str(n, "backend")
	}
	if n := f["failure-limit"]; n != nil {
		cfg.FailureLimit = d.integer(n, "failure-limit", 0)
	}
	if n := f["consecutive-error-limit"]; n != nil {
		cfg.ConsecutiveErrorLimit = d.integer(n, "consecutive-error-limit", 0)
	}
	if n := f["min-requests"]; n != nil {
		cfg.MinRequests = float64(d.integer(n, "min-requests", 0))
	}
	if n := f["no-data"]; n != nil {
		cfg.NoData = d.noData(n)
	}
	if n := f["timeout"]; n != nil {
		if cfg.Timeout = d.duration(n, "timeout"); cfg.Timeout <= 0 && len(d.errs) == 0 {
			d.errorf(n, "timeout must be more than 0")
		}
	}
	if n := f["min-interval"]; n != nil {
		cfg.MinInterval = d.duration(n, "min-interval")
	}
	selector, selectorNode := defaultLatencySelector, f["latency-selector"]
	if selectorNode != nil {
		selector = d.str(selectorNode, "latency-selector")
	}
	histogram := defaultLatencyHistogram
	if n := f["latency-histogram"]; n != nil {
		histogram = d.str(n, "latency-histogram")
	}

	names := map[string]*yaml.Node{}
	unique := func(n *yaml.Node, name string) {
		if prev, dup := names[name]; dup {
			d.errorf(n, "check name %q is also used at %s: give each check its own name", name, d.at(prev))
			return
		}
		names[name] = n
	}

	if n := f["metrics"]; n != nil {
		for _, item := range d.list(n, "metrics") {
			if m, ok := d.metric(item, selector, histogram); ok {
				unique(item, m.Name)
				cfg.Metrics = append(cfg.Metrics, m)
			}
		}
	}
	if n := f["web"]; n != nil {
		for _, item := range d.list(n, "web") {
			if w, ok := d.web(item, cfg.Timeout); ok {
				unique(item, w.Name)
				cfg.Web = append(cfg.Web, w)
			}
		}
	}
	if n := f["smoke"]; n != nil {
		for _, item := range d.list(n, "smoke") {
			cfg.Smoke = append(cfg.Smoke, d.smoke(item, cfg.Timeout))
		}
	}
	if n := f["judge"]; n != nil {
		cfg.Judge = d.judge(n, unique)
	}

	// Cross-checks, reported at the key that needs the missing piece.
	if len(d.errs) == 0 {
		needProm := len(cfg.Metrics) > 0 || cfg.Judge != nil || cfg.MinRequests > 0
		if needProm && cfg.Prometheus == "" {
			d.errorf(doc, "metrics, judge and min-requests read Prometheus: add prometheus: http://<host>:9090")
		}
		if cfg.MinRequests > 0 && cfg.Backend == "" {
			d.errorf(f["min-requests"], "min-requests counts the canary's requests in HAProxy's counters: add backend: <the HAProxy backend>")
		}
		for _, m := range cfg.Metrics {
			if strings.Contains(m.Query, ".Backend") && cfg.Backend == "" {
				d.errorf(names[m.Name], "metric %s uses the HAProxy backend: add backend: <the HAProxy backend>", m.Name)
			}
		}
		if len(cfg.Metrics)+len(cfg.Web)+len(cfg.Smoke) == 0 && cfg.Judge == nil && cfg.MinRequests == 0 {
			d.errorf(doc, "the analysis checks nothing: give metrics, web, smoke or judge")
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (d *decoder) noData(n *yaml.Node) NoData {
	s := d.str(n, "no-data")
	switch NoData(s) {
	case NoDataFail, NoDataPause, NoDataPass:
		return NoData(s)
	}
	d.errorf(n, "no-data must be fail, pause or pass, not %q", s)
	return ""
}

// template parses a Go template and tries it on sample data, so unknown
// fields ({{.Canry}}) are reported now rather than mid-rollout.
func (d *decoder) template(n *yaml.Node, key, text string) *template.Template {
	t, err := compile(key, text)
	if err != nil {
		d.errorf(n, "%s is not a valid template (fields: .Canary .Stable .Backend .Server .Interval .Step .Weight): %v", key, err)
		return nil
	}
	return t
}

func (d *decoder) optNumber(f map[string]*yaml.Node, key string) *float64 {
	n := f[key]
	if n == nil {
		return nil
	}
	v := d.number(n, key)
	return &v
}

func (d *decoder) metric(n *yaml.Node, selector, histogram string) (Metric, bool) {
	before := len(d.errs)
	f := d.fields(n, "metric", metricKeys...)
	m := Metric{Min: d.optNumber(f, "min"), Max: d.optNumber(f, "max")}
	if v := f["name"]; v != nil {
		m.Name = d.str(v, "name")
	}
	if v := f["no-data"]; v != nil {
		m.NoData = d.noData(v)
	}
	if v := f["selector"]; v != nil {
		selector = d.str(v, "selector")
	}
	var kinds []string
	for _, k := range []string{"query", "success-rate", "latency-p50", "latency-p90", "latency-p95", "latency-p99"} {
		if f[k] != nil {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		d.errorf(n, "a metric needs exactly one of query, success-rate or latency-p50/p90/p95/p99 (found %d)", len(kinds))
		return m, false
	}
	kind, v := kinds[0], f[kinds[0]]
	if kind != "query" && (m.Min != nil || m.Max != nil) {
		d.errorf(n, "%s carries its own threshold: drop min/max or write it as a query", kind)
	}
	if f["selector"] != nil && !strings.HasPrefix(kind, "latency-") {
		d.errorf(f["selector"], "selector only applies to latency-pNN metrics")
	}
	switch {
	case kind == "query":
		m.Query = d.str(v, "query")
		if strings.TrimSpace(m.Query) == "" {
			d.errorf(v, "query is empty: give a PromQL expression")
		}
		if m.Min == nil && m.Max == nil {
			d.errorf(n, "a query metric needs min, max or both")
		}
		if m.Name == "" {
			d.errorf(n, "a query metric needs a name")
		}
	case kind == "success-rate":
		rate := d.number(v, kind)
		if rate < 0 || rate > 1 {
			d.errorf(v, "success-rate is a fraction between 0 and 1 such as 0.99, not %v", rate)
		}
		m.Min = &rate
		// Every response HAProxy got from the canary; 5xx are the failures.
		sel := `proxy="{{.Backend}}",server="{{.Canary}}"`
		m.Query = fmt.Sprintf(`sum(increase(%[1]s{%[2]s,code!="5xx"}[{{.Interval}}])) / sum(increase(%[1]s{%[2]s}[{{.Interval}}]))`, haproxyResponses, sel)
	default: // latency-pNN
		limit := d.duration(v, kind)
		if limit <= 0 && len(d.errs) == before {
			d.errorf(v, "%s must be a duration such as 300ms", kind)
		}
		secs := limit.Seconds()
		m.Max, m.Unit = &secs, "s"
		q, _ := strconv.ParseFloat(strings.TrimPrefix(kind, "latency-p"), 64)
		m.Query = fmt.Sprintf(`histogram_quantile(%g, sum by (le) (rate(%s_bucket{%s}[{{.Interval}}])))`, q/100, histogram, selector)
	}
	if m.Name == "" {
		m.Name = kind
	}
	if m.Min != nil && m.Max != nil && *m.Min > *m.Max {
		d.errorf(n, "min %v is above max %v: nothing could pass", *m.Min, *m.Max)
	}
	if len(d.errs) == before {
		d.template(v, m.Name+" query", m.Query)
	}
	return m, len(d.errs) == before
}

var webKeys = []string{"name", "url", "method", "headers", "body", "status", "json-path", "equals", "min", "max", "timeout", "no-data"}

func (d *decoder) web(n *yaml.Node, timeout time.Duration) (WebCheck, bool) {
	before := len(d.errs)
	f := d.fields(n, "web check", webKeys...)
	w := WebCheck{Method: "GET", Timeout: timeout, Min: d.optNumber(f, "min"), Max: d.optNumber(f, "max")}
	if v := f["name"]; v != nil {
		w.Name = d.str(v, "name")
	}
	if w.Name == "" {
		d.errorf(n, "a web check needs a name")
	}
	if v := f["url"]; v != nil {
		w.URL = d.str(v, "url")
		if t := d.template(v, "url", w.URL); t != nil {
			var sb strings.Builder
			_ = t.Execute(&sb, sampleData)
			if u, err := url.Parse(sb.String()); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(v, "url must be an absolute http(s) URL, not %q", w.URL)
			}
		}
	} else {
		d.errorf(n, "a web check needs a url")
	}
	if v := f["method"]; v != nil {
		w.Method = d.method(v)
	}
	if v := f["headers"]; v != nil {
		w.Headers = d.stringMap(v, "headers")
	}
	if v := f["body"]; v != nil {
		w.Body = d.str(v, "body")
		d.template(v, "body", w.Body)
	}
	if v := f["status"]; v != nil {
		w.Status = d.status(v)
	}
	if v := f["json-path"]; v != nil {
		w.JSONPath = d.str(v, "json-path")
		if _, err := splitPath(w.JSONPath); err != nil {
			d.errorf(v, "%v", err)
		}
	}
	if v := f["equals"]; v != nil {
		s := d.str(v, "equals")
		w.Equals = &s
	}
	if (w.Equals != nil || w.Min != nil || w.Max != nil) && w.JSONPath == "" {
		d.errorf(n, "equals, min and max judge a JSON value: add json-path such as .status or data.items.0.ready")
	}
	if w.Equals != nil && (w.Min != nil || w.Max != nil) {
		d.errorf(n, "give either equals or min/max, not both")
	}
	if v := f["timeout"]; v != nil {
		w.Timeout = d.duration(v, "timeout")
	}
	if v := f["no-data"]; v != nil {
		w.NoData = d.noData(v)
	}
	return w, len(d.errs) == before
}

func (d *decoder) method(n *yaml.Node) string {
	m := strings.ToUpper(d.str(n, "method"))
	switch m {
	case "GET", "POST", "PUT", "HEAD", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	d.errorf(n, "method must be GET, POST, PUT, HEAD, PATCH, DELETE or OPTIONS, not %q", n.Value)
	return "GET"
}

func (d *decoder) status(n *yaml.Node) int {
	s := d.integer(n, "status", 100)
	if s > 599 {
		d.errorf(n, "status must be an HTTP status between 100 and 599, not %d", s)
	}
	return s
}

var smokeKeys = []string{"path", "method", "headers", "body", "status", "contains", "timeout"}

func (d *decoder) smoke(n *yaml.Node, timeout time.Duration) SmokeCheck {
	f := d.fields(n, "smoke check", smokeKeys...)
	s := SmokeCheck{Path: "/", Method: "GET", Timeout: timeout}
	if v := f["path"]; v != nil {
		if s.Path = d.str(v, "path"); !strings.HasPrefix(s.Path, "/") {
			d.errorf(v, "path must start with /, not %q", s.Path)
		}
	}
	if v := f["method"]; v != nil {
		s.Method = d.method(v)
	}
	if v := f["headers"]; v != nil {
		s.Headers = d.stringMap(v, "headers")
	}
	if v := f["body"]; v != nil {
		s.Body = d.str(v, "body")
	}
	if v := f["status"]; v != nil {
		s.Status = d.status(v)
	}
	if v := f["contains"]; v != nil {
		s.Contains = d.str(v, "contains")
	}
	if v := f["timeout"]; v != nil {
		s.Timeout = d.duration(v, "timeout")
	}
	return s
}

var (
	judgeKeys       = []string{"type", "alpha", "resolution", "min-samples", "metrics"}
	judgeMetricKeys = []string{"name", "query", "direction", "tolerance"}
)

func (d *decoder) judge(n *yaml.Node, unique func(*yaml.Node, string)) *Judge {
	before := len(d.errs)
	f := d.fields(n, "judge", judgeKeys...)
	j := &Judge{Type: "mann-whitney", Alpha: defaultAlpha, Resolution: defaultResolution, MinSamples: defaultMinSamples}
	if v := f["type"]; v != nil {
		if j.Type = d.str(v, "type"); j.Type != "mann-whitney" {
			d.errorf(v, "judge type must be mann-whitney, not %q", j.Type)
		}
	}
	if v := f["alpha"]; v != nil {
		if j.Alpha = d.number(v, "alpha"); j.Alpha <= 0 || j.Alpha >= 0.5 {
			d.errorf(v, "alpha is the significance level, above 0 and below 0.5 (0.05 is usual), not %v", j.Alpha)
		}
	}
	if v := f["resolution"]; v != nil {
		if j.Resolution = d.duration(v, "resolution"); j.Resolution < time.Second {
			d.errorf(v, "resolution (the sampling step) must be at least 1s; use your scrape interval or more")
		}
	}
	if v := f["min-samples"]; v != nil {
		j.MinSamples = d.integer(v, "min-samples", 1)
	}
	v := f["metrics"]
	if v == nil {
		d.errorf(n, "the judge needs metrics: a list of {name, query} with {{.Server}} in the query")
		return nil
	}
	for _, item := range d.list(v, "judge metrics") {
		mf := d.fields(item, "judge metric", judgeMetricKeys...)
		m := JudgeMetric{Direction: HigherIsWorse}
		if x := mf["name"]; x != nil {
			m.Name = d.str(x, "name")
		}
		if m.Name == "" {
			d.errorf(item, "a judge metric needs a name")
		} else {
			unique(item, m.Name)
		}
		if x := mf["query"]; x != nil {
			m.Query = d.str(x, "query")
			if !strings.Contains(m.Query, ".Server") {
				d.errorf(x, "a judge query must select one server with {{.Server}} (it runs once for the canary, once for the stable)")
			}
			d.template(x, m.Name+" query", m.Query)
		} else {
			d.errorf(item, "a judge metric needs a query")
		}
		if x := mf["direction"]; x != nil {
			switch m.Direction = Direction(d.str(x, "direction")); m.Direction {
			case HigherIsWorse, LowerIsWorse, EitherIsWorse:
			default:
				d.errorf(x, "direction must be higher-is-worse, lower-is-worse or either, not %q", x.Value)
			}
		}
		if x := mf["tolerance"]; x != nil {
			if m.Tolerance = d.number(x, "tolerance"); m.Tolerance < 0 {
				d.errorf(x, "tolerance is a relative change such as 0.1 (10%%), not %v", m.Tolerance)
			}
		}
		j.Metrics = append(j.Metrics, m)
	}
	if len(j.Metrics) == 0 && len(d.errs) == before {
		d.errorf(v, "the judge has no metrics")
	}
	if len(d.errs) > before {
		return nil
	}
	return j
}

var errNoPath = errors.New("json-path is empty: give a path such as .status or data.items.0.ready")

// splitPath reads ".a.b.0" or "a.b.0".
func splitPath(p string) ([]string, error) {
	p = strings.TrimPrefix(strings.TrimSpace(p), ".")
	if p == "" {
		return nil, errNoPath
	}
	parts := strings.Split(p, ".")
	for _, s := range parts {
		if s == "" {
			return nil, fmt.Errorf("json-path %q has an empty step: write keys and indexes joined by single dots", p)
		}
	}
	return parts, nil
}
