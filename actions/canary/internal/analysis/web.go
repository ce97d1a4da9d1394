package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/template"
)

// maxBody caps what is read of an answer.
const maxBody = 1 << 20

// fetch sends one request and reads (the start of) the answer.
func (a *Analyzer) fetch(ctx context.Context, method, url, body string, headers map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err // already names the method and URL
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read the answer: %w", method, url, err)
	}
	return resp.StatusCode, data, nil
}

func statusOK(got, want int) bool {
	if want == 0 {
		return got/100 == 2
	}
	return got == want
}

func wantStatus(want int) string {
	if want == 0 {
		return "2xx"
	}
	return strconv.Itoa(want)
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

func (a *Analyzer) webCheck(ctx context.Context, wc WebCheck, t [2]*template.Template, data queryData) Measurement {
	out := Measurement{Check: wc.Name, Threshold: "status " + wantStatus(wc.Status)}
	switch {
	case wc.Equals != nil:
		out.Threshold = "== " + *wc.Equals
	case wc.Min != nil || wc.Max != nil:
		out.Threshold = threshold(wc.Min, wc.Max, "")
	}
	url, err := render(t[0], data)
	if err == nil {
		var body string
		if body, err = render(t[1], data); err == nil {
			timeout := wc.Timeout
			if timeout <= 0 {
				timeout = a.cfg.Timeout
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			var status int
			var answer []byte
			if status, answer, err = a.fetch(cctx, wc.Method, url, body, wc.Headers); err == nil {
				judgeAnswer(&out, wc, status, answer)
				return out
			}
		}
	}
	out.Err = fmt.Errorf("web check %s: %w", wc.Name, err)
	return out
}

// judgeAnswer fills in the outcome from the status and the JSON value.
func judgeAnswer(out *Measurement, wc WebCheck, status int, answer []byte) {
	out.Value = float64(status)
	if !statusOK(status, wc.Status) {
		out.Detail = fmt.Sprintf("status %d, want %s: %s", status, wantStatus(wc.Status), snippet(answer))
		return
	}
	if wc.JSONPath == "" {
		out.Pass = true
		out.Detail = fmt.Sprintf("status %d", status)
		return
	}
	v, err := jsonValue(answer, wc.JSONPath)
	if errors.Is(err, errNoData) {
		out.NoData = true
		out.Detail = fmt.Sprintf("%s is missing or null in the answer: %s", wc.JSONPath, snippet(answer))
		return
	}
	if err != nil {
		out.Err = fmt.Errorf("web check %s: %w", wc.Name, err)
		return
	}
	text := jsonText(v)
	if f, ok := jsonNumber(v); ok {
		out.Value = f
	}
	out.Detail = fmt.Sprintf("%s = %s", wc.JSONPath, text)
	switch {
	case wc.Equals != nil:
		out.Pass = equal(v, text, *wc.Equals)
	case wc.Min != nil || wc.Max != nil:
		f, ok := jsonNumber(v)
		if !ok {
			out.Detail += ", which is not a number"
			return
		}
		out.Pass = within(f, wc.Min, wc.Max)
	default:
		out.Pass = true
	}
}

// jsonValue follows a path of keys and array indexes.
func jsonValue(doc []byte, path string) (any, error) {
	steps, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer is not JSON (%v): %s", err, snippet(doc))
	}
	for _, s := range steps {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[s]; !ok {
				return nil, errNoData
			}
		case []any:
			i, err := strconv.Atoi(s)
			if err != nil || i < 0 || i >= len(node) {
				return nil, errNoData
			}
			v = node[i]
		default:
			return nil, errNoData
		}
	}
	if v == nil {
		return nil, errNoData
	}
	return v, nil
}

func jsonText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonNumber reads numbers, and booleans as 1 or 0 so they can be recorded.
func jsonNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// equal compares numerically when both sides are numbers (so 1 equals
// 1.0), otherwise as text.
func equal(v any, text, want string) bool {
	if n, ok := v.(json.Number); ok {
		a, err1 := n.Float64()
		b, err2 := strconv.ParseFloat(want, 64)
		if err1 == nil && err2 == nil {
			return a == b
		}
	}
	return text == want
}

// Smoke sends every smoke request straight to the canary (before it gets
// traffic) and reports all failures together.
func (a *Analyzer) Smoke(ctx context.Context, canaryBaseURL string) error {
	base := strings.TrimRight(canaryBaseURL, "/")
	var errs []error
	for _, s := range a.cfg.Smoke {
		if err := a.smoke(ctx, base, s); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d smoke checks failed against %s:\n%w", len(errs), len(a.cfg.Smoke), base, errors.Join(errs...))
	}
	return nil
}

func (a *Analyzer) smoke(ctx context.Context, base string, s SmokeCheck) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = a.cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status, body, err := a.fetch(ctx, s.Method, base+s.Path, s.Body, s.Headers)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.Method, s.Path, err)
	}
	var problems []string
	if !statusOK(status, s.Status) {
		problems = append(problems, fmt.Sprintf("status %d, want %s", status, wantStatus(s.Status)))
	}
	if s.Contains != "" && !bytes.Contains(body, []byte(s.Contains)) {
		problems = append(problems, fmt.Sprintf("the body lacks %q", s.Contains))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s %s: %s (body: %s)", s.Method, s.Path, strings.Join(problems, "; "), snippet(body))
	}
	return nil
}
