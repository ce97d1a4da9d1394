package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v60/github"
)

// GitHubConfig configures GitHub deployment records.
type GitHubConfig struct {
	Token      string // GITHUB_TOKEN with deployments: write
	Repository string // owner/repo
	// APIURL is the REST API root (GITHUB_API_URL); empty means api.github.com.
	APIURL     string
	HTTPClient *http.Client
	// Task is the deployment task, "deploy" if empty.
	Task string
	// ProductionEnvironment, when set, overrides GitHub's default (true only
	// for an environment named "production").
	ProductionEnvironment *bool
	// TransientEnvironment marks an environment that goes away, e.g. a
	// review app.
	TransientEnvironment bool
	// DeploymentID resumes the deployment an earlier run created (from the
	// controller's state); zero creates one on "started" or finds it.
	DeploymentID int64
	// AbortState is the status an aborted rollout gets: "inactive" (default;
	// the canary was taken down on request) or "error".
	AbortState string
}

// GitHub records a rollout as a GitHub deployment with statuses.
type GitHub struct {
	client      *github.Client
	owner, repo string
	cfg         GitHubConfig
	mu          serial
	// id is atomic so that DeploymentID answers while a call is in flight.
	id atomic.Int64
}

// NewGitHub checks cfg and returns the recorder.
func NewGitHub(cfg GitHubConfig) (*GitHub, error) {
	owner, repo, ok := strings.Cut(cfg.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("github deployments: repository %q is not owner/repo", cfg.Repository)
	}
	if cfg.Token == "" {
		return nil, errors.New("github deployments: no token; pass GITHUB_TOKEN with 'deployments: write' permission")
	}
	switch cfg.AbortState {
	case "":
		cfg.AbortState = "inactive"
	case "inactive", "error":
	default:
		return nil, fmt.Errorf("github deployments: abort state %q: use inactive or error", cfg.AbortState)
	}
	if cfg.Task == "" {
		cfg.Task = "deploy"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := github.NewClient(hc).WithAuthToken(cfg.Token)
	if cfg.APIURL != "" && strings.TrimRight(cfg.APIURL, "/") != "https://api.github.com" {
		// GITHUB_API_URL is already the API root (…/api/v3 on GHES), so it is
		// used as is rather than through WithEnterpriseURLs, which would
		// append api/v3 to hosts not named api.*.
		u, err := url.Parse(strings.TrimRight(cfg.APIURL, "/") + "/")
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("github deployments: API URL %q is not an http(s) URL", cfg.APIURL)
		}
		c.BaseURL = u
	}
	g := &GitHub{client: c, owner: owner, repo: repo, cfg: cfg, mu: newSerial()}
	g.id.Store(cfg.DeploymentID)
	return g, nil
}

func (g *GitHub) String() string { return "github deployments" }

// DeploymentID is the deployment being updated, zero before the first event;
// save it so that a later run can pass it back in GitHubConfig.
func (g *GitHub) DeploymentID() int64 { return g.id.Load() }

// payload is what the deployment carries for tools reading it.
type payload struct {
	Version  string `json:"version"`
	Weight   int    `json:"weight"`
	Strategy string `json:"strategy,omitempty"`
}

// Record creates the deployment on "started" (or when none is known) and
// adds a status for every event.
func (g *GitHub) Record(ctx context.Context, e Event) error {
	if !validPhase(e.Phase) {
		return fmt.Errorf("github deployments: unknown phase %q", e.Phase)
	}
	if err := g.mu.lock(ctx); err != nil {
		return fmt.Errorf("github deployments: %s event: %w", e.Phase, err)
	}
	defer g.mu.unlock()
	if e.Phase == Started || g.id.Load() == 0 {
		if e.Phase != Started {
			if err := g.find(ctx, e); err != nil {
				return g.fail("find the deployment of "+e.Version, err)
			}
		}
		if e.Phase == Started || g.id.Load() == 0 {
			if err := g.create(ctx, e); err != nil {
				return g.fail("create a deployment", err)
			}
		}
	}
	req := g.status(e)
	id := g.id.Load()
	if _, _, err := g.client.Repositories.CreateDeploymentStatus(ctx, g.owner, g.repo, id, req); err != nil {
		return g.fail(fmt.Sprintf("set deployment %d to %s", id, req.GetState()), err)
	}
	return nil
}

