//go:build e2e

// Package e2e tests a running shop (the built image) at BASE_URL.
package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func base(t *testing.T) string {
	t.Helper()
	u := strings.TrimRight(os.Getenv("BASE_URL"), "/")
	if u == "" {
		t.Fatal("the e2e suite needs BASE_URL, where the shop answers")
	}
	// The service may still be starting.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(u + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return u
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz did not answer 200 within a minute: %v", u, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func do(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", "e2e")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestShopServes(t *testing.T) {
	u := base(t)
	code, hdr, body := do(t, "GET", u+"/", "")
	if code != 200 || !strings.HasPrefix(body, "shop ") || hdr.Get("X-Version") == "" {
		t.Fatalf("/: %d %q version %q", code, body, hdr.Get("X-Version"))
	}
	code, _, body = do(t, "GET", u+"/api/products", "")
	var products []struct{ ID, Price int }
	if code != 200 || json.Unmarshal([]byte(body), &products) != nil || len(products) == 0 {
		t.Fatalf("products: %d %s", code, body)
	}
}

func TestOrderAndMetrics(t *testing.T) {
	u := base(t)
	code, _, body := do(t, "POST", u+"/api/orders", `{"product": 1, "quantity": 2}`)
	if code != 201 || !strings.Contains(body, `"checkout":"classic"`) {
		t.Fatalf("order (the new checkout ships dark): %d %s", code, body)
	}
	if code, _, body := do(t, "POST", u+"/api/orders", `{"product": 1, "quantity": 0}`); code != 400 {
		t.Errorf("bad quantity: %d %s", code, body)
	}
	_, _, m := do(t, "GET", u+"/metrics", "")
	for _, want := range []string{`http_requests_total{`, `code="201"`, `http_request_duration_seconds_bucket{`, `shop_orders_total{`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
