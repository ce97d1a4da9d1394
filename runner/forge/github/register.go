// Package github is GitHub's runner protocol (github.com and GitHub
// Enterprise Server) behind forge.Protocol, as actions/runner speaks it:
// registration with a registration token or a JIT config, an RSA key per
// runner and the OAuth JWT client-credentials exchange, the session and its
// message long-poll (the pool's or the broker's) with RSA-OAEP and
// AES-CBC decryption, acquire, renew and complete on the run service, and
// the job's timeline, live log feed, logs and step summaries on the
// Actions service. It knows nothing of steps: a job message becomes a
// one-job workflow (forge.Job) and the engine's report.Job events become
// timeline records and log lines.
package github

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
)

// Protocol is the GitHub runner protocol.
type Protocol struct {
	// HTTP is the client for every call; a default one when nil.
	HTTP *http.Client
	// PollTimeout bounds one message long-poll (the server answers sooner
	// when it has a message); 60s when zero.
	PollTimeout time.Duration
	// RenewInterval is how often a running job's lock is renewed; 60s
	// when zero.
	RenewInterval time.Duration
	// Logger receives the protocol's own notes (retries, ignored
	// messages); never a token. Discarded when nil.
	Logger *slog.Logger
	// PollError is told of every failed call the session retries by
	// itself (for the daemon's poll-error counter).
	PollError func(error)
}

// Name is the protocol's name in the forge registry.
const Name = "github"

func init() {
	forge.RegisterProtocol(Name, func(o forge.Options) forge.Protocol {
		return &Protocol{HTTP: o.HTTPClient, Logger: o.Logger, PollError: o.PollError}
	})
}

var _ forge.Protocol = (*Protocol)(nil)

// state is what the runner keeps between runs (Credentials.Data): the
// .runner settings, the .credentials OAuth data and the RSA key.
type state struct {
	AgentID            int64     `json:"agentId"`
	AgentName          string    `json:"agentName"`
	PoolID             int64     `json:"poolId"`
	ServerURL          string    `json:"serverUrl"` // the Actions service (tenant) URL
	GitHubURL          string    `json:"gitHubUrl"`
	ServerURLV2        string    `json:"serverUrlV2,omitempty"` // the broker
	UseV2Flow          bool      `json:"useV2Flow,omitempty"`
	UseRunnerAdminFlow bool      `json:"useRunnerAdminFlow,omitempty"`
	Ephemeral          bool      `json:"ephemeral,omitempty"`
	ClientID           string    `json:"clientId"`
	AuthorizationURL   string    `json:"authorizationUrl"`
	RequireFIPS        bool      `json:"requireFipsCryptography,omitempty"`
	Labels             []string  `json:"labels,omitempty"`
	Version            string    `json:"version,omitempty"`
	Key                rsaParams `json:"rsaParams"`
}

func (p *Protocol) logf(format string, args ...any) {
	if p.Logger != nil {
		p.Logger.Warn(fmt.Sprintf(format, args...))
	}
}

func (p *Protocol) pollError(err error) {
	if p.PollError != nil {
		p.PollError(err)
	}
}

// apiURL is the REST API root for a GitHub URL: api.github.com (and
// api.<tenant>.ghe.com) for GitHub's cloud, /api/v3 on GHES.
func apiURL(githubURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(githubURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("--url %q is not a GitHub URL; give https://github.com/OWNER[/REPO] or your GHES URL", githubURL)
	}
	if hostedServer(u.Hostname()) {
		return u.Scheme + "://api." + u.Host, nil
	}
	return u.Scheme + "://" + u.Host + "/api/v3", nil
}

func hostedServer(host string) bool {
	host = strings.ToLower(host)
	return host == "github.com" || host == "www.github.com" || host == "github.localhost" ||
		strings.HasSuffix(host, ".ghe.com") || strings.HasSuffix(host, ".ghe.localhost")
}

