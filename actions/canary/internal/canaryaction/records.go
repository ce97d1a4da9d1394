package canaryaction

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/chart"
	"github.com/gantry-ci/gantry/actions/canary/internal/records"
	"github.com/gantry-ci/gantry/actions/canary/internal/rollout"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// recorders are the release records asked for by the inputs.
type recorders struct {
	multi   *records.Multi
	github  *records.GitHub
	grafana *records.Grafana
	base    records.Event
}

func readRecorders(k *actionkit.Kit, in inputs, saved *state.State) *recorders {
	r := &recorders{multi: &records.Multi{}}
	// A new rollout gets new records; a resumed or manual one updates the old.
	depID, annID := saved.Deployment, saved.Annotation
	if !saved.Active() && in.action == "deploy" {
		depID, annID = 0, 0
	}
	server, repo, runID := k.Getenv("GITHUB_SERVER_URL"), k.Getenv("GITHUB_REPOSITORY"), k.Getenv("GITHUB_RUN_ID")
	r.base = records.Event{Version: in.version, Environment: in.environment, Ref: k.Getenv("GITHUB_REF"),
		SHA: k.Getenv("GITHUB_SHA"), Strategy: in.strategy, EnvironmentURL: k.String("environment-url", "")}
	if server != "" && repo != "" && runID != "" {
		r.base.LogURL = server + "/" + repo + "/actions/runs/" + runID
	}
	if tok := k.String("github-token", ""); tok != "" {
		k.Mask(tok)
		gh, err := records.NewGitHub(records.GitHubConfig{Token: tok, Repository: repo, APIURL: k.Getenv("GITHUB_API_URL"), DeploymentID: depID})
		if err != nil {
			k.Invalid("github-token", "%v", err)
		} else {
			r.github = gh
			r.multi.Recorders = append(r.multi.Recorders, gh)
		}
	}
	if u := k.String("grafana-url", ""); u != "" {
		tok := k.String("grafana-token", "")
		k.Mask(tok)
		g, err := records.NewGrafana(records.GrafanaConfig{URL: u, Token: tok, DashboardUID: k.String("grafana-dashboard-uid", ""),
			Tags: []string{"gantry", "canary", in.environment}, AnnotationID: annID})
		if err != nil {
			k.Invalid("grafana-url", "%v", err)
		} else {
			r.grafana = g
			r.multi.Recorders = append(r.multi.Recorders, g)
		}
	}
	if u := k.String("pushgateway-url", ""); u != "" {
		p, err := records.NewPushgateway(records.PushgatewayConfig{URL: u})
		if err != nil {
			k.Invalid("pushgateway-url", "%v", err)
		} else {
			r.multi.Recorders = append(r.multi.Recorders, p)
		}
	}
	if u := k.String("webhook-url", ""); u != "" {
		secret := k.String("webhook-secret", "")
		k.Mask(secret)
		w, err := records.NewWebhook(records.WebhookConfig{URL: u, Secret: secret})
		if err != nil {
			k.Invalid("webhook-url", "%v", err)
		} else {
			r.multi.Recorders = append(r.multi.Recorders, w)
		}
	}
	return r
}

// notify sends controller events to every record; a record that fails is a
// warning, never a reason to stop a rollout or a rollback.
func (r *recorders) notify(k *actionkit.Kit) func(ctx context.Context, e rollout.Event) {
	return func(ctx context.Context, e rollout.Event) {
		if len(r.multi.Recorders) == 0 {
			return
		}
		ev := r.base
		ev.Phase, ev.Weight, ev.Description, ev.Time = e.Phase, e.Weight, e.Description, time.Now()
		if err := r.multi.Record(ctx, ev); err != nil {
			k.Annotate(actionkit.Annotation{Level: "warning", Message: "release record: " + err.Error()})
		}
	}
}

func (w *wiring) annotationID() string {
	if w == nil || w.rec == nil || w.rec.grafana == nil || w.rec.grafana.AnnotationID() == 0 {
		return ""
	}
	return strconv.FormatInt(w.rec.grafana.AnnotationID(), 10)
}

func (w *wiring) deploymentID() int64 {
	if w == nil || w.rec == nil || w.rec.github == nil {
		return 0
	}
	return w.rec.github.DeploymentID()
}

// points turns the analysed steps into chart points: error rate from the
// success-rate check, p95 from a latency check; missing ones are gaps.
func points(st *state.State) ([]chart.Point, []chart.Marker) {
	var ps []chart.Point
	var ms []chart.Marker
	for i, h := range st.History {
		p := chart.Point{Time: h.End, Step: i + 1, Weight: h.Weight,
			CanaryErrorRate: math.NaN(), StableErrorRate: math.NaN(), CanaryP95: math.NaN(), StableP95: math.NaN()}
		for _, m := range h.Measurements {
			if m.Error != "" || m.NoData {
				continue
			}
			switch {
			case strings.Contains(m.Check, "success-rate"):
				p.CanaryErrorRate = 1 - m.Value
			case strings.Contains(m.Check, "error-rate"):
				p.CanaryErrorRate = m.Value
			case strings.Contains(m.Check, "latency-p95"):
				p.CanaryP95 = m.Value
			}
		}
		ps = append(ps, p)
		if h.Verdict != "pass" {
			ms = append(ms, chart.Marker{Step: i + 1, Decision: h.Verdict, Label: h.Reason})
		}
	}
	switch st.Phase {
	case state.Promoted, state.RolledBack, state.Aborted:
		ms = append(ms, chart.Marker{Step: len(ps), Decision: st.Phase, Label: st.Reason})
	}
	return ps, ms
}

// writeChart puts the Mermaid chart in the summary and writes SVG and PNG
// files for upload as an artifact; it returns the SVG's path.
func (w *wiring) writeChart(k *actionkit.Kit, in inputs, st *state.State) string {
	ps, ms := points(st)
	if len(ps) == 0 {
		return ""
	}
	c := chart.Chart{Title: "Canary " + in.version, Points: ps, Markers: ms}
	k.Summary("### Rollout\n\n" + c.Mermaid() + "\n")
	if in.chartDir == "" {
		return ""
	}
	if err := os.MkdirAll(in.chartDir, 0o755); err != nil {
		k.Logf("warning: chart: %v", err)
		return ""
	}
	svg := filepath.Join(in.chartDir, "canary-"+in.name+".svg")
	if err := os.WriteFile(svg, c.SVG(), 0o644); err != nil {
		k.Logf("warning: chart: %v", err)
		return ""
	}
	if png, err := c.PNG(); err == nil {
		_ = os.WriteFile(strings.TrimSuffix(svg, ".svg")+".png", png, 0o644)
	}
	return svg
}
