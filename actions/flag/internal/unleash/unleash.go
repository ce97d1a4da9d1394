// Package unleash implements flags.Provider on the admin API of an
// open-source Unleash server (v7/v8): one feature in one project
// environment, its on/off state and its strategy list.
package unleash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/apiclient"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/textdiff"
)

// Config says where the flags live.
type Config struct {
	BaseURL     string // e.g. https://unleash.example.com (no /api)
	Token       string // admin or personal access token
	Project     string // default "default"
	Environment string // default "development"
	// HTTPClient defaults to a client with a 30s timeout.
	HTTPClient *http.Client
}

// Provider is the Unleash flags.Provider.
type Provider struct {
	base    *url.URL
	token   string
	project string
	env     string
	hc      *http.Client
}

var _ flags.Provider = (*Provider)(nil)

// New checks cfg and returns a provider; it makes no request.
func New(cfg Config) (*Provider, error) {
	u, err := apiclient.ParseBase("unleash", cfg.BaseURL, "https://unleash.example.com")
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("unleash: an API token is required (an admin token or personal access token)")
	}
	p := &Provider{base: u, token: cfg.Token, project: cfg.Project, env: cfg.Environment, hc: cfg.HTTPClient}
	if p.project == "" {
		p.project = "default"
	}
	if p.env == "" {
		p.env = "development"
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: 30 * time.Second}
	}
	return p, nil
}

// Name implements flags.Provider.
func (p *Provider) Name() string { return "unleash" }

// strategy is a feature strategy as the admin API sends and accepts it,
// minus server bookkeeping (featureName, sortOrder, milestoneId) so two
// lists compare equal when they behave the same.
type strategy struct {
	ID          string       `json:"id,omitempty"`
	Name        string       `json:"name"`
	Title       string       `json:"title,omitempty"`
	Disabled    bool         `json:"disabled,omitempty"`
	Parameters  params       `json:"parameters,omitempty"`
	Constraints []constraint `json:"constraints,omitempty"`
	Variants    []variant    `json:"variants,omitempty"`
	Segments    []int        `json:"segments,omitempty"`
}

type constraint struct {
	ContextName     string   `json:"contextName"`
	Operator        string   `json:"operator"`
	Values          []string `json:"values,omitempty"`
	Value           string   `json:"value,omitempty"`
	Inverted        bool     `json:"inverted,omitempty"`
	CaseInsensitive bool     `json:"caseInsensitive,omitempty"`
}

type variant struct {
	Name       string   `json:"name"`
	Weight     int      `json:"weight,omitempty"`
	WeightType string   `json:"weightType,omitempty"`
	Stickiness string   `json:"stickiness,omitempty"`
	Payload    *payload `json:"payload,omitempty"`
}

type payload struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// params are strategy parameters; Unleash stores them as strings, but
// hand-written targeting JSON often has numbers ("rollout": 50).
type params map[string]string

func (p *params) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = params{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			(*p)[k] = v
		case float64, bool:
			(*p)[k] = fmt.Sprint(v)
		case nil:
		default:
			return fmt.Errorf("strategy parameter %q must be a string, number or boolean", k)
		}
	}
	return nil
}

// flagState is what one read gives: the environment's switch, strategies
// (with IDs) and legacy environment variants.
type flagState struct {
	enabled     bool
	strategies  []strategy
	envVariants []variant
}

func (p *Provider) featurePath(key string) string {
	return "/api/admin/projects/" + url.PathEscape(p.project) + "/features/" + url.PathEscape(key)
}

func (p *Provider) envPath(key string) string {
	return p.featurePath(key) + "/environments/" + url.PathEscape(p.env)
}

