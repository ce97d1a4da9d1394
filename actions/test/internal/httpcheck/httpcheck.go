// Package httpcheck runs declarative HTTP checks against a deployment, for
// teams without Go end-to-end tests.
package httpcheck

import (
	"bytes"
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
	return Parse(path, data)
}

// Parse validates a checks file; errors name path:line:col.
func Parse(path string, data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f File
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no checks; write `checks:` with a list of requests", path)
	}
	root := doc.Content[0]
	// Decode the original text, not the node, so errors keep their lines.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w; known fields are name, request, headers, body, status, body-contains, max-latency", path, err)
	}
	if len(f.Checks) == 0 {
		return nil, fmt.Errorf("%s:%d:%d: no checks; write `checks:` with a list of requests", path, root.Line, root.Column)
	}
	items := checkNodes(root)
	for i, c := range f.Checks {
		at := path
		if i < len(items) {
			at = fmt.Sprintf("%s:%d:%d", path, items[i].Line, items[i].Column)
		}
		if strings.TrimSpace(c.Request) == "" {
			return nil, fmt.Errorf("%s: check %d has no request; add e.g. `request: GET /healthz`", at, i+1)
		}
		method, target, ok := strings.Cut(strings.TrimSpace(c.Request), " ")
		if ok && !validMethod(method) {
			return nil, fmt.Errorf("%s: check %d: %q is not an HTTP method; write `request: METHOD /path`", at, i+1, method)
		}
		if !ok {
			target = method
		}
		if strings.Contains(strings.TrimSpace(target), " ") || strings.Contains(target, "://") {
			return nil, fmt.Errorf("%s: check %d: request %q must be `METHOD /path` (relative to base-url)", at, i+1, c.Request)
		}
		if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
			return nil, fmt.Errorf("%s: check %d: status %d is not an HTTP status", at, i+1, c.Status)
		}
		if c.MaxLatency != "" {
			if d, err := time.ParseDuration(c.MaxLatency); err != nil || d <= 0 {
				return nil, fmt.Errorf("%s: check %d: max-latency %q is not a positive duration like 500ms", at, i+1, c.MaxLatency)
			}
		}
	}
	return &f, nil
}

// checkNodes finds the list items under `checks:` for their positions.
func checkNodes(root *yaml.Node) []*yaml.Node {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "checks" && root.Content[i+1].Kind == yaml.SequenceNode {
			return root.Content[i+1].Content
		}
	}
	return nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			if r < 'a' || r > 'z' {
				return false
			}
		}
	}
	return true
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
