package github

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// statusError is a response the server refused.
type statusError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *statusError) Error() string {
	body := strings.TrimSpace(e.Body)
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, redactURL(e.URL), e.Status, http.StatusText(e.Status), body)
}

func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// transient is an error worth retrying: the network, a timeout, 5xx, 429.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if s := statusOf(err); s != 0 {
		return s >= 500 || s == http.StatusTooManyRequests || s == http.StatusRequestTimeout
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "connection refused")
}

// redactURL drops the query, where session ids and tokens may travel.
func redactURL(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// backoff is an exponential delay with jitter, capped.
type backoff struct {
	Min, Max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.Min << min(b.n, 16)
	if d > b.Max || d <= 0 {
		d = b.Max
	}
	b.n++
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (b *backoff) reset() { b.n = 0 }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// tokenSource hands out the runner's OAuth access token, exchanging a
// signed client assertion for one when it has none or it is about to end.
type tokenSource struct {
	http     *http.Client
	key      *rsa.PrivateKey
	clientID string
	authURL  string
	pss      bool
	ua       string

	mu     sync.Mutex
	token  string
	expiry time.Time
}

func (t *tokenSource) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Until(t.expiry) > time.Minute {
		return t.token, nil
	}
	// Backdated like actions/runner does, for a server clock a little behind.
	jwt, err := clientAssertion(t.key, t.clientID, t.authURL, t.pss, time.Now().Add(-30*time.Second))
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {jwt},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.authURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("authorization URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", t.ua)
	resp, err := t.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("get an access token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get an access token: %w", &statusError{Method: "POST", URL: t.authURL, Status: resp.StatusCode, Body: string(body)})
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("get an access token: the answer has no access_token")
	}
	t.token = out.AccessToken
	if out.ExpiresIn <= 0 {
		out.ExpiresIn = 3600
	}
	t.expiry = time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
	return t.token, nil
}

func (t *tokenSource) invalidate() {
	t.mu.Lock()
	t.token = ""
	t.mu.Unlock()
}

// auth says how one request authenticates.
type auth struct {
	scheme string // "Bearer" or "RemoteAuth"
	token  string
	source *tokenSource // the runner's own token, refreshed on 401
}

// client sends the service's requests.
type client struct {
	http *http.Client
	ua   string

	mu        sync.Mutex
	locations map[string]*connectionData
}

func newClient(h *http.Client, version string) *client {
	if h == nil {
		h = &http.Client{Timeout: 0} // long polls; each call has its own context deadline
	}
	if version == "" {
		version = "dev"
	}
	return &client{http: h, ua: "gantry-runner/" + version, locations: map[string]*connectionData{}}
}

// call sends one request; body is JSON unless it is []byte (octet
// stream); out receives a JSON answer unless it is *[]byte. A 204 or 202
// leaves out untouched and returns errNoContent.
func (c *client) call(ctx context.Context, method, u, apiVersion string, a auth, body, out any) error {
	err := c.once(ctx, method, u, apiVersion, a, body, out)
	if a.source != nil && statusOf(err) == http.StatusUnauthorized {
		a.source.invalidate()
		err = c.once(ctx, method, u, apiVersion, a, body, out)
	}
	return err
}

var errNoContent = errors.New("no content")

