// Package metrics keeps the shop's request counters and latency histogram
// and writes them in Prometheus' text exposition format. It is small on
// purpose: the example has no dependencies, so it builds in any container
// without a module download.
package metrics

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Buckets are the latency histogram's upper bounds in seconds.
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

type key struct{ method, code string }

type histogram struct {
	counts []uint64 // per bucket, not cumulative
	count  uint64
	sum    float64
}

// Registry holds every series of one process.
type Registry struct {
	version string
	mu      sync.Mutex
	reqs    map[key]uint64
	lat     map[string]*histogram // by code
	orders  map[string]uint64     // by checkout flow
}

// New makes a registry whose series carry the version label.
func New(version string) *Registry {
	return &Registry{version: version, reqs: map[key]uint64{}, lat: map[string]*histogram{}, orders: map[string]uint64{}}
}

// Observe records one answered request.
func (r *Registry) Observe(method string, code int, d time.Duration) {
	c := strconv.Itoa(code)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs[key{method, c}]++
	h := r.lat[c]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(Buckets))}
		r.lat[c] = h
	}
	s := d.Seconds()
	for i, b := range Buckets {
		if s <= b {
			h.counts[i]++
			break
		}
	}
	h.count++
	h.sum += s
}

// Order counts one order placed through the given checkout flow.
func (r *Registry) Order(checkout string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.orders[checkout]++
}

// Requests returns how many requests were answered with code.
func (r *Registry) Requests(code int) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n uint64
	for k, v := range r.reqs {
		if k.code == strconv.Itoa(code) {
			n += v
		}
	}
	return n
}

// WriteTo writes every series in the text exposition format (version 0.0.4).
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	v := escape(r.version)
	b.WriteString("# HELP http_requests_total Requests answered, by method and status code.\n# TYPE http_requests_total counter\n")
	keys := make([]key, 0, len(r.reqs))
	for k := range r.reqs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].method != keys[j].method {
			return keys[i].method < keys[j].method
		}
		return keys[i].code < keys[j].code
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "http_requests_total{version=\"%s\",method=\"%s\",code=\"%s\"} %d\n", v, escape(k.method), k.code, r.reqs[k])
	}
	b.WriteString("# HELP http_request_duration_seconds Request latency, by status code.\n# TYPE http_request_duration_seconds histogram\n")
	codes := make([]string, 0, len(r.lat))
	for c := range r.lat {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		h := r.lat[c]
		var cum uint64
		for i, bound := range Buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "http_request_duration_seconds_bucket{version=\"%s\",code=\"%s\",le=\"%s\"} %d\n", v, c, strconv.FormatFloat(bound, 'g', -1, 64), cum)
		}
		fmt.Fprintf(&b, "http_request_duration_seconds_bucket{version=\"%s\",code=\"%s\",le=\"+Inf\"} %d\n", v, c, h.count)
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{version=\"%s\",code=\"%s\"} %s\n", v, c, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "http_request_duration_seconds_count{version=\"%s\",code=\"%s\"} %d\n", v, c, h.count)
	}
	b.WriteString("# HELP shop_orders_total Orders placed, by checkout flow.\n# TYPE shop_orders_total counter\n")
	flows := make([]string, 0, len(r.orders))
	for f := range r.orders {
		flows = append(flows, f)
	}
	sort.Strings(flows)
	for _, f := range flows {
		fmt.Fprintf(&b, "shop_orders_total{version=\"%s\",checkout=\"%s\"} %d\n", v, escape(f), r.orders[f])
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}