func (g *GitHub) fail(what string, err error) error {
	hint := ""
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil {
		switch ge.Response.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			hint = " (does the token have 'deployments: write' on " + g.cfg.Repository + "?)"
		}
	}
	return fmt.Errorf("github deployments: %s%s: %w", what, hint, scrub(err, g.cfg.Token))
}

func (g *GitHub) ref(e Event) string {
	// The SHA pins what was deployed; a branch may have moved on since.
	if e.SHA != "" {
		return e.SHA
	}
	return e.Ref
}

func (g *GitHub) create(ctx context.Context, e Event) error {
	ref := g.ref(e)
	if ref == "" {
		return errors.New("the event has neither SHA nor ref")
	}
	desc := e.Description
	if desc == "" {
		desc = fmt.Sprintf("canary %s (%s)", e.Version, e.Strategy)
	}
	req := &github.DeploymentRequest{
		Ref:         github.String(ref),
		Task:        github.String(g.cfg.Task),
		Environment: github.String(e.Environment),
		Description: github.String(truncate(desc, 140)),
		Payload:     payload{Version: e.Version, Weight: e.Weight, Strategy: e.Strategy},
		// The action itself is the deployment: no merging of the default
		// branch and no waiting for commit statuses.
		AutoMerge:             github.Bool(false),
		RequiredContexts:      &[]string{},
		ProductionEnvironment: g.cfg.ProductionEnvironment,
	}
	if g.cfg.TransientEnvironment {
		req.TransientEnvironment = github.Bool(true)
	}
	d, _, err := g.client.Repositories.CreateDeployment(ctx, g.owner, g.repo, req)
	if err != nil {
		return err
	}
	if d.GetID() == 0 {
		return errors.New("GitHub answered without a deployment ID")
	}
	g.id.Store(d.GetID())
	return nil
}

// find looks for the deployment of e.Version when the state lost its ID,
// so that a resumed rollout doesn't start a second one.
func (g *GitHub) find(ctx context.Context, e Event) error {
	opts := &github.DeploymentsListOptions{Environment: e.Environment, Task: g.cfg.Task, ListOptions: github.ListOptions{PerPage: 30}}
	if e.SHA != "" {
		opts.SHA = e.SHA
	} else {
		opts.Ref = e.Ref
	}
	ds, _, err := g.client.Repositories.ListDeployments(ctx, g.owner, g.repo, opts)
	if err != nil {
		return err
	}
	for _, d := range ds { // newest first
		var p payload
		if json.Unmarshal(d.Payload, &p) == nil && p.Version == e.Version {
			g.id.Store(d.GetID())
			return nil
		}
	}
	return nil
}

func (g *GitHub) status(e Event) *github.DeploymentStatusRequest {
	var state, desc string
	switch e.Phase {
	case Started:
		state, desc = "in_progress", fmt.Sprintf("canary %s starting", e.Version)
	case Step:
		state, desc = "in_progress", fmt.Sprintf("canary at %d%%", e.Weight)
	case Paused:
		state, desc = "in_progress", fmt.Sprintf("canary paused at %d%%", e.Weight)
	case Promoted:
		state, desc = "success", fmt.Sprintf("canary %s promoted", e.Version)
	case RolledBack:
		state, desc = "failure", "canary rolled back"
	case Failed:
		state, desc = "failure", "canary failed"
	case Aborted:
		state, desc = g.cfg.AbortState, "canary aborted"
	}
	if e.Description != "" && e.Phase != Step {
		desc += ": " + e.Description
	}
	req := &github.DeploymentStatusRequest{
		State:       github.String(state),
		Description: github.String(truncate(desc, 140)),
	}
	if e.LogURL != "" {
		req.LogURL = github.String(e.LogURL)
	}
	if e.EnvironmentURL != "" && e.Phase == Promoted {
		req.EnvironmentURL = github.String(e.EnvironmentURL)
	}
	return req
}
