package records

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// verify checks a signature the way a receiver would, independently of Sign.
func verify(secret string, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(sum, m.Sum(nil))
}

func TestWebhookSigned(t *testing.T) {
	const secret = "s3cr3t-webhook"
	var got Event
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get(EventHeader) != "step" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if !verify(secret, body, r.Header.Get(SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	defer srv.Close()

	w, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hook", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	e := ev(Step, 25)
	if err := w.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 || got.Weight != 25 || got.Version != "v2.0.0" || !got.Time.Equal(e.Time) || got.SHA != e.SHA {
		t.Fatalf("received %+v after %d hits", got, hits.Load())
	}

	// The wrong secret is a 401: not retried, reported without the secret.
	hits.Store(0)
	bad, _ := NewWebhook(WebhookConfig{URL: srv.URL + "/hook", Secret: "other-secret-value", Backoff: time.Millisecond})
	err = bad.Record(context.Background(), e)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "not retried") || strings.Contains(err.Error(), "other-secret-value") {
		t.Fatalf("error = %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("4xx tried %d times, want 1", hits.Load())
	}
}

func TestWebhookUnsignedHasNoSignature(t *testing.T) {
	var sig atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig.Store(r.Header.Get(SignatureHeader))
	}))
	defer srv.Close()
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL})
	if err := w.Record(context.Background(), ev(Promoted, 100)); err != nil {
		t.Fatal(err)
	}
	if s := sig.Load(); s != "" {
		t.Fatalf("unsigned webhook sent %s: %q", SignatureHeader, s)
	}
}

func TestWebhookRetries5xx(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) < 3 {
			http.Error(w, "upstream busy", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL, Attempts: 4, Backoff: 10 * time.Millisecond})
	if err := w.Record(context.Background(), ev(Step, 10)); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 3 {
		t.Fatalf("hits = %d, want 3 (two 502s, then success)", hits.Load())
	}

	// Always failing: bounded by Attempts, last answer in the error.
	hits.Store(-100)
	w, _ = NewWebhook(WebhookConfig{URL: srv.URL, Attempts: 3, Backoff: time.Millisecond})
	err := w.Record(context.Background(), ev(Step, 10))
	if err == nil || !strings.Contains(err.Error(), "502") || !strings.Contains(err.Error(), "upstream busy") {
		t.Fatalf("error = %v", err)
	}
	if n := hits.Load() + 100; n != 3 {
		t.Fatalf("tried %d times, want 3", n)
	}
}

func TestWebhookConnectionErrorHidesURL(t *testing.T) {
	// A port nothing listens on: take one and close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w, _ := NewWebhook(WebhookConfig{URL: "http://" + addr + "/hooks/T0123/tok-in-path?key=qs-secret", Attempts: 2, Backoff: time.Millisecond})
	err = w.Record(context.Background(), ev(Step, 10))
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	if msg := err.Error(); strings.Contains(msg, "tok-in-path") || strings.Contains(msg, "qs-secret") || !strings.Contains(msg, addr) {
		t.Fatalf("error = %q: want the host, not the path or query", msg)
	}
}

func TestWebhookStopsAtDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	w, _ := NewWebhook(WebhookConfig{URL: srv.URL, Attempts: 50, Backoff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Record(ctx, ev(Step, 10)) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gave up") {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Record ignored its deadline while backing off")
	}
}