func (p *Provider) read(ctx context.Context, key string) (flagState, error) {
	if key == "" {
		return flagState{}, errors.New("unleash: flag key is empty")
	}
	var feature struct {
		Environments []struct {
			Name       string     `json:"name"`
			Enabled    bool       `json:"enabled"`
			Strategies []strategy `json:"strategies"`
		} `json:"environments"`
	}
	notFound := fmt.Sprintf("feature %q not found in Unleash project %q: check the flag key and the project input", key, p.project)
	if err := p.do(ctx, http.MethodGet, p.featurePath(key), nil, &feature, notFound); err != nil {
		return flagState{}, err
	}
	var st flagState
	found := false
	var names []string
	for _, e := range feature.Environments {
		names = append(names, e.Name)
		if e.Name == p.env {
			st.enabled, st.strategies, found = e.Enabled, e.Strategies, true
		}
	}
	if !found {
		return flagState{}, fmt.Errorf("unleash: environment %q is not enabled in project %q (it has %s): check the environment input", p.env, p.project, strings.Join(names, ", "))
	}
	var vs struct {
		Variants []variant `json:"variants"`
	}
	// Environment variants are deprecated in favour of strategy variants;
	// a server that dropped the endpoint simply has none.
	if err := p.do(ctx, http.MethodGet, p.envPath(key)+"/variants", nil, &vs, ""); err != nil {
		var se *statusError
		if !errors.As(err, &se) || se.status != http.StatusNotFound {
			return flagState{}, err
		}
	}
	st.envVariants = vs.Variants
	return st, nil
}

// Get implements flags.Provider.
func (p *Provider) Get(ctx context.Context, key string) (flags.State, error) {
	st, err := p.read(ctx, key)
	if err != nil {
		return flags.State{}, err
	}
	return st.model(key), nil
}

// model maps Unleash's state onto the neutral one: Rollout is the first
// flexibleRollout strategy's percentage, Targeting the strategy list.
func (st flagState) model(key string) flags.State {
	s := flags.State{Key: key, Enabled: st.enabled, Rollout: -1}
	vars := map[string]any{}
	addVariants := func(vs []variant) {
		for _, v := range vs {
			vars[v.Name] = payloadValue(v.Payload)
		}
	}
	addVariants(st.envVariants)
	if i := rolloutIndex(st.strategies); i >= 0 {
		r := st.strategies[i]
		if n, err := strconv.Atoi(r.Parameters["rollout"]); err == nil {
			s.Rollout = n
		}
		if len(r.Variants) == 1 {
			s.RolloutVariant = r.Variants[0].Name
		}
	}
	for _, str := range st.strategies {
		addVariants(str.Variants)
	}
	if len(vars) > 0 {
		s.Variants = vars
	}
	if len(st.strategies) > 0 {
		s.Targeting = normalized(st.strategies)
	}
	return s
}

func payloadValue(p *payload) any {
	if p == nil {
		return nil
	}
	if p.Type == "json" {
		var v any
		if json.Unmarshal([]byte(p.Value), &v) == nil {
			return v
		}
	}
	return p.Value
}

func rolloutIndex(ss []strategy) int {
	for i, s := range ss {
		if s.Name == "flexibleRollout" {
			return i
		}
	}
	return -1
}

// normalized is the strategy list without IDs, as the Targeting JSON.
func normalized(ss []strategy) json.RawMessage {
	out := make([]strategy, len(ss))
	for i, s := range ss {
		s.ID = ""
		out[i] = s
	}
	b, _ := json.Marshal(out) // plain structs: cannot fail
	return b
}

func sameStrategy(a, b strategy) bool {
	a.ID, b.ID = "", ""
	if len(a.Parameters) == 0 && len(b.Parameters) == 0 {
		a.Parameters, b.Parameters = nil, nil
	}
	return reflect.DeepEqual(normalized([]strategy{a}), normalized([]strategy{b}))
}

// booleanVariant reports whether a rollout variant name means "the flag is
// on" rather than a named Unleash variant.
func booleanVariant(v string) bool {
	switch strings.ToLower(v) {
	case "", "true", "on", "enabled":
		return true
	}
	return false
}

