// Package analysis judges each step of a canary rollout from real metrics:
// Prometheus queries with thresholds, HTTP checks, smoke requests before
// any traffic, and a Mann-Whitney judge comparing canary with stable.
//
// The `analysis` input is YAML:
//
//	prometheus: http://prometheus:9090
//	backend: app                # HAProxy backend holding the canary and stable servers
//	min-requests: 50            # fewer canary requests in a window: no data
//	no-data: pause              # fail | pause | pass (default pause)
//	failure-limit: 1            # failed measurements allowed; the next one fails the rollout
//	consecutive-error-limit: 4  # errors (e.g. Prometheus down) in a row allowed per check
//	timeout: 10s                # per query or request
//	min-interval: 1m            # floor for {{.Interval}}; use at least 4 scrape intervals
//	latency-selector: 'job="shop",server="{{.Canary}}"'
//	metrics:
//	  - success-rate: 0.99      # non-5xx share of the canary's responses, from HAProxy's exporter
//	  - latency-p95: 300ms      # from the app's http_request_duration_seconds histogram
//	  - name: error-budget
//	    query: sum(rate(app_errors_total{server="{{.Canary}}"}[{{.Interval}}]))
//	    max: 0.5
//	    no-data: pass
//	web:
//	  - name: canary-ready
//	    url: http://shop-internal/status?server={{.Canary}}
//	    status: 200
//	    json-path: data.ready
//	    equals: "true"
//	smoke:
//	  - path: /healthz
//	  - path: /api/cart
//	    method: POST
//	    body: '{"item": 1}'
//	    headers: {Content-Type: application/json}
//	    status: 201
//	    contains: '"id"'
//	judge:
//	  type: mann-whitney
//	  alpha: 0.05
//	  resolution: 15s           # sampling step: your scrape interval or more
//	  min-samples: 5
//	  metrics:
//	    - name: latency-judge
//	      query: histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{server="{{.Server}}"}[1m])))
//	      direction: higher-is-worse   # or lower-is-worse, either
//	      tolerance: 0.1               # ignore median changes under 10%
//
// Queries, URLs and bodies are Go templates over .Canary and .Stable (the
// HAProxy server names), .Backend, .Interval (a PromQL duration covering
// the window, such as 30s), .Step and .Weight; judge queries also get
// .Server, the server being sampled. A metric must evaluate to one number:
// an empty result or NaN is no data.
//
// Each step: failed measurements add up across steps and the step fails
// once they exceed failure-limit; an error is not a failure, but a check
// erroring more than consecutive-error-limit times in a row fails the step
// (a success resets its run); a judge metric significantly worse on the
// canary fails the step at once; no data with no-data: pause pauses it.
package analysis
