// Command demoapp is the small web app the canary tests deploy: it answers
// with its version, fails a given share of requests, and exposes a latency
// histogram for Prometheus. It lives under testdata so `go build ./...`
// leaves it out of the actions image.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	listen := flag.String("listen", envOr("LISTEN", ":8080"), "address to listen on")
	version := flag.String("version", envOr("VERSION", "v1"), "version to report")
	failRate := flag.Float64("fail-rate", 0, "share of requests answered with 500")
	delay := flag.Duration("delay", 0, "added latency")
	flag.Parse()
	if v := os.Getenv("FAIL_RATE"); v != "" {
		fmt.Sscan(v, failRate)
	}
	if v := os.Getenv("DELAY"); v != "" {
		*delay, _ = time.ParseDuration(v)
	}

	reg := prometheus.NewRegistry()
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "Request latency.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"version", "code"})
	reg.MustRegister(latency)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"ok","version":%q}`, *version)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		time.Sleep(*delay)
		code := http.StatusOK
		if *failRate > 0 && rand.Float64() < *failRate {
			code = http.StatusInternalServerError
		}
		w.Header().Set("X-Version", *version)
		w.WriteHeader(code)
		fmt.Fprintln(w, *version)
		latency.WithLabelValues(*version, fmt.Sprint(code)).Observe(time.Since(start).Seconds())
	})
	log.Printf("demoapp %s on %s (fail-rate %.2f)", *version, *listen, *failRate)
	log.Fatal(http.ListenAndServe(*listen, mux))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
