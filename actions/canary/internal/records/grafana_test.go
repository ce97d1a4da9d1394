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

const grafanaToken = "glsa_secretsecret"

// fakeGrafana implements POST /api/annotations and PATCH /api/annotations/{id}
// as Grafana documents them, keeping the annotations.
type fakeGrafana struct {
	mu    sync.Mutex
	anns  map[int64]map[string]any
	calls []string
}

func newFakeGrafana(t *testing.T) (*fakeGrafana, *httptest.Server) {
	f := &fakeGrafana{anns: map[int64]map[string]any{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeGrafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+grafanaToken {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"message":"invalid API key"}`)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"message":"bad request data"}`)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/annotations":
		if _, ok := body["text"].(string); !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"message":"text field should not be empty"}`)
			return
		}
		id := int64(len(f.anns) + 1)
		f.anns[id] = body
		fmt.Fprintf(w, `{"message":"Annotation added","id":%d}`, id)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/annotations/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/annotations/"), 10, 64)
		a, ok := f.anns[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Could not find annotation to update"}`)
			return
		}
		for k, v := range body {
			a[k] = v
		}
		fmt.Fprint(w, `{"message":"Annotation patched"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"Not found"}`)
	}
}

func TestGrafanaRegion(t *testing.T) {
	f, srv := newFakeGrafana(t)
	g, err := NewGrafana(GrafanaConfig{URL: srv.URL + "/", Token: grafanaToken, DashboardUID: "abc123", PanelID: 4, Tags: []string{"team-shop"}})
	if err != nil {
		t.Fatal(err)
	}
	start := ev(Started, 0)
	end := ev(RolledBack, 25)
	end.Time = start.Time.Add(17 * time.Minute)
	end.Description = "error rate 4.1% > 1%"
	for _, e := range []Event{start, ev(Step, 10), ev(Paused, 25), end} {
		if err := g.Record(context.Background(), e); err != nil {
			t.Fatalf("%s: %v", e.Phase, err)
		}
	}
	if g.AnnotationID() != 1 {
		t.Fatalf("AnnotationID = %d", g.AnnotationID())
	}
	if want := "POST /api/annotations,PATCH /api/annotations/1"; strings.Join(f.calls, ",") != want {
		t.Fatalf("calls = %v, want %s (steps and pauses leave the region open)", f.calls, want)
	}
	a := f.anns[1]
	if a["time"] != float64(start.Time.UnixMilli()) || a["timeEnd"] != float64(end.Time.UnixMilli()) {
		t.Errorf("time/timeEnd = %v/%v, want %d/%d", a["time"], a["timeEnd"], start.Time.UnixMilli(), end.Time.UnixMilli())
	}
	if a["dashboardUID"] != "abc123" || a["panelId"] != float64(4) {
		t.Errorf("dashboard/panel = %v/%v", a["dashboardUID"], a["panelId"])
	}
	text, _ := a["text"].(string)
	if !strings.Contains(text, "rolled-back at 25%") || !strings.Contains(text, "error rate 4.1% > 1%") || !strings.Contains(text, "v2.0.0") {
		t.Errorf("text = %q", text)
	}
	tags := fmt.Sprint(a["tags"])
	for _, want := range []string{"gantry", "canary", "production", "v2.0.0", "rolled-back", "team-shop"} {
		if !strings.Contains(tags, want) {
			t.Errorf("tags %s lack %s", tags, want)
		}
	}
}

func TestGrafanaResumeAndPoint(t *testing.T) {
	f, srv := newFakeGrafana(t)
	first, _ := NewGrafana(GrafanaConfig{URL: srv.URL, Token: grafanaToken})
	if err := first.Record(context.Background(), ev(Started, 0)); err != nil {
		t.Fatal(err)
	}
	// The next run closes the same region, and doesn't open another on a
	// repeated start.
	second, _ := NewGrafana(GrafanaConfig{URL: srv.URL, Token: grafanaToken, AnnotationID: first.AnnotationID()})
	for _, e := range []Event{ev(Started, 0), ev(Promoted, 100)} {
		if err := second.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.anns) != 1 || f.anns[1]["timeEnd"] == nil {
		t.Fatalf("annotations = %v", f.anns)
	}
	// An end with no recorded start is a point annotation.
	third, _ := NewGrafana(GrafanaConfig{URL: srv.URL, Token: grafanaToken})
	if err := third.Record(context.Background(), ev(Failed, 0)); err != nil {
		t.Fatal(err)
	}
	if third.AnnotationID() != 2 || f.anns[2]["timeEnd"] != nil || !strings.Contains(f.anns[2]["text"].(string), "failed") {
		t.Fatalf("point annotation = %v (id %d)", f.anns[2], third.AnnotationID())
	}
}

func TestGrafanaErrors(t *testing.T) {
	_, srv := newFakeGrafana(t)
	g, _ := NewGrafana(GrafanaConfig{URL: srv.URL, Token: "not-the-token-123"})
	err := g.Record(context.Background(), ev(Started, 0))
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid API key") || strings.Contains(err.Error(), "not-the-token-123") {
		t.Fatalf("error = %v", err)
	}
	g, _ = NewGrafana(GrafanaConfig{URL: srv.URL, Token: grafanaToken, AnnotationID: 99})
	if err := g.Record(context.Background(), ev(Promoted, 100)); err == nil || !strings.Contains(err.Error(), "annotation 99") {
		t.Fatalf("patching a missing annotation: %v", err)
	}
	for _, cfg := range []GrafanaConfig{{URL: "grafana:3000", Token: "x"}, {URL: "http://grafana:3000"}} {
		if _, err := NewGrafana(cfg); err == nil {
			t.Errorf("NewGrafana(%+v) accepted", cfg)
		}
	}
}
