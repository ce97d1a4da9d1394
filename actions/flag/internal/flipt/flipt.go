// Package flipt implements flags.Provider on Flipt's v1 REST API: the flag
// resource for on/off and default variant, and the rollouts of boolean flags
// for percentage rollouts and targeting.
package flipt

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
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/apiclient"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/textdiff"
)

const (
	booleanType   = "BOOLEAN_FLAG_TYPE"
	thresholdType = "THRESHOLD_ROLLOUT_TYPE"
	segmentType   = "SEGMENT_ROLLOUT_TYPE"
)

// Config says where the flag lives.
type Config struct {
	BaseURL    string // e.g. https://flipt.example.com
	Token      string // client token, sent as a Bearer token
	Namespace  string // default "default"
	HTTPClient *http.Client
}

// Provider is the Flipt flags.Provider.
type Provider struct {
	base  *url.URL
	token string
	ns    string
	hc    *http.Client
}

var _ flags.Provider = (*Provider)(nil)

// New checks cfg and returns a provider; it makes no request.
func New(cfg Config) (*Provider, error) {
	u, err := apiclient.ParseBase("flipt", cfg.BaseURL, "https://flipt.example.com")
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("flipt: an API token is required (a client token with write access)")
	}
	p := &Provider{base: u, token: cfg.Token, ns: cfg.Namespace, hc: cfg.HTTPClient}
	if p.ns == "" {
		p.ns = "default"
	}
	if p.hc == nil {
		p.hc = &http.Client{Timeout: 30 * time.Second}
	}
	return p, nil
}

// Name implements flags.Provider.
func (p *Provider) Name() string { return "flipt" }

