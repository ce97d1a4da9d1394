package httpcheck

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = io.WriteString(w, "status: ok")
		case "/items":
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.Header.Get("X-Token") != "t" || string(body) != `{"a":1}` {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case "/slow":
			time.Sleep(60 * time.Millisecond)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f, err := Parse("checks.yml", []byte(`checks:
  - name: health
    request: GET /healthz
    body-contains: ok
    max-latency: 2s
  - name: create
    request: post items
    headers: {X-Token: t}
    body: '{"a":1}'
    status: 201
  - name: slow
    request: GET /slow
    max-latency: 10ms
  - request: /missing
    body-contains: here
`))
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), srv.URL+"/", f, nil)
	want := []struct {
		name   string
		passed bool
		msg    string
	}{
		{"health", true, ""},
		{"create", true, ""},
		{"slow", false, "more than 10ms"},
		{"check 4: /missing", false, `status 404, want 200; body does not contain "here"`},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results", len(res))
	}
	for i, w := range want {
		r := res[i]
		if r.Name != w.name || r.Passed != w.passed || !strings.Contains(r.Message, w.msg) || (w.passed && r.Message != "") {
			t.Errorf("check %d: %+v, want %+v", i+1, r, w)
		}
	}
}

func TestUnreachableFails(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	res := Run(context.Background(), url, &File{Checks: []Check{{Request: "GET /"}}}, &http.Client{Timeout: time.Second})
	if len(res) != 1 || res[0].Passed || res[0].Message == "" {
		t.Errorf("%+v", res)
	}
}

func TestParseErrorsNamePositions(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"checks:\n  - name: a\n    request: GET /\n  - name: b\n", "c.yml:4:5: check 2 has no request"},
		{"checks:\n  - request: FETCH! /\n", "c.yml:2:5: check 1: \"FETCH!\" is not an HTTP method"},
		{"checks:\n  - request: GET http://other/\n", "c.yml:2:5: check 1: request"},
		{"checks:\n  - request: GET /\n    status: 2000\n", "status 2000 is not an HTTP status"},
		{"checks:\n  - request: GET /\n    max-latency: fast\n", "max-latency \"fast\""},
		{"checks:\n  - request: GET /\n    expect: 200\n", "line 3: field expect not found"},
		{"checks: []\n", "c.yml:1:1: no checks"},
		{"", "no checks"},
		{"checks: [\n", "c.yml: yaml:"},
	} {
		_, err := Parse("c.yml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("checks:\n  - request: GET /\n    status: 200\n    max-latency: 1s\n")
	f.Add("checks:\n  - {request: POST /x, body: y, headers: {a: b}}\n")
	f.Fuzz(func(t *testing.T, s string) {
		file, err := Parse("f.yml", []byte(s))
		if err != nil {
			return
		}
		if len(file.Checks) == 0 {
			t.Fatal("accepted a file without checks")
		}
		for _, c := range file.Checks {
			if strings.TrimSpace(c.Request) == "" {
				t.Fatalf("accepted a check without a request: %+v", c)
			}
		}
	})
}
