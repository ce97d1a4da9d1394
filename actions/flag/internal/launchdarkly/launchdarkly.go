// Package launchdarkly implements flags.Provider on LaunchDarkly's REST API
// v2: reads with GET /api/v2/flags, writes with one semantic patch per
// change so the whole change applies atomically or not at all.
package launchdarkly

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/apiclient"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/textdiff"
)

// DefaultBaseURL is LaunchDarkly's hosted API.
const DefaultBaseURL = "https://app.launchdarkly.com"

// semanticPatch is the content type that selects semantic patch on PATCH.
const semanticPatch = "application/json; domain-model=launchdarkly.semanticpatch"

// apiVersion pins the REST API's behaviour (LD-API-Version header).
const apiVersion = "20240415"

// Config says where the flag lives.
type Config struct {
	BaseURL     string // default DefaultBaseURL
	Token       string // API access token (sent as the Authorization header)
	Project     string // project key, default "default"
	Environment string // environment key, required
	HTTPClient  *http.Client
}

// Provider is the LaunchDarkly flags.Provider.
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
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := apiclient.ParseBase("launchdarkly", raw, DefaultBaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("launchdarkly: an API access token with writer rights is required")
	}
	if cfg.Environment == "" {
		return nil, errors.New("launchdarkly: the environment key is required (for example production or test)")
	}
	p := &Provider{base: u, token: cfg.Token, project: cfg.Project, env: cfg.Environment, hc: cfg.HTTPClient}
	if p.project == "" {
		p.project = "default"
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: 30 * time.Second}
	}
	return p, nil
}

// Name implements flags.Provider.
func (p *Provider) Name() string { return "launchdarkly" }

type flag struct {
	Key          string         `json:"key"`
	Kind         string         `json:"kind"`
	Variations   []variation    `json:"variations"`
	Environments map[string]env `json:"environments"`
}

type variation struct {
	ID    string `json:"_id"`
	Value any    `json:"value"`
	Name  string `json:"name,omitempty"`
}

type env struct {
	On           bool        `json:"on"`
	OffVariation *int        `json:"offVariation,omitempty"`
	Fallthrough  defaultRule `json:"fallthrough"`
	Rules        []rule      `json:"rules,omitempty"`
}

type defaultRule struct {
	Variation *int     `json:"variation,omitempty"`
	Rollout   *rollout `json:"rollout,omitempty"`
}

type rollout struct {
	Variations  []weighted `json:"variations"`
	BucketBy    string     `json:"bucketBy,omitempty"`
	ContextKind string     `json:"contextKind,omitempty"`
}

type weighted struct {
	Variation int `json:"variation"`
	Weight    int `json:"weight"`
}

type rule struct {
	ID          string   `json:"_id,omitempty"`
	Variation   *int     `json:"variation,omitempty"`
	Rollout     *rollout `json:"rollout,omitempty"`
	Clauses     []clause `json:"clauses"`
	Description string   `json:"description,omitempty"`
	TrackEvents bool     `json:"trackEvents,omitempty"`
}

type clause struct {
	ContextKind string `json:"contextKind,omitempty"`
	Attribute   string `json:"attribute"`
	Op          string `json:"op"`
	Values      []any  `json:"values"`
	Negate      bool   `json:"negate"`
}

// RuleSpec is one targeting rule in the shape the replaceRules instruction
// takes: the Targeting JSON is a list of these.
type RuleSpec struct {
	Description        string         `json:"description,omitempty"`
	Clauses            []clause       `json:"clauses"`
	VariationID        string         `json:"variationId,omitempty"`
	RolloutWeights     map[string]int `json:"rolloutWeights,omitempty"`
	RolloutBucketBy    string         `json:"rolloutBucketBy,omitempty"`
	RolloutContextKind string         `json:"rolloutContextKind,omitempty"`
	TrackEvents        bool           `json:"trackEvents,omitempty"`
}

func (p *Provider) flagPath(key string) string {
	return "/api/v2/flags/" + url.PathEscape(p.project) + "/" + url.PathEscape(key)
}

