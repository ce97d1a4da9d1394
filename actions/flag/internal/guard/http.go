package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HTTP is healthy when a GET of URL answers with an accepted status and, when
// Cond is set, a JSON body that satisfies it.
type HTTP struct {
	URL    string
	Status StatusSet
	Cond   *Condition
	Client *http.Client // nil: a client with a 10 s timeout
}

func (h *HTTP) String() string { return h.URL }

// Check implements Check.
func (h *HTTP) Check(ctx context.Context) Result {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return Result{Detail: fmt.Sprintf("GET %s: %v", h.URL, err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{Detail: fmt.Sprintf("GET %s: %v", h.URL, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Result{Detail: fmt.Sprintf("GET %s: read body: %v", h.URL, err)}
	}
	if !h.Status.Has(resp.StatusCode) {
		return Result{Detail: fmt.Sprintf("GET %s: status %d, want %s", h.URL, resp.StatusCode, h.Status)}
	}
	if h.Cond == nil {
		return Result{Healthy: true, Detail: fmt.Sprintf("GET %s: status %d", h.URL, resp.StatusCode)}
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return Result{Detail: fmt.Sprintf("GET %s: body is not JSON (%v), cannot check %s", h.URL, err, h.Cond)}
	}
	ok, seen := h.Cond.Eval(doc)
	return Result{Healthy: ok, Detail: fmt.Sprintf("GET %s: status %d, %s is %s (want %s)", h.URL, resp.StatusCode, h.Cond.Path, seen, h.Cond)}
}

// StatusSet is the accepted HTTP statuses: codes and classes like 2xx.
type StatusSet []string

// ParseStatus reads "2xx", "200", "200,204" or "2xx,301"; "" is 2xx.
func ParseStatus(s string) (StatusSet, error) {
	var out StatusSet
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		f = strings.ToLower(f)
		if len(f) == 3 && f[0] >= '1' && f[0] <= '5' && f[1:] == "xx" {
			out = append(out, f)
			continue
		}
		if n, err := strconv.Atoi(f); err != nil || n < 100 || n > 599 {
			return nil, fmt.Errorf("%q is not an HTTP status or class like 200 or 2xx", f)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		out = StatusSet{"2xx"}
	}
	return out, nil
}

// Has reports whether code is accepted.
func (s StatusSet) Has(code int) bool {
	c := strconv.Itoa(code)
	for _, v := range s {
		if v == c || (strings.HasSuffix(v, "xx") && v[0] == c[0]) {
			return true
		}
	}
	return false
}

func (s StatusSet) String() string { return strings.Join(s, " or ") }

// Condition compares one value of a JSON body: `status == "ok"`,
// `checks.db.errors < 5`, `ready` (true).
type Condition struct {
	Path  string // dotted keys; array elements by index
	Op    string // == != < <= > >=
	Value any    // float64, string, bool or nil
	src   string
}

func (c *Condition) String() string { return c.src }

// ParseCondition reads `path op value`, or a bare path that must be true.
func ParseCondition(s string) (*Condition, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		i := strings.Index(s, op)
		if i < 0 {
			continue
		}
		path, val := strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+len(op):])
		if path == "" || val == "" {
			return nil, fmt.Errorf("%q: want `path %s value`", s, op)
		}
		var v any
		if err := json.Unmarshal([]byte(val), &v); err != nil {
			v = strings.Trim(val, `'`) // bare words are strings
		}
		if _, num := v.(float64); !num && op != "==" && op != "!=" {
			return nil, fmt.Errorf("%q: %s needs a number on the right", s, op)
		}
		return &Condition{Path: path, Op: op, Value: v, src: s}, nil
	}
	if s == "" || strings.ContainsAny(s, " =<>!") {
		return nil, fmt.Errorf("%q: want `path op value` (ops: == != < <= > >=) or a path that must be true", s)
	}
	return &Condition{Path: s, Op: "==", Value: true, src: s + " == true"}, nil
}

// Eval tests doc and returns the value found, as JSON, for messages.
func (c *Condition) Eval(doc any) (bool, string) {
	v, found := lookup(doc, c.Path)
	if !found {
		return false, "missing"
	}
	seen, _ := json.Marshal(v)
	switch want := c.Value.(type) {
	case float64:
		got, ok := v.(float64)
		if !ok {
			return false, string(seen)
		}
		switch c.Op {
		case "==":
			return got == want, string(seen)
		case "!=":
			return got != want, string(seen)
		case "<":
			return got < want, string(seen)
		case "<=":
			return got <= want, string(seen)
		case ">":
			return got > want, string(seen)
		case ">=":
			return got >= want, string(seen)
		}
	default:
		eq := fmt.Sprint(v) == fmt.Sprint(want) && (v == nil) == (want == nil)
		if c.Op == "!=" {
			return !eq, string(seen)
		}
		return eq, string(seen)
	}
	return false, string(seen)
}

func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