type flag struct {
	Key            string          `json:"key"`
	Name           string          `json:"name"`
	Description    string          `json:"description"`
	Enabled        bool            `json:"enabled"`
	Type           string          `json:"type"`
	Variants       []variant       `json:"variants"`
	DefaultVariant *variant        `json:"defaultVariant"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
}

type variant struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	Attachment string `json:"attachment"`
}

// RolloutSpec is one rollout of a boolean flag, as the Targeting JSON lists
// them (in rank order): a threshold (percentage) or a segment match.
type RolloutSpec struct {
	Description string     `json:"description,omitempty"`
	Threshold   *Threshold `json:"threshold,omitempty"`
	Segment     *Segment   `json:"segment,omitempty"`
}

// Threshold serves Value to Percentage% of entities.
type Threshold struct {
	Percentage float64 `json:"percentage"`
	Value      bool    `json:"value"`
}

// Segment serves Value to entities matching the segments.
type Segment struct {
	SegmentKey      string   `json:"segmentKey,omitempty"`
	SegmentKeys     []string `json:"segmentKeys,omitempty"`
	SegmentOperator string   `json:"segmentOperator,omitempty"`
	Value           bool     `json:"value"`
}

type rollout struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Rank int    `json:"rank"`
	RolloutSpec
}

func (p *Provider) flagPath(key string) string {
	return "/api/v1/namespaces/" + url.PathEscape(p.ns) + "/flags/" + url.PathEscape(key)
}

func (p *Provider) notFound(key string) string {
	return fmt.Sprintf("flag %q not found in Flipt namespace %q: check the flag key and the namespace input", key, p.ns)
}

func (p *Provider) read(ctx context.Context, key string) (flag, []rollout, error) {
	if key == "" {
		return flag{}, nil, errors.New("flipt: flag key is empty")
	}
	var f flag
	if err := p.do(ctx, http.MethodGet, p.flagPath(key), nil, &f, p.notFound(key)); err != nil {
		return flag{}, nil, err
	}
	if f.Type != booleanType {
		return f, nil, nil
	}
	var rs []rollout
	token := ""
	for {
		var page struct {
			Rules         []rollout `json:"rules"`
			NextPageToken string    `json:"nextPageToken"`
		}
		path := p.flagPath(key) + "/rollouts?limit=100"
		if token != "" {
			path += "&pageToken=" + url.QueryEscape(token)
		}
		if err := p.do(ctx, http.MethodGet, path, nil, &page, p.notFound(key)); err != nil {
			return flag{}, nil, err
		}
		rs = append(rs, page.Rules...)
		if page.NextPageToken == "" || len(page.Rules) == 0 {
			break
		}
		token = page.NextPageToken
	}
	return f, rs, nil
}

// Get implements flags.Provider.
func (p *Provider) Get(ctx context.Context, key string) (flags.State, error) {
	f, rs, err := p.read(ctx, key)
	if err != nil {
		return flags.State{}, err
	}
	return model(f, specsOf(rs)), nil
}

func specsOf(rs []rollout) []RolloutSpec {
	out := make([]RolloutSpec, len(rs))
	for i, r := range rs {
		out[i] = r.RolloutSpec
	}
	return out
}

// model maps a flag onto the neutral state. For boolean flags Rollout is the
// first threshold rollout and Targeting the rollout list; Enabled is the
// value served when no rollout matches.
func model(f flag, rs []RolloutSpec) flags.State {
	s := flags.State{Key: f.Key, Enabled: f.Enabled, Rollout: -1}
	if len(f.Variants) > 0 {
		s.Variants = map[string]any{}
		for _, v := range f.Variants {
			var a any
			if v.Attachment != "" && json.Unmarshal([]byte(v.Attachment), &a) != nil {
				a = v.Attachment
			}
			s.Variants[v.Key] = a
		}
	}
	if f.DefaultVariant != nil {
		s.DefaultVariant = f.DefaultVariant.Key
	}
	if i := thresholdIndex(rs); i >= 0 {
		s.Rollout = int(math.Round(rs[i].Threshold.Percentage))
		s.RolloutVariant = fmt.Sprint(rs[i].Threshold.Value)
	}
	if len(rs) > 0 {
		b, _ := json.Marshal(rs) // plain structs: cannot fail
		s.Targeting = b
	}
	return s
}

func thresholdIndex(rs []RolloutSpec) int {
	for i, r := range rs {
		if r.Threshold != nil {
			return i
		}
	}
	return -1
}

// Set implements flags.Provider.
func (p *Provider) Set(ctx context.Context, key string, c flags.Change, dryRun bool) (flags.Outcome, error) {
	f, cur, err := p.read(ctx, key)
	if err != nil {
		return flags.Outcome{}, err
	}
	boolean := f.Type == booleanType
	want := f
	wantRs := specsOf(cur)

	if c.Enabled != nil {
		want.Enabled = *c.Enabled
	}
	if c.DefaultVariant != nil {
		if boolean {
			return flags.Outcome{}, fmt.Errorf("flipt: %q is a boolean flag and has no default variant; set enabled (its default value) instead", key)
		}
		v, err := findVariant(f, *c.DefaultVariant)
		if err != nil {
			return flags.Outcome{}, err
		}
		want.DefaultVariant = &v
	}
	if (c.Targeting != nil || c.Rollout != nil) && !boolean {
		return flags.Outcome{}, fmt.Errorf("flipt: %q is a variant flag; this action sets rollouts and targeting on boolean flags only (edit its rules and distributions in Flipt)", key)
	}
	if c.Targeting != nil {
		wantRs, err = parseRollouts(c.Targeting)
		if err != nil {
			return flags.Outcome{}, err
		}
	}
	if c.Rollout != nil {
		wantRs, err = withRollout(wantRs, *c.Rollout)
		if err != nil {
			return flags.Outcome{}, err
		}
	}

	out := flags.Outcome{Before: model(f, specsOf(cur)), After: model(want, wantRs)}
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	if err != nil || !out.Changed || dryRun {
		return out, err
	}

	if err := p.apply(ctx, key, f, cur, want, wantRs); err != nil {
		// Flipt takes a change as several calls; one failing half-way would
		// leave a state nobody asked for, so the old one is put back.
		if rerr := p.restore(ctx, key, f, specsOf(cur)); rerr != nil {
			return out, fmt.Errorf("%w; putting the previous state back failed too (%v): check flag %q in namespace %q by hand", err, rerr, key, p.ns)
		}
		return out, fmt.Errorf("%w (nothing changed: the previous state was put back)", err)
	}
	f, after, err := p.read(ctx, key)
	if err != nil {
		return out, fmt.Errorf("flipt: change applied but reading it back failed: %w", err)
	}
	out.After = model(f, specsOf(after))
	out.Changed, out.Diff, err = diffStates(out.Before, out.After)
	return out, err
}

// apply moves the flag from (f, cur) to (want, wantRs): rollouts before
// the default value, so turning a flag on never serves everyone before its
// new rollout exists.
func (p *Provider) apply(ctx context.Context, key string, f flag, cur []rollout, want flag, wantRs []RolloutSpec) error {
	if f.Type == booleanType {
		if err := p.reconcile(ctx, key, cur, wantRs); err != nil {
			return err
		}
	}
	if want.Enabled != f.Enabled || !reflect.DeepEqual(want.DefaultVariant, f.DefaultVariant) {
		body := map[string]any{"key": f.Key, "name": f.Name, "description": f.Description, "enabled": want.Enabled}
		if want.DefaultVariant != nil {
			body["defaultVariantId"] = want.DefaultVariant.ID
		}
		if len(f.Metadata) > 0 && string(f.Metadata) != "null" {
			body["metadata"] = f.Metadata
		}
		if err := p.do(ctx, http.MethodPut, p.flagPath(key), body, nil, p.notFound(key)); err != nil {
			return err
		}
	}
	return nil
}

// restore brings the flag back to (old, oldRs) from wherever a failed
// apply left it.
func (p *Provider) restore(ctx context.Context, key string, old flag, oldRs []RolloutSpec) error {
	now, nowRs, err := p.read(ctx, key)
	if err != nil {
		return err
	}
	return p.apply(ctx, key, now, nowRs, old, oldRs)
}

func findVariant(f flag, key string) (variant, error) {
	var keys []string
	for _, v := range f.Variants {
		if v.Key == key {
			return v, nil
		}
		keys = append(keys, v.Key)
	}
	return variant{}, fmt.Errorf("flipt: flag %q has no variant %q (it has %s)", f.Key, key, strings.Join(keys, ", "))
}

func parseRollouts(raw json.RawMessage) ([]RolloutSpec, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var rs []RolloutSpec
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf(`flipt: targeting must be a JSON array of rollouts like {"threshold": {"percentage": 50, "value": true}} or {"segment": {"segmentKey": "beta", "value": true}}: %w`, err)
	}
	for i, r := range rs {
		if (r.Threshold == nil) == (r.Segment == nil) {
			return nil, fmt.Errorf("flipt: targeting rollout %d needs exactly one of threshold and segment", i+1)
		}
		if r.Threshold != nil && (r.Threshold.Percentage < 0 || r.Threshold.Percentage > 100) {
			return nil, fmt.Errorf("flipt: targeting rollout %d: percentage %v is outside 0-100", i+1, r.Threshold.Percentage)
		}
		if r.Segment != nil && r.Segment.SegmentKey == "" && len(r.Segment.SegmentKeys) == 0 {
			return nil, fmt.Errorf("flipt: targeting rollout %d: segment needs segmentKey or segmentKeys", i+1)
		}
	}
	if rs == nil {
		rs = []RolloutSpec{}
	}
	return rs, nil
}

// withRollout sets the first threshold rollout, appending one when there is
// none. The variant is the value served: true unless "false"/"off".
func withRollout(rs []RolloutSpec, r flags.Rollout) ([]RolloutSpec, error) {
	if r.Percent < 0 || r.Percent > 100 {
		return nil, fmt.Errorf("flipt: rollout percent %d is outside 0-100", r.Percent)
	}
	value := true
	switch strings.ToLower(r.Variant) {
	case "", "true", "on", "enabled":
	case "false", "off", "disabled":
		value = false
	default:
		return nil, fmt.Errorf("flipt: boolean flags roll out true or false, not %q", r.Variant)
	}
	out := append([]RolloutSpec(nil), rs...)
	i := thresholdIndex(out)
	if i < 0 {
		out = append(out, RolloutSpec{})
		i = len(out) - 1
	}
	out[i].Threshold = &Threshold{Percentage: float64(r.Percent), Value: value}
	return out, nil
}

// reconcile makes the flag's rollouts equal want: updated in place when the
// kinds line up position by position (Flipt cannot change a rollout's kind),
// else rebuilt.
func (p *Provider) reconcile(ctx context.Context, key string, cur []rollout, want []RolloutSpec) error {
	base := p.flagPath(key) + "/rollouts"
	kindsMatch := true
	maxRank := 0
	for i, r := range cur {
		maxRank = max(maxRank, r.Rank)
		if i < len(want) && (r.Threshold != nil) != (want[i].Threshold != nil) {
			kindsMatch = false
		}
	}
	if !kindsMatch {
		for _, r := range cur {
			if err := p.do(ctx, http.MethodDelete, base+"/"+url.PathEscape(r.ID), nil, nil, ""); err != nil {
				return fmt.Errorf("removing rollout %d: %w", r.Rank, err)
			}
		}
		cur, maxRank = nil, 0
	}
	for i, w := range want {
		if i < len(cur) {
			if reflect.DeepEqual(cur[i].RolloutSpec, w) {
				continue
			}
			if err := p.do(ctx, http.MethodPut, base+"/"+url.PathEscape(cur[i].ID), w, nil, ""); err != nil {
				return fmt.Errorf("updating rollout %d: %w", i+1, err)
			}
			continue
		}
		maxRank++
		body := struct {
			Rank int `json:"rank"`
			RolloutSpec
		}{maxRank, w}
		if err := p.do(ctx, http.MethodPost, base, body, nil, ""); err != nil {
			return fmt.Errorf("adding rollout %d: %w", i+1, err)
		}
	}
	for i := len(want); i < len(cur); i++ {
		if err := p.do(ctx, http.MethodDelete, base+"/"+url.PathEscape(cur[i].ID), nil, nil, ""); err != nil {
			return fmt.Errorf("removing rollout %d: %w", i+1, err)
		}
	}
	return nil
}

func diffStates(before, after flags.State) (bool, string, error) {
	b, err := json.MarshalIndent(before, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("flipt: encoding flag state: %w", err)
	}
	a, err := json.MarshalIndent(after, "", "  ")
	if err != nil {
		return false, "", fmt.Errorf("flipt: encoding flag state: %w", err)
	}
	d := textdiff.Unified(before.Key+" (before)", after.Key+" (after)", append(b, '\n'), append(a, '\n'))
	return d != "", d, nil
}

// Validate checks the token and that the namespace exists.
func (p *Provider) Validate(ctx context.Context) error {
	notFound := fmt.Sprintf("Flipt namespace %q not found: check the namespace input", p.ns)
	return p.do(ctx, http.MethodGet, "/api/v1/namespaces/"+url.PathEscape(p.ns), nil, nil, notFound)
}

// do sends one request. The token goes only into the Authorization header
// and is scrubbed from response text quoted in errors.
func (p *Provider) do(ctx context.Context, method, path string, body, out any, notFound string) error {
	c := apiclient.New("flipt", p.base, p.hc)
	c.Secret = p.token
	c.Message = fliptMessage
	c.Header = func(h http.Header) { h.Set("Authorization", "Bearer "+p.token) }
	err := c.Do(ctx, method, path, body, out)
	var se *apiclient.StatusError
	if !errors.As(err, &se) {
		return err
	}
	msg := se.Message
	switch {
	case se.Status == http.StatusUnauthorized:
		return fmt.Errorf("flipt: %s %s: 401 unauthenticated: the token was rejected; check the token input", method, path)
	case se.Status == http.StatusForbidden:
		return fmt.Errorf("flipt: %s %s: 403 forbidden (%s): the token may not change flags in namespace %q", method, path, msg, p.ns)
	case se.Status == http.StatusNotFound && notFound != "":
		return fmt.Errorf("flipt: %s (404 from %s %s)", notFound, method, path)
	case se.Status >= 500:
		return fmt.Errorf("flipt: %s %s: server error %d (%s); retry later", method, path, se.Status, msg)
	}
	return se
}

// fliptMessage is Flipt's "message" field; its "code" is numeric and says nothing more.
func fliptMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(data))
}