func (p *Provider) read(ctx context.Context, key string) (flag, env, error) {
	if key == "" {
		return flag{}, env{}, errors.New("launchdarkly: flag key is empty")
	}
	var f flag
	notFound := fmt.Sprintf("flag %q not found in LaunchDarkly project %q: check the flag key and the project input", key, p.project)
	if err := p.do(ctx, http.MethodGet, p.flagPath(key)+"?env="+url.QueryEscape(p.env), nil, &f, notFound); err != nil {
		return flag{}, env{}, err
	}
	e, ok := f.Environments[p.env]
	if !ok {
		return flag{}, env{}, fmt.Errorf("launchdarkly: flag %q has no environment %q in project %q: check the environment input", key, p.env, p.project)
	}
	return f, e, nil
}

// Get implements flags.Provider.
func (p *Provider) Get(ctx context.Context, key string) (flags.State, error) {
	f, e, err := p.read(ctx, key)
	if err != nil {
		return flags.State{}, err
	}
	return model(f, e), nil
}

// label is how a variation is named in the neutral model: its name, else
// its scalar value ("true", "blue", "3"), else its position.
func label(f flag, i int) string {
	if i < 0 || i >= len(f.Variations) {
		return fmt.Sprintf("variation-%d", i)
	}
	v := f.Variations[i]
	if v.Name != "" {
		return v.Name
	}
	switch x := v.Value.(type) {
	case string:
		return x
	case bool, float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("variation-%d", i)
}

// lookup finds a variation by label, name or ID.
func lookup(f flag, name string) (int, error) {
	for i, v := range f.Variations {
		if label(f, i) == name || v.Name == name || v.ID == name {
			return i, nil
		}
	}
	labels := make([]string, len(f.Variations))
	for i := range f.Variations {
		labels[i] = label(f, i)
	}
	return 0, fmt.Errorf("launchdarkly: flag %q has no variation %q (it has %s)", f.Key, name, strings.Join(labels, ", "))
}

func isBoolean(f flag) bool {
	if f.Kind == "boolean" {
		return true
	}
	if len(f.Variations) != 2 {
		return false
	}
	a, ok1 := f.Variations[0].Value.(bool)
	b, ok2 := f.Variations[1].Value.(bool)
	return ok1 && ok2 && a != b
}

func boolVariation(f flag, want bool) int {
	for i, v := range f.Variations {
		if b, ok := v.Value.(bool); ok && b == want {
			return i
		}
	}
	return -1
}

// rolloutTarget picks which variation of a two-way default rule rollout is
// "the rollout variant": true for boolean flags, else the one that is not
// the off variation, else the later one in the flag's list (new
// multivariate flags serve the first variation by default, so it is
// usually the control). It returns -1 when there is no rollout.
func rolloutTarget(f flag, e env) (target, other int) {
	r := e.Fallthrough.Rollout
	if r == nil || len(r.Variations) == 0 {
		return -1, -1
	}
	if len(r.Variations) == 1 {
		return r.Variations[0].Variation, -1
	}
	if len(r.Variations) != 2 {
		return r.Variations[0].Variation, -1
	}
	a, b := r.Variations[0].Variation, r.Variations[1].Variation
	if a > b {
		a, b = b, a
	}
	switch {
	case isBoolean(f) && boolVariation(f, true) == b:
		return b, a
	case isBoolean(f):
		return a, b
	case e.OffVariation != nil && *e.OffVariation == b:
		return a, b
	}
	return b, a
}

func model(f flag, e env) flags.State {
	s := flags.State{Key: f.Key, Enabled: e.On, Rollout: -1}
	if len(f.Variations) > 0 {
		s.Variants = map[string]any{}
		for i, v := range f.Variations {
			s.Variants[label(f, i)] = v.Value
		}
	}
	if v := e.Fallthrough.Variation; v != nil {
		s.DefaultVariant = label(f, *v)
	}
	if target, other := rolloutTarget(f, e); target >= 0 {
		s.RolloutVariant = label(f, target)
		for _, w := range e.Fallthrough.Rollout.Variations {
			if w.Variation == target {
				s.Rollout = int(math.Round(float64(w.Weight) / 1000))
			}
		}
		if other >= 0 {
			s.DefaultVariant = label(f, other)
		}
	}
	if len(e.Rules) > 0 {
		b, _ := json.Marshal(ruleSpecs(f, e.Rules)) // plain structs: cannot fail
		s.Targeting = b
	}
	return s
}

// ruleSpecs turns stored rules into the replaceRules shape, so current and
// requested targeting compare directly.
func ruleSpecs(f flag, rules []rule) []RuleSpec {
	out := make([]RuleSpec, len(rules))
	for i, r := range rules {
		s := RuleSpec{Description: r.Description, Clauses: r.Clauses, TrackEvents: r.TrackEvents}
		if s.Clauses == nil {
			s.Clauses = []clause{}
		}
		if r.Variation != nil && *r.Variation >= 0 && *r.Variation < len(f.Variations) {
			s.VariationID = f.Variations[*r.Variation].ID
		}
		if r.Rollout != nil {
			s.RolloutWeights = map[string]int{}
			for _, w := range r.Rollout.Variations {
				if w.Variation >= 0 && w.Variation < len(f.Variations) {
					s.RolloutWeights[f.Variations[w.Variation].ID] = w.Weight
				}
			}
			s.RolloutBucketBy = r.Rollout.BucketBy
			s.RolloutContextKind = r.Rollout.ContextKind
		}
		out[i] = s
	}
	return out
}

// Set implements flags.Provider: the change becomes one semantic patch; the
// dry run applies the same instructions to a copy of the read state.
func (p *Provider) Set(ctx context.Context, key string, c flags.Change, dryRun bool) (flags.Outcome, error) {
	f, cur, err := p.read(ctx, key)
	if err != nil {
		return flags.Outcome{}, err
	}
	want := cur
	var instructions []map[string]any

	if c.Targeting != nil {
		specs, err := parseRules(f, c.Targeting)
		if err != nil {
			return flags.Outcome{}, err
		}
		if !reflect.DeepEqual(specs, ruleSpecs(f, cur.Rules)) {
			instructions = append(instructions, map[string]any{"kind": "replaceRules", "rules": specs})
			want.Rules = rulesFromSpecs(f, specs)
		}
	}

	if c.Rollout != nil || c.DefaultVariant != nil {
		ft, err := fallthroughFor(f, cur, c)
		if err != nil {
			return flags.Outcome{}, err
		}
		if !reflect.DeepEqual(ft, normFallthrough(cur.Fallthrough)) {
			in := map[string]any{"kind": "updateFallthroughVariationOrRollout"}
			if ft.Variation != nil {
				in["variationId"] = f.Variations[*ft.Variation].ID
			} else {
				weights := map[string]int{}
				for _, w := range ft.Rollout.Variations {
					weights[f.Variations[w.Variation].ID] = w.Weight
				}
				in["rolloutWeights"] = weights
				if ft.Rollout.BucketBy != "" {
					in["rolloutBucketBy"] = ft.Rollout.BucketBy
				}
				if ft.Rollout.ContextKind != "" {
					in["rolloutContextKind"] = ft.Rollout.ContextKind
				}
			}
			instructions = append(instructions, in)
			want.Fallthrough = ft
		}
	}

	if c.Enabled != nil && *c.Enabled != cur.On {
		kind := "turnFlagOff"
		if *c.Enabled {
			kind = "turnFlagOn"
		}
		instructions = append(instructions, map[string]any{"kind": kind})
		want.On = *c.Enabled
	}

	out := flags.Outcome{Before: model(f, cur), After: model(f, want)}
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	if err != nil || len(instructions) == 0 || dryRun {
		out.Changed = out.Changed && len(instructions) > 0
		return out, err
	}

	body := map[string]any{
		"environmentKey": p.env,
		"comment":        "gantry flag action",
		"instructions":   instructions,
	}
	if err := p.do(ctx, http.MethodPatch, p.flagPath(key), body, nil, ""); err != nil {
		return out, err
	}
	f, after, err := p.read(ctx, key)
	if err != nil {
		return out, fmt.Errorf("launchdarkly: change applied but reading it back failed: %w", err)
	}
	out.After = model(f, after)
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	return out, err
}

// parseRules reads targeting JSON strictly, so a misspelt field fails here
// rather than being dropped.
func parseRules(f flag, raw json.RawMessage) ([]RuleSpec, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var specs []RuleSpec
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf(`launchdarkly: targeting must be a JSON array of rules like {"clauses": [{"contextKind": "user", "attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": false}], "variationId": "..."}: %w`, err)
	}
	if specs == nil {
		specs = []RuleSpec{}
	}
	ids := map[string]bool{}
	for _, v := range f.Variations {
		ids[v.ID] = true
	}
	for i := range specs {
		s := &specs[i]
		if s.Clauses == nil {
			s.Clauses = []clause{}
		}
		if (s.VariationID == "") == (s.RolloutWeights == nil) {
			return nil, fmt.Errorf("launchdarkly: targeting rule %d needs exactly one of variationId and rolloutWeights", i+1)
		}
		if s.VariationID != "" && !ids[s.VariationID] {
			return nil, fmt.Errorf("launchdarkly: targeting rule %d: variationId %q is not a variation of flag %q", i+1, s.VariationID, f.Key)
		}
		sum := 0
		for id, w := range s.RolloutWeights {
			if !ids[id] {
				return nil, fmt.Errorf("launchdarkly: targeting rule %d: rolloutWeights names %q, not a variation of flag %q", i+1, id, f.Key)
			}
			sum += w
		}
		if s.RolloutWeights != nil && sum != 100000 {
			return nil, fmt.Errorf("launchdarkly: targeting rule %d: rolloutWeights sum to %d, want 100000 (thousandths of a percent)", i+1, sum)
		}
		for j, cl := range s.Clauses {
			if cl.Attribute == "" || cl.Op == "" {
				return nil, fmt.Errorf("launchdarkly: targeting rule %d clause %d needs attribute and op", i+1, j+1)
			}
			if cl.ContextKind == "" {
				// LaunchDarkly's default, written out so a re-read compares equal.
				s.Clauses[j].ContextKind = "user"
			}
		}
	}
	return specs, nil
}

