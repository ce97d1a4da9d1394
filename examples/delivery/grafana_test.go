package delivery

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The annotation endpoint answers as Grafana's HTTP API documents it, and
// only with the token.
func TestGrafanaAnnotationsAPI(t *testing.T) {
	g := &grafanaAPI{token: "tok"}
	srv := httptest.NewServer(g)
	defer srv.Close()
	do := func(method, path, auth, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, _ := do("POST", "/api/annotations", "wrong", `{"text":"x"}`); code != 401 {
		t.Errorf("a wrong token got %d", code)
	}
	code, body := do("POST", "/api/annotations", "tok", `{"time":1000,"tags":["deploy"],"text":"v2 started"}`)
	if code != 200 || !strings.Contains(body, `"id":1`) || !strings.Contains(body, "Annotation added") {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := do("PATCH", "/api/annotations/1", "tok", `{"timeEnd":2000,"text":"v2 promoted"}`); code != 200 {
		t.Errorf("patch: %d", code)
	}
	if code, _ := do("PATCH", "/api/annotations/9", "tok", `{"timeEnd":2000}`); code != 404 {
		t.Errorf("patch of a missing annotation: %d", code)
	}
	if code, _ := do("POST", "/api/annotations", "tok", `{}`); code != 400 {
		t.Errorf("an annotation without text: %d", code)
	}
	got := g.annotations()
	if len(got) != 1 || got[0].TimeEnd != 2000 || got[0].Text != "v2 promoted" || got[0].Tags[0] != "deploy" {
		t.Errorf("annotations %+v", got)
	}
}

func TestFlagState(t *testing.T) {
	dir := t.TempDir()
	s := &Stack{Dir: dir}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(dir, "flags.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for body, want := range map[string]string{
		`{"flags":{"new-checkout":{"state":"DISABLED","defaultVariant":"off"}}}`:                                                  "off",
		`{"flags":{"new-checkout":{"state":"ENABLED","defaultVariant":"off","targeting":{"fractional":[["on",10],["off",90]]}}}}`: "on for 10%",
		`{"flags":{"new-checkout":{"state":"ENABLED","defaultVariant":"on"}}}`:                                                    "on (on)",
		`{"flags":{}}`: "missing",
	} {
		write(body)
		if got := s.FlagState(); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
	// The shipped file starts dark.
	data, err := os.ReadFile("../shop/flags/flags.json")
	if err != nil {
		t.Fatal(err)
	}
	write(string(data))
	if got := s.FlagState(); got != "off" {
		t.Errorf("shipped flags: %q", got)
	}
}
