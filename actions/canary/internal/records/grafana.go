package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// GrafanaConfig configures Grafana annotations.
type GrafanaConfig struct {
	URL   string // Grafana root, e.g. https://grafana.example.com
	Token string // service account token, sent as a Bearer token
	// DashboardUID and PanelID pin the annotation to a dashboard or panel;
	// without them it is an organisation-wide annotation.
	DashboardUID string
	PanelID      int64
	Tags         []string // added to gantry, canary, the environment and version
	HTTPClient   *http.Client
	// AnnotationID resumes the annotation an earlier run created.
	AnnotationID int64
}

// Grafana marks a rollout as an annotation region: created when the rollout
// starts, closed (timeEnd) with the result when it ends.
type Grafana struct {
	cfg  GrafanaConfig
	base *url.URL
	http *http.Client
	mu   serial
	id   atomic.Int64
}

// NewGrafana checks cfg and returns the recorder.
func NewGrafana(cfg GrafanaConfig) (*Grafana, error) {
	u, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("grafana annotations: URL %q is not an http(s) URL", redactURL(cfg.URL))
	}
	if cfg.Token == "" {
		return nil, errors.New("grafana annotations: no token; create a service account token with the annotations:write permission")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	g := &Grafana{cfg: cfg, base: u, http: hc, mu: newSerial()}
	g.id.Store(cfg.AnnotationID)
	return g, nil
}

func (g *Grafana) String() string { return "grafana annotations" }

// AnnotationID is the annotation's ID, zero until one was created (the
// action's annotation-id output).
func (g *Grafana) AnnotationID() int64 { return g.id.Load() }

// annotation is the body of POST and PATCH /api/annotations.
type annotation struct {
	DashboardUID string   `json:"dashboardUID,omitempty"`
	PanelID      int64    `json:"panelId,omitempty"`
	Time         int64    `json:"time,omitempty"`
	TimeEnd      int64    `json:"timeEnd,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	Text         string   `json:"text,omitempty"`
}

// Record creates the annotation on "started" and closes it on the rollout's
// end; steps and pauses leave it alone (a paused rollout is still open).
func (g *Grafana) Record(ctx context.Context, e Event) error {
	if !validPhase(e.Phase) {
		return fmt.Errorf("grafana annotations: unknown phase %q", e.Phase)
	}
	if e.Phase != Started && !e.Terminal() {
		return nil
	}
	if err := g.mu.lock(ctx); err != nil {
		return fmt.Errorf("grafana annotations: %s event: %w", e.Phase, err)
	}
	defer g.mu.unlock()

	at := e.when().UnixMilli()
	a := annotation{Tags: g.tags(e), Text: g.text(e)}
	id := g.id.Load()
	switch {
	case e.Phase == Started && id != 0:
		return nil // resumed: the region already exists
	case id == 0:
		// Started, or the end of a rollout whose start went unrecorded: the
		// latter is a point annotation with the result.
		a.DashboardUID, a.PanelID, a.Time = g.cfg.DashboardUID, g.cfg.PanelID, at
		var out struct {
			ID int64 `json:"id"`
		}
		if err := g.do(ctx, http.MethodPost, "/api/annotations", a, &out); err != nil {
			return fmt.Errorf("grafana annotations: create: %w", err)
		}
		if out.ID == 0 {
			return errors.New("grafana annotations: create: Grafana answered without an annotation id")
		}
		g.id.Store(out.ID)
		return nil
	default:
		a.TimeEnd = at
		if err := g.do(ctx, http.MethodPatch, "/api/annotations/"+strconv.FormatInt(id, 10), a, nil); err != nil {
			return fmt.Errorf("grafana annotations: close annotation %d: %w", id, err)
		}
		return nil
	}
}

func (g *Grafana) tags(e Event) []string {
	tags := []string{"gantry", "canary"}
	for _, t := range []string{e.Environment, e.Version, e.Strategy} {
		if t != "" {
			tags = append(tags, t)
		}
	}
	if e.Terminal() {
		tags = append(tags, e.Phase)
	}
	return append(tags, g.cfg.Tags...)
}

func (g *Grafana) text(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Canary %s → %s: %s", e.Version, e.Environment, e.Phase)
	if e.Terminal() && e.Phase != Promoted && e.Weight > 0 {
		fmt.Fprintf(&b, " at %d%%", e.Weight)
	}
	if e.Description != "" {
		b.WriteString(" — " + e.Description)
	}
	if e.LogURL != "" {
		b.WriteString("\n" + e.LogURL)
	}
	return b.String()
}

func (g *Grafana) do(ctx context.Context, method, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	u := *g.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, scrub(err, g.cfg.Token))
	}
	req.Header.Set("Authorization", "Bearer "+g.cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, scrub(err, g.cfg.Token))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &msg)
		hint := ""
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " (check the token and that it may write annotations)"
		}
		detail := msg.Message
		if detail == "" {
			detail = truncate(strings.TrimSpace(string(raw)), 200)
		}
		return scrub(fmt.Errorf("%s %s: %s%s: %s", method, path, resp.Status, hint, detail), g.cfg.Token)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}
