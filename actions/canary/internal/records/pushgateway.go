package records

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
)

// DefaultJob is the Pushgateway job the metrics are pushed under.
const DefaultJob = "gantry-canary"

// PushgatewayConfig configures the Prometheus Pushgateway recorder.
type PushgatewayConfig struct {
	URL string // e.g. http://pushgateway:9091
	Job string // DefaultJob if empty
	// Token is sent as a Bearer token; Username and Password as basic auth
	// (for a Pushgateway behind a proxy or with --web.config.file).
	Token              string
	Username, Password string
	HTTPClient         *http.Client
}

// Pushgateway pushes the rollout's state as gauges, replacing the group of
// job and environment on every event:
//
//	deploy_info{version,strategy,result} 1
//	deploy_canary_weight
//	deploy_timestamp_seconds
//
// environment is the grouping label, so the Pushgateway adds it to all three.
type Pushgateway struct {
	cfg     PushgatewayConfig
	http    *http.Client
	mu      serial
	secrets []string
}

// NewPushgateway checks cfg and returns the recorder.
func NewPushgateway(cfg PushgatewayConfig) (*Pushgateway, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("pushgateway: URL %q is not an http(s) URL", redactURL(cfg.URL))
	}
	if cfg.Token != "" && cfg.Username != "" {
		return nil, errors.New("pushgateway: give a token or a username and password, not both")
	}
	if cfg.Job == "" {
		cfg.Job = DefaultJob
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	secrets := []string{cfg.Token, cfg.Password}
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
	}
	return &Pushgateway{cfg: cfg, http: hc, mu: newSerial(), secrets: secrets}, nil
}

func (p *Pushgateway) String() string { return "pushgateway" }

// result is deploy_info's result label: the outcome, or progressing.
func result(phase string) string {
	switch phase {
	case Started, Step:
		return "progressing"
	}
	return phase
}

// Record pushes the metrics for e.
func (p *Pushgateway) Record(ctx context.Context, e Event) error {
	if !validPhase(e.Phase) {
		return fmt.Errorf("pushgateway: unknown phase %q", e.Phase)
	}
	if e.Environment == "" {
		return errors.New("pushgateway: the event has no environment, which is the grouping label")
	}
	if err := p.mu.lock(ctx); err != nil {
		return fmt.Errorf("pushgateway: %s event: %w", e.Phase, err)
	}
	defer p.mu.unlock()

	reg := prometheus.NewRegistry()
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "deploy_info", Help: "The version a canary rollout deploys and how it went (always 1).",
	}, []string{"version", "strategy", "result"})
	weight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "deploy_canary_weight", Help: "Percentage of traffic the canary receives.",
	})
	ts := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "deploy_timestamp_seconds", Help: "When the rollout last changed, in Unix seconds.",
	})
	reg.MustRegister(info, weight, ts)
	info.WithLabelValues(e.Version, e.Strategy, result(e.Phase)).Set(1)
	w := e.Weight
	if e.Phase == Promoted {
		w = 100
	}
	weight.Set(float64(w))
	ts.Set(float64(e.when().UnixNano()) / 1e9)

	pusher := push.New(p.cfg.URL, p.cfg.Job).Grouping("environment", e.Environment).Gatherer(reg).Client(p.http)
	switch {
	case p.cfg.Token != "":
		pusher = pusher.Header(http.Header{"Authorization": {"Bearer " + p.cfg.Token}})
	case p.cfg.Username != "":
		pusher = pusher.BasicAuth(p.cfg.Username, p.cfg.Password)
	}
	// PUT: the previous result label must go, not pile up beside the new one.
	if err := pusher.PushContext(ctx); err != nil {
		msg := scrub(err, p.secrets...)
		if strings.Contains(err.Error(), "status code 401") || strings.Contains(err.Error(), "status code 403") {
			return fmt.Errorf("pushgateway: push to job %s (check the credentials): %w", p.cfg.Job, msg)
		}
		return fmt.Errorf("pushgateway: push to job %s: %w", p.cfg.Job, msg)
	}
	return nil
}
