package records

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" when the
// webhook has a secret.
const SignatureHeader = "X-Gantry-Signature-256"

// EventHeader carries the event's phase.
const EventHeader = "X-Gantry-Event"

// WebhookConfig configures the generic webhook.
type WebhookConfig struct {
	URL        string
	Secret     string // signs the body; empty sends it unsigned
	HTTPClient *http.Client
	// Attempts bounds the tries on 5xx and connection errors (default 4);
	// Backoff is the first wait between them, doubled each time (default 1s).
	Attempts int
	Backoff  time.Duration
}

// Webhook POSTs every event as JSON.
type Webhook struct {
	cfg  WebhookConfig
	http *http.Client
	mu   serial
}

// NewWebhook checks cfg and returns the recorder.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("webhook: URL %q is not an http(s) URL", redactURL(cfg.URL))
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Webhook{cfg: cfg, http: hc, mu: newSerial()}, nil
}

func (w *Webhook) String() string { return "webhook " + redactURL(w.cfg.URL) }

// Sign returns the SignatureHeader value for body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Record POSTs e, retrying with backoff on 5xx and connection errors.
func (w *Webhook) Record(ctx context.Context, e Event) error {
	if !validPhase(e.Phase) {
		return fmt.Errorf("webhook: unknown phase %q", e.Phase)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("webhook: encode the %s event: %w", e.Phase, err)
	}
	if err := w.mu.lock(ctx); err != nil {
		return fmt.Errorf("%s: %s event: %w", w, e.Phase, err)
	}
	defer w.mu.unlock()

	wait := w.cfg.Backoff
	var last error
	for attempt := 1; attempt <= w.cfg.Attempts; attempt++ {
		retry, err := w.post(ctx, e.Phase, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry || attempt == w.cfg.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up after %d attempts: %w (last: %v)", w, attempt, ctx.Err(), last)
		case <-time.After(wait):
		}
		wait *= 2
	}
	return fmt.Errorf("%s: %s event: %w", w, e.Phase, last)
}

// post makes one attempt and says whether another may succeed.
func (w *Webhook) post(ctx context.Context, phase string, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, scrub(err, w.cfg.Secret)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gantry-canary")
	req.Header.Set(EventHeader, phase)
	if w.cfg.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(w.cfg.Secret, body))
	}
	resp, err := w.http.Do(req)
	if err != nil {
		// Connection errors are worth another try, unless we ran out of time.
		return ctx.Err() == nil, scrub(err, w.cfg.Secret)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	detail := truncate(strings.TrimSpace(string(raw)), 200)
	if resp.StatusCode >= 500 {
		return true, scrub(fmt.Errorf("answered %s: %s", resp.Status, detail), w.cfg.Secret)
	}
	// A 4xx is our mistake (URL, secret, payload): retrying changes nothing.
	return false, scrub(fmt.Errorf("answered %s, not retried (check the webhook URL and secret): %s", resp.Status, detail), w.cfg.Secret)
}
