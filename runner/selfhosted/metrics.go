package selfhosted

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the runner's Prometheus metrics, on their own registry.
type Metrics struct {
	reg        *prometheus.Registry
	running    prometheus.Gauge
	capacity   prometheus.Gauge
	jobs       *prometheus.CounterVec
	duration   prometheus.Histogram
	queueWait  prometheus.Histogram
	pollErrors prometheus.Counter
	healthy    atomic.Bool
}

// NewMetrics makes the metrics, with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gantry_runner_jobs_running", Help: "Jobs running now."})
	m.capacity = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gantry_runner_capacity", Help: "Jobs the runner runs at once."})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gantry_runner_jobs_total", Help: "Jobs finished, by result (success, failure, cancelled, skipped, error)."}, []string{"result"})
	buckets := []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200}
	m.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gantry_runner_job_duration_seconds", Help: "How long jobs ran.", Buckets: buckets})
	m.queueWait = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gantry_runner_queue_wait_seconds", Help: "How long jobs waited between being queued on the server and starting here (when the forge tells the queue time).", Buckets: buckets})
	m.pollErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_runner_poll_errors_total", Help: "Failed polls and server calls that were retried."})
	m.reg.MustRegister(m.running, m.capacity, m.jobs, m.duration, m.queueWait, m.pollErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// PollError counts one retried failure; it fits forge.Options.PollError.
func (m *Metrics) PollError(error) {
	if m != nil {
		m.pollErrors.Inc()
	}
}

// Registry is where the metrics are registered, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics (Prometheus text format) and /healthz (200 while
// the runner is connected and taking jobs, 503 otherwise).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.healthy.Load() {
			http.Error(w, "not connected", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