func (c *client) once(ctx context.Context, method, u, apiVersion string, a auth, body, out any) error {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, redactURL(u), err)
		}
		rd, ctype = bytes.NewReader(data), "application/json; charset=utf-8"
	}
	if apiVersion != "" {
		pu, err := url.Parse(u)
		if err == nil {
			q := pu.Query()
			q.Set("api-version", apiVersion)
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redactURL(u), err)
	}
	if ctype != "" {
		if apiVersion != "" {
			ctype += "; api-version=" + apiVersion
		}
		req.Header.Set("Content-Type", ctype)
	}
	if _, raw := out.(*[]byte); raw {
		req.Header.Set("Accept", "application/octet-stream")
	} else {
		accept := "application/json"
		if apiVersion != "" {
			accept += "; api-version=" + apiVersion
		}
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", c.ua)
	token := a.token
	if a.source != nil {
		if token, err = a.source.get(ctx); err != nil {
			return err
		}
	}
	if token != "" {
		scheme := a.scheme
		if scheme == "" {
			scheme = "Bearer"
		}
		req.Header.Set("Authorization", scheme+" "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redactURL(u), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, redactURL(u), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{Method: method, URL: u, Status: resp.StatusCode, Body: string(data)}
	}
	if out == nil {
		return nil
	}
	if resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusAccepted || len(bytes.TrimSpace(data)) == 0 {
		return errNoContent
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer does not parse: %w", method, redactURL(u), err)
	}
	return nil
}

// retry runs f until it succeeds, fails for good, or attempts run out.
func retry(ctx context.Context, attempts int, f func() error) error {
	b := backoff{Min: retryMin, Max: retryMax}
	var err error
	for i := 0; i < attempts; i++ {
		if err = f(); !transient(err) {
			return err
		}
		if i < attempts-1 {
			if serr := sleep(ctx, b.next()); serr != nil {
				return errors.Join(err, serr)
			}
		}
	}
	return err
}

// Backoff bounds; tests shorten them.
var (
	retryMin = 500 * time.Millisecond
	retryMax = 30 * time.Second
)

// Service ids of the location service (TaskResourceIds.cs).
const (
	svcPools           = "a8c47e17-4d56-4a56-92bb-de7ea7dc65be"
	svcAgents          = "e298ef32-5878-4cab-993c-043836571f42"
	svcSessions        = "134e239e-2df3-4794-a6f6-24f1f19ec8dc"
	svcMessages        = "c3a054f6-7a8a-49c0-944e-3a8e5d7adfd7"
	svcAgentRequests   = "fc825784-c92a-4299-9221-998a02d1b54f"
	svcPlanEvents      = "557624af-b29e-4c20-8ab0-0399d2204f3f"
	svcTimelineRecords = "8893bc5b-35b2-4be7-83cb-99e683551db4"
	svcFeed            = "858983e4-19bd-4c5e-864c-507b59b58b12"
	svcLogs            = "46f5667d-263a-4684-91b1-dff7fdcf64e2"
	svcAttachments     = "7898f959-9cdf-4096-b29e-7f293031629e"
)

var routeParam = regexp.MustCompile(`/?\{[^}]+\}`)

// locate resolves a service's URL under base from its connectionData
// route template, filling {params} and dropping the ones not given.
func (c *client) locate(ctx context.Context, base string, a auth, service string, params map[string]string) (string, error) {
	c.mu.Lock()
	cd := c.locations[base]
	c.mu.Unlock()
	if cd == nil {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("service URL %q: %w", base, err)
		}
		u.Path = path.Join(u.Path, "_apis/connectionData")
		u.RawQuery = url.Values{"connectOptions": {"1"}, "lastChangeId": {"-1"}, "lastChangeId64": {"-1"}}.Encode()
		var got connectionData
		if err := retry(ctx, 5, func() error { return c.call(ctx, "GET", u.String(), "", a, nil, &got) }); err != nil {
			return "", fmt.Errorf("read the service's locations: %w", err)
		}
		cd = &got
		c.mu.Lock()
		c.locations[base] = cd
		c.mu.Unlock()
	}
	for _, d := range cd.LocationServiceData.ServiceDefinitions {
		if !strings.EqualFold(d.Identifier, service) {
			continue
		}
		all := map[string]string{"area": d.ServiceType, "resource": d.DisplayName}
		for k, v := range params {
			all[k] = v
		}
		rel := routeParam.ReplaceAllStringFunc(d.RelativePath, func(m string) string {
			slash := strings.HasPrefix(m, "/")
			name := strings.Trim(m, "/{}")
			v, ok := all[name]
			if !ok || v == "" {
				return ""
			}
			if slash {
				return "/" + url.PathEscape(v)
			}
			return url.PathEscape(v)
		})
		u, err := url.Parse(base)
		if err != nil {
			return "", err
		}
		u.Path = path.Join(u.Path, rel)
		return u.String(), nil
	}
	return "", fmt.Errorf("the server at %s offers no service %s; is this a GitHub Actions service?", base, service)
}

// joinURL appends p to base's path.
func joinURL(base, p string) string {
	u, err := url.Parse(base)
	if err != nil {
		return strings.TrimSuffix(base, "/") + "/" + p
	}
	u.Path = path.Join(u.Path, p)
	return u.String()
}