// Register implements forge.Protocol.
func (p *Protocol) Register(ctx context.Context, reg forge.Registration) (*forge.Credentials, error) {
	var st *state
	var err error
	if reg.JITConfig != "" {
		st, err = parseJITConfig(reg.JITConfig)
	} else {
		st, err = p.registerWithToken(ctx, reg)
	}
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return &forge.Credentials{Forge: "github", Name: st.AgentName, Data: data}, nil
}

func defaultName(name string) string {
	if name != "" {
		return name
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "gantry-runner"
	}
	return h
}

func (p *Protocol) registerWithToken(ctx context.Context, reg forge.Registration) (*state, error) {
	if reg.Token == "" {
		return nil, errors.New("a registration token is needed (--token), or a JIT config")
	}
	api, err := apiURL(reg.URL)
	if err != nil {
		return nil, err
	}
	c := newClient(p.HTTP, reg.Version)
	remote := auth{scheme: "RemoteAuth", token: reg.Token}
	var tenant authResult
	body := map[string]string{"url": reg.URL, "runner_event": "register"}
	err = retry(ctx, 3, func() error {
		return c.call(ctx, "POST", api+"/actions/runner-registration", "", remote, body, &tenant)
	})
	if err != nil {
		return nil, tokenError("register", err)
	}
	if tenant.TenantURL == "" || tenant.Token == "" {
		return nil, errors.New("register: the server's runner-registration answer has no service URL or token")
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	st := &state{GitHubURL: reg.URL, ServerURL: tenant.TenantURL, Ephemeral: reg.Ephemeral,
		AgentName: defaultName(reg.Name), Labels: reg.Labels, Version: reg.Version, Key: toParams(key)}
	agent := newAgent(st.AgentName, reg, key)
	if tenant.UseRunnerAdminFlow {
		if err := p.registerAdmin(ctx, c, api, remote, st, agent, key); err != nil {
			return nil, err
		}
		return st, nil
	}
	tenantAuth := auth{token: tenant.Token}
	poolsURL, err := c.locate(ctx, st.ServerURL, tenantAuth, svcPools, nil)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	var pools struct{ Value []agentPool }
	if err := retry(ctx, 3, func() error {
		return c.call(ctx, "GET", poolsURL+"?poolType=Automation", "5.1-preview", tenantAuth, nil, &pools)
	}); err != nil {
		return nil, fmt.Errorf("register: list the runner groups: %w", err)
	}
	for _, pool := range pools.Value {
		if !pool.IsHosted {
			st.PoolID = pool.ID
			break
		}
	}
	if st.PoolID == 0 {
		return nil, errors.New("register: the server has no self-hosted runner group")
	}
	pool := fmt.Sprint(st.PoolID)
	agentsURL, err := c.locate(ctx, st.ServerURL, tenantAuth, svcAgents, map[string]string{"poolId": pool})
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	var existing struct{ Value []taskAgent }
	if err := retry(ctx, 3, func() error {
		return c.call(ctx, "GET", agentsURL+"?agentName="+url.QueryEscape(st.AgentName), "6.0-preview.2", tenantAuth, nil, &existing)
	}); err != nil {
		return nil, fmt.Errorf("register: look for a runner named %q: %w", st.AgentName, err)
	}
	for _, a := range existing.Value {
		if strings.EqualFold(a.Name, st.AgentName) {
			return nil, fmt.Errorf("register: a runner named %q is registered already; remove it in the repository's settings or choose another --name", st.AgentName)
		}
	}
	var added taskAgent
	if err := c.call(ctx, "POST", agentsURL, "6.0-preview.2", tenantAuth, agent, &added); err != nil {
		return nil, fmt.Errorf("register: add the runner: %w", err)
	}
	if added.ID == 0 || added.Authorization.ClientID == "" || added.Authorization.AuthorizationURL == "" {
		return nil, errors.New("register: the server added the runner without OAuth credentials (client id, authorization URL)")
	}
	st.AgentID = added.ID
	st.ClientID = added.Authorization.ClientID
	st.AuthorizationURL = added.Authorization.AuthorizationURL
	st.RequireFIPS = strings.EqualFold(added.property("RequireFipsCryptography"), "true")
	if v := added.property("ServerUrlV2"); v != "" {
		st.ServerURLV2 = v
	}
	if strings.EqualFold(added.property("UseV2Flow"), "true") {
		st.UseV2Flow = true
	}
	return st, nil
}

// registerAdmin is the runner-admin flow: POST {api}/actions/runners/register
// with the public key as XML; the answer names the broker and OAuth URLs.
func (p *Protocol) registerAdmin(ctx context.Context, c *client, api string, remote auth, st *state, agent taskAgent, key *rsa.PrivateKey) error {
	body := map[string]any{
		"url": st.GitHubURL, "group_id": 1, "name": agent.Name, "version": agent.Version,
		"updates_disabled": true, "ephemeral": agent.Ephemeral, "labels": agent.Labels,
		"public_key": publicKeyXML(key),
	}
	var out struct {
		ID                  int64 `json:"id"`
		RunnerAuthorization struct {
			ServerURL        string `json:"server_url"`
			AuthorizationURL string `json:"authorization_url"`
			ClientID         string `json:"client_id"`
		} `json:"authorization"`
	}
	if err := c.call(ctx, "POST", api+"/actions/runners/register", "", remote, body, &out); err != nil {
		return tokenError("register", err)
	}
	ra := out.RunnerAuthorization
	if out.ID == 0 || ra.ClientID == "" || ra.AuthorizationURL == "" || ra.ServerURL == "" {
		return errors.New("register: the runner-admin answer lacks the runner id, broker URL or OAuth credentials")
	}
	st.AgentID, st.ClientID, st.AuthorizationURL = out.ID, ra.ClientID, ra.AuthorizationURL
	st.ServerURLV2, st.UseV2Flow, st.UseRunnerAdminFlow = ra.ServerURL, true, true
	return nil
}

func tokenError(what string, err error) error {
	switch statusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return fmt.Errorf("%s: the token is wrong or expired (registration tokens last one hour; make a new one in Settings → Actions → Runners): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func newAgent(name string, reg forge.Registration, key *rsa.PrivateKey) taskAgent {
	a := taskAgent{
		Name: name, Version: runnerVersion(reg.Version), OSDescription: runtime.GOOS + "/" + runtime.GOARCH + " (gantry)",
		MaxParallelism: 1, Ephemeral: reg.Ephemeral, DisableUpdate: true,
		Authorization: agentAuthorization{PublicKey: publicKeyOf(key)},
	}
	seen := map[string]bool{}
	add := func(n, typ string) {
		if n != "" && !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			a.Labels = append(a.Labels, agentLabel{Name: n, Type: typ})
		}
	}
	add("self-hosted", "system")
	add(osLabel(), "system")
	add(archLabel(), "system")
	for _, l := range reg.Labels {
		add(l, "user")
	}
	return a
}

// runnerVersion is what the server is told: it refuses runners older than
// it supports, so gantry claims a current actions/runner version.
func runnerVersion(string) string { return "2.330.0" }

func osLabel() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS"
	case "windows":
		return "Windows"
	}
	return "Linux"
}