// Set implements flags.Provider. Strategies are reconciled by position
// (update in place, create extra, delete surplus) so a failure half way
// leaves the existing rules mostly intact.
func (p *Provider) Set(ctx context.Context, key string, c flags.Change, dryRun bool) (flags.Outcome, error) {
	if c.DefaultVariant != nil {
		return flags.Outcome{}, errors.New("unleash: features have no default variant; use a rollout variant or targeting (the strategy list) instead")
	}
	cur, err := p.read(ctx, key)
	if err != nil {
		return flags.Outcome{}, err
	}
	want := flagState{enabled: cur.enabled, envVariants: cur.envVariants}
	want.strategies = append([]strategy(nil), cur.strategies...)

	if c.Targeting != nil {
		var ss []strategy
		if err := json.Unmarshal(c.Targeting, &ss); err != nil {
			return flags.Outcome{}, fmt.Errorf("unleash: targeting must be a JSON array of strategies ({\"name\": ..., \"parameters\": {...}, \"constraints\": [...]}): %w", err)
		}
		for i, s := range ss {
			if s.Name == "" {
				return flags.Outcome{}, fmt.Errorf("unleash: targeting strategy %d has no name", i+1)
			}
		}
		want.strategies = ss
	}
	if c.Rollout != nil {
		if c.Rollout.Percent < 0 || c.Rollout.Percent > 100 {
			return flags.Outcome{}, fmt.Errorf("unleash: rollout percent %d is outside 0-100", c.Rollout.Percent)
		}
		want.strategies = withRollout(want.strategies, key, *c.Rollout, cur)
	}
	if c.Enabled != nil {
		want.enabled = *c.Enabled
	}
	// Unleash adds a 100% flexibleRollout when an environment is switched on
	// with no strategies; creating it ourselves keeps the dry run exact.
	if want.enabled && !cur.enabled && len(want.strategies) == 0 {
		want.strategies = []strategy{{Name: "flexibleRollout", Parameters: params{"rollout": "100", "stickiness": "default", "groupId": key}}}
	}

	out := flags.Outcome{Before: cur.model(key), After: want.model(key)}
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	if err != nil || !out.Changed || dryRun {
		return out, err
	}

	if err := p.apply(ctx, key, cur, want); err != nil {
		// Unleash takes a change as several calls; one failing half-way
		// would leave a state nobody asked for, so the old one is put back.
		if rerr := p.restore(ctx, key, cur); rerr != nil {
			return out, fmt.Errorf("%w; putting the previous state back failed too (%v): check feature %q in environment %q by hand", err, rerr, key, p.env)
		}
		return out, fmt.Errorf("%w (nothing changed: the previous state was put back)", err)
	}
	after, err := p.read(ctx, key)
	if err != nil {
		return out, fmt.Errorf("unleash: change applied but reading it back failed: %w", err)
	}
	out.After = after.model(key)
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	return out, err
}

// apply moves the environment from cur to want: switched off first and on
// last, so the strategies are never live half-edited.
func (p *Provider) apply(ctx context.Context, key string, cur, want flagState) error {
	if !want.enabled && cur.enabled {
		if err := p.do(ctx, http.MethodPost, p.envPath(key)+"/off", nil, nil, ""); err != nil {
			return err
		}
	}
	if err := p.reconcile(ctx, key, cur.strategies, want.strategies); err != nil {
		return err
	}
	if want.enabled && !cur.enabled {
		if err := p.do(ctx, http.MethodPost, p.envPath(key)+"/on", nil, nil, ""); err != nil {
			return err
		}
	}
	return nil
}

// restore brings the environment back to old from wherever a failed apply
// left it.
func (p *Provider) restore(ctx context.Context, key string, old flagState) error {
	now, err := p.read(ctx, key)
	if err != nil {
		return err
	}
	return p.apply(ctx, key, now, old)
}

// withRollout sets the percentage on the first flexibleRollout strategy,
// adding one (stickiness default, groupId = key) when there is none.
func withRollout(ss []strategy, key string, r flags.Rollout, cur flagState) []strategy {
	i := rolloutIndex(ss)
	if i < 0 {
		ss = append(ss, strategy{Name: "flexibleRollout", Parameters: params{"stickiness": "default", "groupId": key}})
		i = len(ss) - 1
	}
	s := ss[i]
	ps := params{}
	for k, v := range s.Parameters {
		ps[k] = v
	}
	if ps["stickiness"] == "" {
		ps["stickiness"] = "default"
	}
	if ps["groupId"] == "" {
		ps["groupId"] = key
	}
	ps["rollout"] = strconv.Itoa(r.Percent)
	s.Parameters = ps
	if !booleanVariant(r.Variant) {
		v := variant{Name: r.Variant, Weight: 1000, WeightType: "variable", Stickiness: ps["stickiness"]}
		// Keep the payload the variant already has anywhere on the flag.
		for _, o := range append(append([]variant(nil), cur.envVariants...), allStrategyVariants(cur.strategies)...) {
			if o.Name == r.Variant && o.Payload != nil {
				v.Payload = o.Payload
			}
		}
		s.Variants = []variant{v}
	}
	out := append([]strategy(nil), ss...)
	out[i] = s
	return out
}

func allStrategyVariants(ss []strategy) []variant {
	var vs []variant
	for _, s := range ss {
		vs = append(vs, s.Variants...)
	}
	return vs
}