func rulesFromSpecs(f flag, specs []RuleSpec) []rule {
	index := map[string]int{}
	for i, v := range f.Variations {
		index[v.ID] = i
	}
	out := make([]rule, len(specs))
	for i, s := range specs {
		r := rule{Clauses: s.Clauses, Description: s.Description, TrackEvents: s.TrackEvents}
		if s.VariationID != "" {
			v := index[s.VariationID]
			r.Variation = &v
		} else {
			r.Rollout = weightsToRollout(index, s.RolloutWeights)
			r.Rollout.BucketBy, r.Rollout.ContextKind = s.RolloutBucketBy, s.RolloutContextKind
		}
		out[i] = r
	}
	return out
}

func weightsToRollout(index map[string]int, weights map[string]int) *rollout {
	r := &rollout{}
	for id, w := range weights {
		r.Variations = append(r.Variations, weighted{Variation: index[id], Weight: w})
	}
	sort.Slice(r.Variations, func(i, j int) bool { return r.Variations[i].Variation < r.Variations[j].Variation })
	return r
}

// normFallthrough orders rollout entries by variation so two fallthroughs
// that serve the same compare equal.
func normFallthrough(ft defaultRule) defaultRule {
	if ft.Rollout == nil {
		return ft
	}
	r := *ft.Rollout
	r.Variations = append([]weighted(nil), r.Variations...)
	sort.Slice(r.Variations, func(i, j int) bool { return r.Variations[i].Variation < r.Variations[j].Variation })
	return defaultRule{Rollout: &r}
}

