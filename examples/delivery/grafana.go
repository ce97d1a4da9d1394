package delivery

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Annotation is what the annotations endpoint received.
type Annotation struct {
	ID      int64    `json:"id"`
	Time    int64    `json:"time,omitempty"`
	TimeEnd int64    `json:"timeEnd,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	Text    string   `json:"text,omitempty"`
}

// grafanaAPI answers Grafana's HTTP annotations API (POST /api/annotations,
// PATCH /api/annotations/:id, GET /api/annotations) as documented by
// Grafana, keeping the annotations in memory. Grafana itself cannot run on
// this machine; a real one at the same URL gets the same requests.
type grafanaAPI struct {
	token string // the service account token requests must carry
	mu    sync.Mutex
	list  []Annotation
}

func (g *grafanaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/api/health" && r.Header.Get("Authorization") != "Bearer "+g.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Unauthorized"}`))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/annotations":
		var a Annotation
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil || a.Text == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"bad annotation"}`))
			return
		}
		a.ID = int64(len(g.list) + 1)
		g.list = append(g.list, a)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": a.ID, "message": "Annotation added"})
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/api/annotations/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/annotations/"), 10, 64)
		if id < 1 || id > int64(len(g.list)) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Annotation not found"}`))
			return
		}
		var a Annotation
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		cur := &g.list[id-1]
		if a.TimeEnd != 0 {
			cur.TimeEnd = a.TimeEnd
		}
		if a.Text != "" {
			cur.Text = a.Text
		}
		if a.Tags != nil {
			cur.Tags = a.Tags
		}
		_, _ = w.Write([]byte(`{"message":"Annotation patched"}`))
	case r.Method == http.MethodGet && r.URL.Path == "/api/annotations":
		_ = json.NewEncoder(w).Encode(g.list)
	case r.URL.Path == "/api/health":
		_, _ = w.Write([]byte(`{"database":"ok"}`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not found"}`))
	}
}

func (g *grafanaAPI) annotations() []Annotation {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Annotation(nil), g.list...)
}