func (p *Provider) reconcile(ctx context.Context, key string, cur, want []strategy) error {
	base := p.envPath(key) + "/strategies"
	for i, w := range want {
		body := map[string]any{
			"name": w.Name, "title": w.Title, "disabled": w.Disabled, "sortOrder": i,
			"parameters": nonNil(w.Parameters), "constraints": nonNilSlice(w.Constraints),
			"variants": nonNilSlice(w.Variants), "segments": nonNilSlice(w.Segments),
		}
		switch {
		case i < len(cur) && sameStrategy(cur[i], w):
			continue
		case i < len(cur):
			if err := p.do(ctx, http.MethodPut, base+"/"+url.PathEscape(cur[i].ID), body, nil, ""); err != nil {
				return fmt.Errorf("updating strategy %d: %w", i+1, err)
			}
		default:
			if err := p.do(ctx, http.MethodPost, base, body, nil, ""); err != nil {
				return fmt.Errorf("adding strategy %d: %w", i+1, err)
			}
		}
	}
	for i := len(want); i < len(cur); i++ {
		if err := p.do(ctx, http.MethodDelete, base+"/"+url.PathEscape(cur[i].ID), nil, nil, ""); err != nil {
			return fmt.Errorf("removing strategy %d: %w", i+1, err)
		}
	}
	return nil
}

func nonNil(p params) params {
	if p == nil {
		return params{}
	}
	return p
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// diffStates compares the indented JSON of two states.
func diffStates(before, after flags.State) (bool, string, error) {
	b, err := json.MarshalIndent(before, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("unleash: encoding flag state: %w", err)
	}
	a, err := json.MarshalIndent(after, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("unleash: encoding flag state: %w", err)
	}
	b, a = append(b, '\n'), append(a, '\n')
	d := textdiff.Unified(before.Key+" (before)", after.Key+" (after)", b, a)
	return d != "", d, nil
}

// Validate checks the token, the project and that the environment is
// enabled in it.
func (p *Provider) Validate(ctx context.Context) error {
	var overview struct {
		Environments []struct {
			Environment string `json:"environment"`
		} `json:"environments"`
	}
	notFound := fmt.Sprintf("Unleash project %q not found: check the project input", p.project)
	if err := p.do(ctx, http.MethodGet, "/api/admin/projects/"+url.PathEscape(p.project)+"/overview", nil, &overview, notFound); err != nil {
		return err
	}
	var names []string
	for _, e := range overview.Environments {
		if e.Environment == p.env {
			return nil
		}
		names = append(names, e.Environment)
	}
	return fmt.Errorf("unleash: environment %q is not enabled in project %q (it has %s): check the environment input", p.env, p.project, strings.Join(names, ", "))
}

// do sends one admin API request. notFound, if set, replaces the message of
// a 404. The token goes only into the Authorization header and is scrubbed
// from any response text quoted in an error.
func (p *Provider) do(ctx context.Context, method, path string, body, out any, notFound string) error {
	c := apiclient.New("unleash", p.base, p.hc)
	c.Secret = p.token
	c.Header = func(h http.Header) { h.Set("Authorization", p.token) }
	c.MaxResponse = 4 << 20
	err := c.Do(ctx, method, path, body, out)
	var se *apiclient.StatusError
	if errors.As(err, &se) {
		return &statusError{status: se.Status, text: p.statusText(method, path, se.Status, se.Message, notFound)}
	}
	return err
}

// statusError is a non-2xx answer.
type statusError struct {
	status int
	text   string
}

func (e *statusError) Error() string { return e.text }

func (p *Provider) statusText(method, path string, status int, msg, notFound string) string {
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Sprintf("unleash: %s %s: 401 unauthorized: the token was rejected; use an admin API token or personal access token for %s", method, path, p.base.Host)
	case status == http.StatusForbidden:
		return fmt.Sprintf("unleash: %s %s: 403 forbidden: the token may not do this (%s); it needs admin rights on project %q", method, path, msg, p.project)
	case status == http.StatusNotFound && notFound != "":
		return fmt.Sprintf("unleash: %s (404 from %s %s)", notFound, method, path)
	case status >= 500:
		return fmt.Sprintf("unleash: %s %s: server error %d (%s); the change may not be applied, retry later", method, path, status, msg)
	}
	return fmt.Sprintf("unleash: %s %s: %d %s", method, path, status, msg)
}
