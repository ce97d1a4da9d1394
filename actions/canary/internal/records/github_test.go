package records

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const ghToken = "ghs_secretsecretsecret"

// fakeGitHub serves the documented deployment endpoints of one repository
// and records what it was asked.
type fakeGitHub struct {
	t           *testing.T
	mu          sync.Mutex
	deployments []map[string]any // index = id-1
	statuses    map[int64][]map[string]any
	calls       []string
	failStatus  int // answer status requests with this code
}

func newFakeGitHub(t *testing.T) (*fakeGitHub, *httptest.Server) {
	f := &fakeGitHub{t: t, statuses: map[int64][]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGitHub) fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"message":%q,"documentation_url":"https://docs.github.com/rest"}`, msg)
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+ghToken {
		f.fail(w, http.StatusUnauthorized, "Bad credentials")
		return
	}
	const base = "/api/v3/repos/acme/shop/deployments"
	rest, ok := strings.CutPrefix(r.URL.Path, base)
	if !ok {
		f.fail(w, http.StatusNotFound, "Not Found")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			f.fail(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	switch {
	case rest == "" && r.Method == http.MethodPost:
		if s, _ := body["ref"].(string); s == "" {
			f.fail(w, http.StatusUnprocessableEntity, "ref is missing")
			return
		}
		// Without an empty required_contexts GitHub waits on every check.
		if rc, ok := body["required_contexts"].([]any); !ok || len(rc) != 0 {
			f.fail(w, http.StatusConflict, "Conflict: Commit status checks failed")
			return
		}
		if am, ok := body["auto_merge"].(bool); !ok || am {
			f.fail(w, http.StatusConflict, "Conflict merging main into ref")
			return
		}
		id := int64(len(f.deployments) + 1)
		body["id"] = id
		f.deployments = append(f.deployments, body)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(body)
	case rest == "" && r.Method == http.MethodGet:
		q := r.URL.Query()
		out := []map[string]any{}
		for i := len(f.deployments) - 1; i >= 0; i-- { // newest first, as GitHub
			d := f.deployments[i]
			if (q.Get("environment") == "" || d["environment"] == q.Get("environment")) &&
				(q.Get("sha") == "" || d["ref"] == q.Get("sha")) && (q.Get("task") == "" || d["task"] == q.Get("task")) {
				out = append(out, d)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	case strings.HasSuffix(rest, "/statuses") && r.Method == http.MethodPost:
		id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/statuses"), 10, 64)
		if err != nil || id < 1 || id > int64(len(f.deployments)) {
			f.fail(w, http.StatusNotFound, "Not Found")
			return
		}
		if f.failStatus != 0 {
			f.fail(w, f.failStatus, "Resource not accessible by integration")
			return
		}
		switch body["state"] {
		case "error", "failure", "inactive", "in_progress", "queued", "pending", "success":
		default:
			f.fail(w, http.StatusUnprocessableEntity, fmt.Sprintf("state %v is not included in the list", body["state"]))
			return
		}
		if d, _ := body["description"].(string); len([]rune(d)) > 140 {
			f.fail(w, http.StatusUnprocessableEntity, "description is too long (maximum is 140 characters)")
			return
		}
		f.statuses[id] = append(f.statuses[id], body)
		body["id"] = len(f.statuses[id])
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(body)
	default:
		f.fail(w, http.StatusNotFound, "Not Found")
	}
}

func (f *fakeGitHub) states(id int64) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s []string
	for _, st := range f.statuses[id] {
		s = append(s, st["state"].(string))
	}
	return s
}

func newGH(t *testing.T, srv *httptest.Server, cfg GitHubConfig) *GitHub {
	t.Helper()
	cfg.Repository, cfg.APIURL = "acme/shop", srv.URL+"/api/v3"
	if cfg.Token == "" {
		cfg.Token = ghToken
	}
	g, err := NewGitHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func ev(phase string, weight int) Event {
	return Event{Phase: phase, Version: "v2.0.0", Environment: "production", Ref: "main", SHA: "0123456789abcdef0123456789abcdef01234567",
		Strategy: "canary", Weight: weight, LogURL: "https://github.com/acme/shop/actions/runs/42", EnvironmentURL: "https://shop.example.com",
		Description: "step analysis passed", Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func TestGitHubPromotedSequence(t *testing.T) {
	f, srv := newFakeGitHub(t)
	prod := true
	g := newGH(t, srv, GitHubConfig{ProductionEnvironment: &prod})
	ctx := context.Background()
	for _, e := range []Event{ev(Started, 0), ev(Step, 10), ev(Step, 25), ev(Promoted, 100)} {
		if err := g.Record(ctx, e); err != nil {
			t.Fatalf("%s: %v", e.Phase, err)
		}
	}
	if g.DeploymentID() != 1 {
		t.Fatalf("DeploymentID = %d, want 1", g.DeploymentID())
	}
	d := f.deployments[0]
	if d["ref"] != ev("", 0).SHA || d["environment"] != "production" || d["task"] != "deploy" || d["production_environment"] != true {
		t.Errorf("deployment request = %v", d)
	}
	if _, ok := d["transient_environment"]; ok {
		t.Errorf("transient_environment sent though not configured: %v", d)
	}
	p, _ := d["payload"].(map[string]any)
	if p["version"] != "v2.0.0" || p["weight"] != float64(0) || p["strategy"] != "canary" {
		t.Errorf("payload = %v", p)
	}
	want := []string{"in_progress", "in_progress", "in_progress", "success"}
	if got := f.states(1); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("states = %v, want %v", got, want)
	}
	st := f.statuses[1]
	if st[2]["description"] != "canary at 25%" {
		t.Errorf("step description = %q", st[2]["description"])
	}
	if st[3]["environment_url"] != "https://shop.example.com" || st[3]["log_url"] != "https://github.com/acme/shop/actions/runs/42" {
		t.Errorf("success status = %v", st[3])
	}
	if _, ok := st[1]["environment_url"]; ok {
		t.Errorf("environment_url on an in-progress status: %v", st[1])
	}
	wantCalls := []string{
		"POST /api/v3/repos/acme/shop/deployments",
		"POST /api/v3/repos/acme/shop/deployments/1/statuses",
		"POST /api/v3/repos/acme/shop/deployments/1/statuses",
		"POST /api/v3/repos/acme/shop/deployments/1/statuses",
		"POST /api/v3/repos/acme/shop/deployments/1/statuses",
	}
	if strings.Join(f.calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(wantCalls, "\n"))
	}
}

func TestGitHubFinalStates(t *testing.T) {
	for _, tc := range []struct {
		phase, abortState, want string
	}{
		{RolledBack, "", "failure"},
		{Failed, "", "failure"},
		{Aborted, "", "inactive"},
		{Aborted, "error", "error"},
	} {
		t.Run(tc.phase+"/"+tc.abortState, func(t *testing.T) {
			f, srv := newFakeGitHub(t)
			g := newGH(t, srv, GitHubConfig{AbortState: tc.abortState, TransientEnvironment: true})
			for _, e := range []Event{ev(Started, 0), ev(Step, 10), ev(tc.phase, 10)} {
				if err := g.Record(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			got := f.states(1)
			if len(got) != 3 || got[2] != tc.want {
				t.Fatalf("states = %v, want last %s", got, tc.want)
			}
			if f.deployments[0]["transient_environment"] != true {
				t.Errorf("transient_environment not sent: %v", f.deployments[0])
			}
			if _, ok := f.statuses[1][2]["environment_url"]; ok {
				t.Errorf("environment_url on a %s status", tc.phase)
			}
		})
	}
}

func TestGitHubResume(t *testing.T) {
	f, srv := newFakeGitHub(t)
	first := newGH(t, srv, GitHubConfig{})
	for _, e := range []Event{ev(Started, 0), ev(Step, 10), ev(Paused, 10)} {
		if err := first.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	// A later run given the saved ID adds to the same deployment.
	second := newGH(t, srv, GitHubConfig{DeploymentID: first.DeploymentID()})
	if err := second.Record(context.Background(), ev(Promoted, 100)); err != nil {
		t.Fatal(err)
	}
	// One that lost the ID finds it by version instead of starting another.
	third := newGH(t, srv, GitHubConfig{})
	if err := third.Record(context.Background(), ev(Promoted, 100)); err != nil {
		t.Fatal(err)
	}
	if len(f.deployments) != 1 || third.DeploymentID() != 1 {
		t.Fatalf("deployments = %d, third ID = %d; want one deployment, resumed", len(f.deployments), third.DeploymentID())
	}
	if got := f.states(1); strings.Join(got, ",") != "in_progress,in_progress,in_progress,success,success" {
		t.Fatalf("states = %v", got)
	}
	if !strings.Contains(strings.Join(f.calls, "\n"), "GET /api/v3/repos/acme/shop/deployments") {
		t.Errorf("no listing: %v", f.calls)
	}
	// A different version isn't mistaken for this one.
	other := newGH(t, srv, GitHubConfig{})
	e := ev(Failed, 0)
	e.Version = "v3.0.0"
	if err := other.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if other.DeploymentID() != 2 || f.states(2)[0] != "failure" {
		t.Fatalf("v3 deployment ID = %d, states %v", other.DeploymentID(), f.states(2))
	}
}

func TestGitHubErrorsHideToken(t *testing.T) {
	f, srv := newFakeGitHub(t)
	g := newGH(t, srv, GitHubConfig{})
	if err := g.Record(context.Background(), ev(Started, 0)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.failStatus = http.StatusForbidden
	f.mu.Unlock()
	err := g.Record(context.Background(), ev(Step, 10))
	if err == nil {
		t.Fatal("no error from a 403")
	}
	msg := err.Error()
	if strings.Contains(msg, ghToken) || !strings.Contains(msg, "deployments: write") || !strings.Contains(msg, "403") {
		t.Errorf("error = %q: want the status and a hint, never the token", msg)
	}

	bad := newGH(t, srv, GitHubConfig{Token: "wrong-token-value"})
	err = bad.Record(context.Background(), ev(Started, 0))
	if err == nil || strings.Contains(err.Error(), "wrong-token-value") || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad token error = %v", err)
	}
}

func TestNewGitHubValidates(t *testing.T) {
	for _, cfg := range []GitHubConfig{
		{Token: "x", Repository: "noslash"},
		{Token: "x", Repository: "a/b/c"},
		{Repository: "a/b"},
		{Token: "x", Repository: "a/b", AbortState: "success"},
		{Token: "x", Repository: "a/b", APIURL: "ftp://host"},
	} {
		if _, err := NewGitHub(cfg); err == nil {
			t.Errorf("NewGitHub(%+v) accepted", cfg)
		}
	}
	if err := (&GitHub{}).Record(context.Background(), Event{Phase: "exploded"}); err == nil {
		t.Error("unknown phase accepted")
	}
}
