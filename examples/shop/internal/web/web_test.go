package web

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/examples/shop/internal/flags"
	"github.com/gantry-ci/gantry/examples/shop/internal/store"
)

func serve(t *testing.T, s *Server, method, path, user, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("X-User", user)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

func TestEndpoints(t *testing.T) {
	s := &Server{Version: "v7", Store: &store.Memory{}}
	if rec := serve(t, s, "GET", "/", "", ""); rec.Code != 200 || rec.Body.String() != "shop v7\n" || rec.Header().Get("X-Version") != "v7" {
		t.Errorf("/: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := serve(t, s, "GET", "/healthz", "", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"status":"ok"`) {
		t.Errorf("/healthz: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(t, s, "GET", "/api/products", "", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"grinder"`) {
		t.Errorf("products: %d %s", rec.Code, rec.Body)
	}
	rec := serve(t, s, "POST", "/api/orders", "bob", `{"product": 2, "quantity": 2}`)
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"total":17800`) || !strings.Contains(rec.Body.String(), `"checkout":"classic"`) {
		t.Errorf("order: %d %s", rec.Code, rec.Body)
	}
	for body, code := range map[string]int{`{"product": 9, "quantity": 1}`: 404, `{"product": 1, "quantity": 0}`: 400, `nope`: 400} {
		if rec := serve(t, s, "POST", "/api/orders", "", body); rec.Code != code {
			t.Errorf("%s: %d, want %d", body, rec.Code, code)
		}
	}
	if rec := serve(t, s, "GET", "/nope", "", ""); rec.Code != 404 {
		t.Errorf("unknown path: %d", rec.Code)
	}
	m := serve(t, s, "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{`http_requests_total{version="v7",method="POST",code="201"} 1`, `http_requests_total{version="v7",method="POST",code="404"} 1`,
		`shop_orders_total{version="v7",checkout="classic"} 1`, `http_request_duration_seconds_count{version="v7",code="200"} 3`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, m)
		}
	}
}

func TestFailRateFailsOnlyAPIRequests(t *testing.T) {
	n := 0
	// Every other draw is below the rate.
	s := &Server{Version: "bad", Store: &store.Memory{}, FailRate: 0.5, Rand: func() float64 { n++; return float64(n%2) * 0.9 }}
	codes := map[int]int{}
	for i := 0; i < 10; i++ {
		codes[serve(t, s, "GET", "/api/products", "", "").Code]++
		if rec := serve(t, s, "GET", "/healthz", "", ""); rec.Code != 200 {
			t.Fatalf("health failed under FAIL_RATE: %d", rec.Code)
		}
	}
	if codes[500] != 5 || codes[200] != 5 {
		t.Errorf("codes %v, want 5 of each", codes)
	}
	if got := s.Metrics.Requests(500); got != 5 {
		t.Errorf("metrics count %d failures", got)
	}
}

func TestFlagTurnsOnExpressCheckout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	if err := os.WriteFile(path, []byte(`{"flags":{"new-checkout":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off",
	  "targeting":{"fractional":[["on",50],["off",50]]}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := flags.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Version: "v2", Store: &store.Memory{}, Flags: f}
	seen := map[string]bool{}
	for _, user := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		rec := serve(t, s, "POST", "/api/orders", user, `{"product": 1, "quantity": 10}`)
		body := rec.Body.String()
		switch {
		case strings.Contains(body, `"checkout":"express"`) && strings.Contains(body, `"total":11610`):
			seen["express"] = true
		case strings.Contains(body, `"checkout":"classic"`) && strings.Contains(body, `"total":12900`):
			seen["classic"] = true
		default:
			t.Errorf("user %s: %d %s", user, rec.Code, body)
		}
	}
	if !seen["express"] || !seen["classic"] {
		t.Errorf("at 50%% both flows should appear among 8 users: %v", seen)
	}
}
