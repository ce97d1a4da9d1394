// Package apiclient is the one JSON-over-HTTP client that gantry's service
// clients share (feature-flag services, forges, cache and artifact
// clients): encode the body, set headers, bound the response, decode it,
// and turn a non-2xx answer into a StatusError that quotes the service's
// own message with the credential scrubbed out.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one service.
type Client struct {
	Name string   // prefixes errors, e.g. "unleash"
	Base *url.URL // paths are appended to it
	HTTP *http.Client
	// Header sets the headers of every request (authorisation, API version).
	Header func(http.Header)
	// ContentType of request bodies; application/json when empty.
	ContentType string
	// Secret is scrubbed from any response text quoted in an error.
	Secret string
	// MaxResponse bounds the bytes read from a response; 8 MiB when 0.
	MaxResponse int64
	// Message picks the service's error message out of a body; the
	// "message" field (with "code" before it, when present) by default.
	Message func(body []byte) string
}

// New returns a client for base with a 30 s timeout when hc is nil.
func New(name string, base *url.URL, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{Name: name, Base: base, HTTP: hc}
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Name, Method, Path string
	Status             int
	Message            string // the service's message, secret scrubbed
	RetryAfter         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %s %s: %d %s", e.Name, e.Method, e.Path, e.Status, e.Message)
}

// Do sends one request with body encoded as JSON (nil: none) and decodes a
// 2xx answer into out (nil: ignored). A non-2xx answer is a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s: encoding %s %s: %w", c.Name, method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base.String(), "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", c.Name, method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		ct := c.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if c.Header != nil {
		c.Header(req.Header)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", c.Name, method, path, err)
	}
	defer resp.Body.Close()
	limit := c.MaxResponse
	if limit == 0 {
		limit = 8 << 20
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return fmt.Errorf("%s: %s %s: reading response: %w", c.Name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Name: c.Name, Method: method, Path: path, Status: resp.StatusCode,
			Message: c.message(data), RetryAfter: resp.Header.Get("Retry-After")}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: %s %s: decoding response: %w", c.Name, method, path, err)
		}
	}
	return nil
}

func (c *Client) message(data []byte) string {
	var msg string
	if c.Message != nil {
		msg = c.Message(data)
	} else {
		msg = defaultMessage(data)
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	if c.Secret != "" {
		msg = strings.ReplaceAll(msg, c.Secret, "[token]")
	}
	if msg == "" {
		msg = "no message"
	}
	return msg
}

func defaultMessage(data []byte) string {
	var e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		msg = e.Message
		if e.Code != "" {
			msg = e.Code + ": " + msg
		}
	}
	return msg
}

// ParseBase checks that raw is an absolute http(s) URL and returns it without
// a trailing slash; the error names the service and an example.
func ParseBase(name, raw, example string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q must be an absolute http(s) URL such as %s", name, raw, example)
	}
	return u, nil
}
