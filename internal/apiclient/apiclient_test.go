package apiclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "tok-123" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/echo":
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			w.Write([]byte(`{"ok":true}`))
		case "/api/bad":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":"rate","message":"slow down, token tok-123"}`))
		case "/api/junk":
			w.Write([]byte(`not json`))
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := New("svc", u, nil)
	c.Secret = "tok-123"
	c.Header = func(h http.Header) { h.Set("Authorization", "tok-123") }

	var out struct{ OK bool }
	if err := c.Do(context.Background(), http.MethodPost, "/api/echo", map[string]int{"a": 1}, &out); err != nil || !out.OK {
		t.Fatalf("echo: %v %+v", err, out)
	}
	err := c.Do(context.Background(), http.MethodGet, "/api/bad", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != "7" {
		t.Fatalf("bad: %v", err)
	}
	if strings.Contains(err.Error(), "tok-123") || !strings.Contains(err.Error(), "rate: slow down, token [token]") {
		t.Errorf("message %q", err.Error())
	}
	if err := c.Do(context.Background(), http.MethodGet, "/api/junk", nil, &out); err == nil || !strings.Contains(err.Error(), "decoding response") {
		t.Errorf("junk: %v", err)
	}
	c.Header = nil
	if err := c.Do(context.Background(), http.MethodGet, "/api/echo", nil, nil); !errors.As(err, &se) || se.Status != 401 || se.Message != "no message" {
		t.Errorf("unauth: %v", err)
	}
}
