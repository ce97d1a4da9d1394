package launchdarkly

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/flagtest"
)

func newProvider(t *testing.T, base, envKey string) *Provider {
	t.Helper()
	p, err := New(Config{BaseURL: base, Token: flagtest.Token, Project: "web", Environment: envKey})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBooleanFlag(t *testing.T) {
	fake := newFakeLD(t, boolFlag("checkout", false))
	p := newProvider(t, fake.URL, "production")
	ctx := context.Background()

	if err := p.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	st, err := p.Get(ctx, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.DefaultVariant != "true" || st.Rollout != -1 || st.Variants["false"] != false {
		t.Fatalf("Get: %+v", st)
	}

	// Dry run: predicted After, no PATCH.
	on := true
	dry, err := p.Set(ctx, "checkout", flags.Change{Enabled: &on, Rollout: &flags.Rollout{Percent: 20}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if fake.mutations() != 0 {
		t.Fatal("dry run sent a PATCH")
	}
	if !dry.Changed || !dry.After.Enabled || dry.After.Rollout != 20 || dry.After.RolloutVariant != "true" || dry.After.DefaultVariant != "false" {
		t.Fatalf("dry run After: %+v", dry.After)
	}
	if !strings.Contains(dry.Diff, `-  "enabled": false,`) || !strings.Contains(dry.Diff, `+  "rollout": 20,`) {
		t.Fatalf("dry run diff:\n%s", dry.Diff)
	}

	out, err := p.Set(ctx, "checkout", flags.Change{Enabled: &on, Rollout: &flags.Rollout{Percent: 20}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if fake.mutations() != 1 {
		t.Fatalf("%d PATCHes, want one semantic patch for the whole change", fake.mutations())
	}
	e := fake.env("checkout", "production")
	if !e.On || e.Fallthrough.Rollout == nil {
		t.Fatalf("server state: %+v", e)
	}
	weights := map[int]int{}
	for _, w := range e.Fallthrough.Rollout.Variations {
		weights[w.Variation] = w.Weight
	}
	if weights[0] != 20000 || weights[1] != 80000 {
		t.Fatalf("server rollout weights %v, want true 20000 false 80000", weights)
	}
	if other := fake.env("checkout", "test"); other.On {
		t.Fatal("the test environment was changed too")
	}
	got, err := p.Get(ctx, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, out.After) || !jsonEqual(got, dry.After) {
		t.Fatalf("read back %+v, After %+v, dry run %+v", got, out.After, dry.After)
	}

	// Same again: nothing to do, no PATCH.
	same, err := p.Set(ctx, "checkout", flags.Change{Enabled: &on, Rollout: &flags.Rollout{Variant: "true", Percent: 20}}, false)
	if err != nil || same.Changed || same.Diff != "" || fake.mutations() != 1 {
		t.Fatalf("unchanged Set: changed=%v err=%v patches=%d diff:\n%s", same.Changed, err, fake.mutations(), same.Diff)
	}

	off := false
	if _, err := p.Set(ctx, "checkout", flags.Change{Enabled: &off}, false); err != nil {
		t.Fatal(err)
	}
	if fake.env("checkout", "production").On {
		t.Fatal("turnFlagOff not applied")
	}
}

func TestMultivariateFlag(t *testing.T) {
	fake := newFakeLD(t, colorFlag("theme"))
	p := newProvider(t, fake.URL, "production")
	ctx := context.Background()

	st, err := p.Get(ctx, "theme")
	if err != nil {
		t.Fatal(err)
	}
	if st.DefaultVariant != "Red" || st.Variants["blue"] != "blue" || len(st.Variants) != 3 {
		t.Fatalf("Get: %+v", st)
	}

	// Blue to 30%; the rest stays on the current default, Red.
	if _, err := p.Set(ctx, "theme", flags.Change{Rollout: &flags.Rollout{Variant: "blue", Percent: 30}}, false); err != nil {
		t.Fatal(err)
	}
	got, _ := p.Get(ctx, "theme")
	if got.Rollout != 30 || got.RolloutVariant != "blue" || got.DefaultVariant != "Red" {
		t.Fatalf("after rollout: %+v", got)
	}

	// Changing only the default keeps the 30% rollout.
	def := "variation-2"
	if _, err := p.Set(ctx, "theme", flags.Change{DefaultVariant: &def}, false); err != nil {
		t.Fatal(err)
	}
	got, _ = p.Get(ctx, "theme")
	if got.Rollout != 30 || got.RolloutVariant != "blue" || got.DefaultVariant != "variation-2" {
		t.Fatalf("after default change: %+v", got)
	}

	// Without a rollout the default is a single variation.
	fake2 := newFakeLD(t, colorFlag("theme"))
	p2 := newProvider(t, fake2.URL, "production")
	blue := "blue"
	if _, err := p2.Set(ctx, "theme", flags.Change{DefaultVariant: &blue}, false); err != nil {
		t.Fatal(err)
	}
	if v := fake2.env("theme", "production").Fallthrough.Variation; v == nil || *v != 1 {
		t.Fatalf("fallthrough variation %v, want 1", v)
	}

	_, err = p.Set(ctx, "theme", flags.Change{Rollout: &flags.Rollout{Percent: 10}}, false)
	flagtest.CheckError(t, err, "multivariate", "name the variant")
	green := "green"
	_, err = p.Set(ctx, "theme", flags.Change{DefaultVariant: &green}, false)
	flagtest.CheckError(t, err, `no variation "green"`, "Red, blue")
}

func TestTargeting(t *testing.T) {
	fake := newFakeLD(t, boolFlag("checkout", true))
	p := newProvider(t, fake.URL, "production")
	ctx := context.Background()
	rules := json.RawMessage(`[
		{"description": "staff", "clauses": [{"attribute": "email", "op": "endsWith", "values": ["@example.com"], "negate": false}], "variationId": "v-true"},
		{"clauses": [{"contextKind": "org", "attribute": "plan", "op": "in", "values": ["free"], "negate": true}], "rolloutWeights": {"v-true": 5000, "v-false": 95000}}]`)
	out, err := p.Set(ctx, "checkout", flags.Change{Targeting: rules}, false)
	if err != nil {
		t.Fatal(err)
	}
	e := fake.env("checkout", "production")
	if len(e.Rules) != 2 || e.Rules[0].Clauses[0].ContextKind != "user" || e.Rules[1].Rollout == nil || e.Rules[1].Rollout.Variations[0].Weight != 5000 {
		t.Fatalf("server rules: %+v", e.Rules)
	}
	if !strings.Contains(out.Diff, `+  "targeting": [`) {
		t.Fatalf("diff does not show the new rules:\n%s", out.Diff)
	}
	again, err := p.Set(ctx, "checkout", flags.Change{Targeting: rules}, false)
	if err != nil || again.Changed || fake.mutations() != 1 {
		t.Fatalf("same rules again: changed=%v err=%v patches=%d", again.Changed, err, fake.mutations())
	}

	for _, bad := range []struct{ json, want string }{
		{`{"clauses": []}`, "JSON array of rules"},
		{`[{"clauses": [], "variation": 0}]`, "unknown field"},
		{`[{"clauses": []}]`, "exactly one of variationId and rolloutWeights"},
		{`[{"clauses": [], "variationId": "v-nope"}]`, `"v-nope" is not a variation`},
		{`[{"clauses": [], "rolloutWeights": {"v-true": 50, "v-false": 50}}]`, "sum to 100, want 100000"},
		{`[{"clauses": [{"attribute": "email"}], "variationId": "v-true"}]`, "needs attribute and op"},
	} {
		_, err := p.Set(ctx, "checkout", flags.Change{Targeting: json.RawMessage(bad.json)}, false)
		flagtest.CheckError(t, err, bad.want)
	}
	if fake.mutations() != 1 {
		t.Fatal("invalid targeting was sent")
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	fake := newFakeLD(t, boolFlag("checkout", true))

	_, err := newProvider(t, fake.URL, "production").Get(ctx, "nope")
	flagtest.CheckError(t, err, "404", `flag "nope" not found`, `project "web"`, "check the flag key")
	flagtest.CheckError(t, newProvider(t, fake.URL, "staging").Validate(ctx), "404", `environment "staging"`, "environment inputs")
	_, err = newProvider(t, fake.URL, "staging").Get(ctx, "checkout")
	flagtest.CheckError(t, err, `no environment "staging"`)

	bad, _ := New(Config{BaseURL: fake.URL, Token: "wrong", Project: "web", Environment: "production"})
	_, err = bad.Get(ctx, "checkout")
	flagtest.CheckError(t, err, "401", "token was rejected")

	for _, tt := range []struct {
		status int
		want   []string
	}{
		{http.StatusForbidden, []string{"403", "forbidden"}},
		{http.StatusConflict, []string{"409", "retry"}},
		{http.StatusTooManyRequests, []string{"429"}},
		{http.StatusBadGateway, []string{"502", "retry later"}},
		{http.StatusBadRequest, []string{"400", "[token]"}},
	} {
		srv := flagtest.NewStatusServer(t, tt.status, `{"code":"x","message":"echo `+flagtest.Token+`"}`)
		on := true
		_, err := newProvider(t, srv.URL, "production").Set(ctx, "checkout", flags.Change{Enabled: &on}, false)
		flagtest.CheckError(t, err, tt.want...)
		if m := flagtest.MutatingCalls(srv.Calls()); len(m) > 0 {
			t.Errorf("status %d: mutated after a failed read: %v", tt.status, m)
		}
	}

	for _, cfg := range []Config{
		{Token: flagtest.Token},
		{Environment: "production"},
		{BaseURL: "app.launchdarkly.com", Token: flagtest.Token, Environment: "production"},
	} {
		_, err := New(cfg)
		flagtest.CheckError(t, err, "launchdarkly")
	}
	p, err := New(Config{Token: flagtest.Token, Environment: "production"})
	if err != nil || p.base.String() != DefaultBaseURL || p.project != "default" {
		t.Fatalf("defaults: %v %+v", err, p)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