// fallthroughFor computes the default rule a change asks for. A rollout
// splits users between the rollout variant and the "rest" variant: the
// requested default variant, else the one served now, else the other
// boolean value or the off variation.
func fallthroughFor(f flag, cur env, c flags.Change) (defaultRule, error) {
	curTarget, curOther := rolloutTarget(f, cur)
	rest := -1
	if c.DefaultVariant != nil {
		i, err := lookup(f, *c.DefaultVariant)
		if err != nil {
			return defaultRule{}, err
		}
		rest = i
	}
	if c.Rollout == nil {
		if curTarget < 0 {
			return defaultRule{Variation: &rest}, nil
		}
		// Keep the rollout; the rest of the users get the new default.
		c.Rollout = &flags.Rollout{Variant: label(f, curTarget), Percent: model(f, cur).Rollout}
	}
	r := *c.Rollout
	if r.Percent < 0 || r.Percent > 100 {
		return defaultRule{}, fmt.Errorf("launchdarkly: rollout percent %d is outside 0-100", r.Percent)
	}
	target := -1
	switch {
	case r.Variant != "":
		i, err := lookup(f, r.Variant)
		if err != nil {
			return defaultRule{}, err
		}
		target = i
	case isBoolean(f):
		target = boolVariation(f, true)
	default:
		return defaultRule{}, fmt.Errorf("launchdarkly: flag %q is multivariate: name the variant to roll out", f.Key)
	}
	if rest < 0 {
		switch {
		case cur.Fallthrough.Variation != nil && *cur.Fallthrough.Variation != target:
			rest = *cur.Fallthrough.Variation
		case curTarget >= 0 && curOther >= 0 && curOther != target:
			rest = curOther
		case isBoolean(f):
			rest = boolVariation(f, !(f.Variations[target].Value == true))
		case cur.OffVariation != nil && *cur.OffVariation != target:
			rest = *cur.OffVariation
		default:
			return defaultRule{}, fmt.Errorf("launchdarkly: cannot tell which variation the other %d%% of users should get: set the default variant too", 100-r.Percent)
		}
	}
	if rest == target {
		return defaultRule{}, fmt.Errorf("launchdarkly: the rollout variant and the default variant are both %q", label(f, target))
	}
	ro := &rollout{Variations: []weighted{{target, r.Percent * 1000}, {rest, (100 - r.Percent) * 1000}}}
	if cur.Fallthrough.Rollout != nil {
		ro.BucketBy, ro.ContextKind = cur.Fallthrough.Rollout.BucketBy, cur.Fallthrough.Rollout.ContextKind
	}
	return normFallthrough(defaultRule{Rollout: ro}), nil
}