func archLabel() string {
	switch runtime.GOARCH {
	case "amd64":
		return "X64"
	case "arm64":
		return "ARM64"
	case "386":
		return "X86"
	case "arm":
		return "ARM"
	}
	return runtime.GOARCH
}

// parseJITConfig reads the encoded JIT config GitHub returns from
// generate-jitconfig: base64 JSON of file name → base64 file, holding
// .runner, .credentials and .credentials_rsaparams.
func parseJITConfig(enc string) (*state, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return nil, fmt.Errorf("JIT config: not base64: %w", err)
	}
	var files map[string]string
	if err := json.Unmarshal(raw, &files); err != nil {
		return nil, fmt.Errorf("JIT config: not a JSON object of files: %w", err)
	}
	file := func(name string, v any) error {
		b64, ok := files[name]
		if !ok {
			return fmt.Errorf("JIT config: no %s file", name)
		}
		data, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("JIT config: %s is not base64: %w", name, err)
		}
		// The runner writes these with a UTF-8 BOM at times.
		data = []byte(strings.TrimPrefix(string(data), "\uFEFF"))
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("JIT config: %s does not parse: %w", name, err)
		}
		return nil
	}
	var runner struct {
		AgentID            flexString
		AgentName          string
		PoolID             flexString
		ServerURL          string
		GitHubURL          string
		ServerURLV2        string
		UseV2Flow          flexBool
		UseRunnerAdminFlow flexBool
		Ephemeral          flexBool
	}
	var creds struct {
		Scheme string
		Data   map[string]string
	}
	var params rsaParams
	if err := file(".runner", &runner); err != nil {
		return nil, err
	}
	if err := file(".credentials", &creds); err != nil {
		return nil, err
	}
	if err := file(".credentials_rsaparams", &params); err != nil {
		return nil, err
	}
	lower := map[string]string{}
	for k, v := range creds.Data {
		lower[strings.ToLower(k)] = v
	}
	st := &state{
		AgentID: runner.AgentID.int64(), AgentName: runner.AgentName, PoolID: runner.PoolID.int64(),
		ServerURL: runner.ServerURL, GitHubURL: runner.GitHubURL, ServerURLV2: runner.ServerURLV2,
		UseV2Flow: bool(runner.UseV2Flow), UseRunnerAdminFlow: bool(runner.UseRunnerAdminFlow),
		Ephemeral: true, // a JIT runner takes one job, whatever .runner says
		ClientID:  lower["clientid"], AuthorizationURL: lower["authorizationurl"],
		RequireFIPS: strings.EqualFold(lower["requirefipscryptography"], "true"),
		Key:         params,
	}
	if !strings.EqualFold(creds.Scheme, "OAuth") {
		return nil, fmt.Errorf("JIT config: credentials scheme %q; only OAuth is supported", creds.Scheme)
	}
	if st.AgentID == 0 || st.ServerURL == "" || st.ClientID == "" || st.AuthorizationURL == "" {
		return nil, errors.New("JIT config: .runner/.credentials lack the agent id, server URL, client id or authorization URL")
	}
	if _, err := params.key(); err != nil {
		return nil, fmt.Errorf("JIT config: .credentials_rsaparams: %w", err)
	}
	return st, nil
}

