// Package httpcheck runs declarative HTTP checks against a deployment, for
// teams without Go end-to-end tests.
package httpcheck

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is a checks file:
//
//	checks:
//	  - name: health
//	    request: GET /healthz
//	    status: 200
//	    body-contains: ok
//	    max-latency: 500ms
type File struct {
	Checks []Check `yaml:"checks"`
}

// Check is one request and what its response must be.
type Check struct {
	Name         string            `yaml:"name"`
	Request      string            `yaml:"request"`
	Headers      map[string]string `yaml:"headers"`
	Body         string            `yaml:"body"`
	Status       int               `yaml:"status"`
	BodyContains string            `yaml:"body-contains"`
	MaxLatency   string            `yaml:"max-latency"`
}

// Result is one check's outcome.
type Result struct {
	Name     string
	Passed   bool
	Message  string
	Duration time.Duration
}

// Load reads and validates a checks file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read http checks: %w", err)
	}
	var f File
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, c := range f.Checks {
		if c.Request == "" {
			return nil, fmt.Errorf("%s: check %d (%s) has no request, e.g. `request: GET /healthz`", path, i+1, c.Name)
		}
		if c.MaxLatency != "" {
			if _, err := time.ParseDuration(c.MaxLatency); err != nil {
				return nil, fmt.Errorf("%s: check %d: max-latency %q is not a duration", path, i+1, c.MaxLatency)
			}
		}
	}
	return &f, nil
}

// Run runs every check against baseURL.
func Run(ctx context.Context, baseURL string, f *File, client *http.Client) []Result {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var out []Result
	for i, c := range f.Checks {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("check %d: %s", i+1, c.Request)
		}
		out = append(out, run(ctx, client, baseURL, name, c))
	}
	return out
}

func run(ctx context.Context, client *http.Client, base, name string, c Check) Result {
	method, path, ok := strings.Cut(strings.TrimSpace(c.Request), " ")
	if !ok {
		method, path = "GET", c.Request
	}
	url := strings.TrimSuffix(base, "/") + "/" + strings.TrimPrefix(strings.TrimSpace(path), "/")
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(method), url, strings.NewReader(c.Body))
	if err != nil {
		return Result{Name: name, Message: err.Error()}
	}
	for k, v := range c.Headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Result{Name: name, Message: err.Error(), Duration: time.Since(start)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	d := time.Since(start)
	want := c.Status
	if want == 0 {
		want = 200
	}
	var problems []string
	if resp.StatusCode != want {
		problems = append(problems, fmt.Sprintf("status %d, want %d", resp.StatusCode, want))
	}
	if c.BodyContains != "" && !strings.Contains(string(body), c.BodyContains) {
		problems = append(problems, fmt.Sprintf("body does not contain %q", c.BodyContains))
	}
	if c.MaxLatency != "" {
		max, _ := time.ParseDuration(c.MaxLatency)
		if d > max {
			problems = append(problems, fmt.Sprintf("took %s, more than %s", d.Round(time.Millisecond), max))
		}
	}
	return Result{Name: name, Passed: len(problems) == 0, Message: strings.Join(problems, "; "), Duration: d}
}
