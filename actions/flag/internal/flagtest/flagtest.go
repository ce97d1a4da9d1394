// Package flagtest holds test helpers shared by the flag service providers.
package flagtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Token is a recognisable secret for fakes; tests check it never leaks.
const Token = "tok-SECRET-d41d8cd98f00b204"

// StatusServer answers every request with status and body, and records the
// requests' methods and paths.
type StatusServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
}

// NewStatusServer starts a StatusServer, closed when the test ends.
func NewStatusServer(t *testing.T, status int, body string) *StatusServer {
	t.Helper()
	s := &StatusServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls = append(s.calls, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// Calls returns "METHOD /path" for each request so far.
func (s *StatusServer) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// CheckError fails the test unless err is non-nil, mentions every one of
// want (case-insensitively) and does not contain the token.
func CheckError(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", want)
	}
	msg := err.Error()
	if strings.Contains(msg, Token) {
		t.Errorf("error leaks the token: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// MutatingCalls returns the calls that are not GET.
func MutatingCalls(calls []string) []string {
	var out []string
	for _, c := range calls {
		if !strings.HasPrefix(c, "GET ") {
			out = append(out, c)
		}
	}
	return out
}
