// Package web is the shop's HTTP API.
package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gantry-ci/gantry/examples/shop/internal/flags"
	"github.com/gantry-ci/gantry/examples/shop/internal/metrics"
	"github.com/gantry-ci/gantry/examples/shop/internal/store"
)

// FeatureFlag is the flag that turns on the express checkout.
const FeatureFlag = "new-checkout"

// Server answers the shop's requests.
type Server struct {
	Version string
	Store   store.Store
	Flags   *flags.File // nil: every flag at its default
	Metrics *metrics.Registry
	// FailRate is the share (0-1) of API requests answered 500: the knob
	// that makes a bad release. Health and metrics are never failed, so a
	// bad version looks healthy until real traffic judges it.
	FailRate float64
	// Rand decides which requests fail (tests make it deterministic).
	Rand func() float64
}

// Handler routes the shop's endpoints.
func (s *Server) Handler() http.Handler {
	if s.Metrics == nil {
		s.Metrics = metrics.New(s.Version)
	}
	if s.Rand == nil {
		s.Rand = rand.Float64
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = s.Metrics.WriteTo(w)
	})
	mux.Handle("GET /healthz", s.observe(false, s.health))
	mux.Handle("GET /{$}", s.observe(true, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "shop %s\n", s.Version)
	}))
	mux.Handle("GET /api/products", s.observe(true, s.products))
	mux.Handle("POST /api/orders", s.observe(true, s.order))
	return mux
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// observe stamps the version, injects the bad release's failures and
// records the request in the metrics.
func (s *Server) observe(canFail bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w.Header().Set("X-Version", s.Version)
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		if canFail && s.FailRate > 0 && s.Rand() < s.FailRate {
			http.Error(rec, "injected failure (FAIL_RATE)", http.StatusInternalServerError)
		} else {
			h(rec, r)
		}
		s.Metrics.Observe(r.Method, rec.code, time.Since(start))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if err := s.Store.Ping(r.Context()); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "version": s.Version, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": s.Version})
}

func (s *Server) products(w http.ResponseWriter, r *http.Request) {
	p, err := s.Store.Products(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, p)
}

type orderRequest struct {
	Product  int `json:"product"`
	Quantity int `json:"quantity"`
}

// order places an order. Users with the new-checkout flag get the express
// checkout (10% off); everyone else the classic one.
func (s *Server) order(w http.ResponseWriter, r *http.Request) {
	var req orderRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON like {\"product\": 1, \"quantity\": 2}"})
		return
	}
	if req.Quantity < 1 || req.Quantity > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "quantity must be 1 to 100"})
		return
	}
	checkout, discount := "classic", 0
	if s.Flags.Bool(FeatureFlag, r.Header.Get("X-User"), false) {
		checkout, discount = "express", 10
	}
	o, err := s.Store.PlaceOrder(r.Context(), req.Product, req.Quantity, discount, checkout)
	if errors.Is(err, store.ErrNoProduct) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("product %d does not exist", req.Product)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	s.Metrics.Order(checkout)
	writeJSON(w, http.StatusCreated, o)
}