func loadState(creds *forge.Credentials) (*state, *rsa.PrivateKey, error) {
	if creds == nil || len(creds.Data) == 0 {
		return nil, nil, errors.New("the runner is not registered; run gantry runner register")
	}
	if creds.Forge != "" && creds.Forge != "github" {
		return nil, nil, fmt.Errorf("the runner is registered with %s, not GitHub", creds.Forge)
	}
	var st state
	if err := json.Unmarshal(creds.Data, &st); err != nil {
		return nil, nil, fmt.Errorf("the runner's credentials do not parse (register again): %w", err)
	}
	k, err := st.Key.key()
	if err != nil {
		return nil, nil, fmt.Errorf("the runner's key: %w (register again)", err)
	}
	return &st, k, nil
}

func (p *Protocol) tokens(st *state, k *rsa.PrivateKey, c *client) *tokenSource {
	return &tokenSource{http: c.http, key: k, clientID: st.ClientID, authURL: st.AuthorizationURL,
		pss: st.RequireFIPS || st.ServerURLV2 != "", ua: c.ua}
}

// Remove implements forge.Protocol: the runner deletes itself from its
// pool with its own credentials (a JIT or ephemeral runner is removed by
// the server after its job; a 404 then counts as removed).
func (p *Protocol) Remove(ctx context.Context, creds *forge.Credentials) error {
	st, k, err := loadState(creds)
	if err != nil {
		return err
	}
	c := newClient(p.HTTP, st.Version)
	a := auth{source: p.tokens(st, k, c)}
	if st.UseRunnerAdminFlow {
		return errors.New("remove: a runner-admin runner is removed with a removal token in the repository's settings (Actions → Runners)")
	}
	u, err := c.locate(ctx, st.ServerURL, a, svcAgents, map[string]string{"poolId": fmt.Sprint(st.PoolID), "agentId": fmt.Sprint(st.AgentID)})
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	err = retry(ctx, 3, func() error { return c.call(ctx, "DELETE", u, "6.0-preview.2", a, nil, nil) })
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}
