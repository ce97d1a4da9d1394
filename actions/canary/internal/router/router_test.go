package router

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
)

// fillTemplate renders a sample config from testdata into dir.
func fillTemplate(t *testing.T, sample, dir string, data any) string {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sample)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hits sends n requests, each prepared by set, and counts the answers by
// the name of the app that gave them.
func hits(t *testing.T, front string, n int, set func(*http.Request)) map[string]int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	out := map[string]int{}
	for i := 0; i < n; i++ {
		req, err := http.NewRequest("GET", front, nil)
		if err != nil {
			t.Fatal(err)
		}
		if set != nil {
			set(req)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out[string(body)]++
	}
	return out
}

func header(name, value string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func cookie(name, value string) func(*http.Request) {
	return func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "other", Value: "x"})
		r.AddCookie(&http.Cookie{Name: name, Value: value})
	}
}

// only asserts that all n requests landed on app name.
func only(t *testing.T, what string, got map[string]int, name string, n int) {
	t.Helper()
	if got[name] != n {
		t.Errorf("%s: want all %d requests on %s, got %v", what, n, name, got)
	}
}

// share asserts that app name got percent of n requests, within 3 points.
func share(t *testing.T, what string, got map[string]int, name string, n, percent int) {
	t.Helper()
	p := 100 * got[name] / n
	t.Logf("%s: %v", what, got)
	if p < percent-3 || p > percent+3 {
		t.Errorf("%s: %d%% of the requests went to %s, want %d%%±3 (%v)", what, p, name, percent, got)
	}
}

func TestMatchValidation(t *testing.T) {
	for _, m := range []Match{
		{},
		{Value: "1"},
		{Header: "X-Canary"},
		{Header: "X-Canary", Cookie: "beta", Value: "1"},
		{Header: "X Canary", Value: "1"},
		{Header: "X_Canary", Value: "1"},
		{Cookie: "beta;x", Value: "1"},
		{Header: "X-Canary", Value: "a b"},
		{Header: "X-Canary", Value: `a"b`},
		{Header: "X-Canary", Value: strings.Repeat("a", 129)},
	} {
		if err := m.validate(); err == nil {
			t.Errorf("%+v was accepted", m)
		}
	}
	for _, m := range []Match{
		{Header: "X-Canary", Value: "always"},
		{Cookie: "beta_users", Value: "v1.2+rc~1"},
	} {
		if err := m.validate(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// The HAProxy regex is checked here against header blocks as req.hdrs
// renders them; Go's RE2 reads these POSIX classes like PCRE does.
func TestMatchRegexAgainstHeaderBlocks(t *testing.T) {
	cases := []struct {
		m     Match
		block string
		want  bool
	}{
		{Match{Header: "X-Canary", Value: "always"}, "host: a\r\nx-canary: always\r\n\r\n", true},
		{Match{Header: "X-Canary", Value: "always"}, "x-canary: ALWAYS\r\n\r\n", true},
		{Match{Header: "X-Canary", Value: "always"}, "x-canary: alwaysx\r\n\r\n", false},
		{Match{Header: "X-Canary", Value: "always"}, "xx-canary: always\r\n\r\n", false},
		{Match{Header: "X-Canary", Value: "v1.2"}, "x-canary: v1x2\r\n\r\n", false},
		{Match{Cookie: "beta", Value: "1"}, "cookie: beta=1\r\n\r\n", true},
		{Match{Cookie: "beta", Value: "1"}, "cookie: a=b; beta=1; c=d\r\n\r\n", true},
		{Match{Cookie: "beta", Value: "1"}, "cookie: xbeta=1\r\n\r\n", false},
		{Match{Cookie: "beta", Value: "1"}, "cookie: beta=12\r\n\r\n", false},
		{Match{Cookie: "beta", Value: "1"}, "x-beta: beta=1\r\n\r\n", false},
	}
	for _, c := range cases {
		re := regexp.MustCompile(c.m.haproxyRegex())
		if got := re.MatchString(c.block); got != c.want {
			t.Errorf("%s against %q: match %v, want %v", c.m, c.block, got, c.want)
		}
	}
}

func TestRoleAndDescriptions(t *testing.T) {
	if Stable.String() != "stable" || Canary.String() != "canary" {
		t.Errorf("roles print as %v and %v", Stable, Canary)
	}
	h := &HAProxy{Socket: "/run/h.sock", Backend: "app", Stable: "blue", Canary: "green", MapFile: "/etc/haproxy/c.map"}
	if got := h.String(); !strings.Contains(got, "backend app") || !strings.Contains(got, "stable blue, canary green") {
		t.Errorf("HAProxy.String() = %q", got)
	}
	if s := h.Swapped(); s.Stable != "green" || s.Canary != "blue" || h.Stable != "blue" {
		t.Errorf("Swapped() gave %+v and left %+v", s, h)
	}
	n := &Nginx{UpstreamFile: "/etc/nginx/up.conf", Upstream: "my-app", Stable: "10.0.0.1:80", Args: []string{"-c", "x"}}
	if got := n.String(); !strings.Contains(got, "upstream my-app") || !strings.Contains(got, "canary not set") {
		t.Errorf("Nginx.String() = %q", got)
	}
	if n.Variable() != "$gantry_my_app" {
		t.Errorf("Variable() = %q", n.Variable())
	}
	s := n.Swapped()
	s.Args[0] = "changed"
	if s.Canary != "10.0.0.1:80" || s.Stable != "" || n.Args[0] != "-c" {
		t.Errorf("Swapped() gave %+v and left %+v", s, n)
	}
	ctx := context.Background()
	if err := h.Finalize(ctx, Role(7)); err == nil {
		t.Error("an unknown role was accepted")
	}
}