func diffStates(before, after flags.State) (bool, string, error) {
	b, err := json.MarshalIndent(before, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("launchdarkly: encoding flag state: %w", err)
	}
	a, err := json.MarshalIndent(after, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("launchdarkly: encoding flag state: %w", err)
	}
	d := textdiff.Unified(before.Key+" (before)", after.Key+" (after)", append(b, '\n'), append(a, '\n'))
	return d != "", d, nil
}

// Validate checks the token and that the project and environment exist.
func (p *Provider) Validate(ctx context.Context) error {
	path := "/api/v2/projects/" + url.PathEscape(p.project) + "/environments/" + url.PathEscape(p.env)
	notFound := fmt.Sprintf("LaunchDarkly project %q or its environment %q not found: check the project and environment inputs", p.project, p.env)
	return p.do(ctx, http.MethodGet, path, nil, nil, notFound)
}

// do sends one request. The token goes only into the Authorization header
// and is scrubbed from response text quoted in errors.
func (p *Provider) do(ctx context.Context, method, path string, body, out any, notFound string) error {
	c := apiclient.New("launchdarkly", p.base, p.hc)
	c.Secret = p.token
	c.ContentType = semanticPatch
	c.Header = func(h http.Header) {
		h.Set("Authorization", p.token)
		h.Set("LD-API-Version", apiVersion)
	}
	err := c.Do(ctx, method, path, body, out)
	var se *apiclient.StatusError
	if !errors.As(err, &se) {
		return err
	}
	msg := se.Message
	switch {
	case se.Status == http.StatusUnauthorized:
		return fmt.Errorf("launchdarkly: %s %s: 401 unauthorized: the access token was rejected; check the token input", method, path)
	case se.Status == http.StatusForbidden:
		return fmt.Errorf("launchdarkly: %s %s: 403 forbidden (%s): the token's role may not change flags in environment %q", method, path, msg, p.env)
	case se.Status == http.StatusNotFound && notFound != "":
		return fmt.Errorf("launchdarkly: %s (404 from %s %s)", notFound, method, path)
	case se.Status == http.StatusConflict:
		return fmt.Errorf("launchdarkly: %s %s: 409 conflict (%s): the flag changed concurrently or needs an approval; retry", method, path, msg)
	case se.Status == http.StatusTooManyRequests:
		wait := "a while"
		if se.RetryAfter != "" {
			wait = se.RetryAfter + "s"
		}
		return fmt.Errorf("launchdarkly: %s %s: 429 rate limited; retry after %s", method, path, wait)
	case se.Status >= 500:
		return fmt.Errorf("launchdarkly: %s %s: server error %d (%s); retry later", method, path, se.Status, msg)
	}
	return se
}
