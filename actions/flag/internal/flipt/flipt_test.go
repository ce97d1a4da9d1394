package flipt

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/flagtest"
)

func newProvider(t *testing.T, base string) *Provider {
	t.Helper()
	p, err := New(Config{BaseURL: base, Token: flagtest.Token})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func boolFlag(key string) flag {
	return flag{Key: key, Name: "Checkout", Description: "new checkout", Type: booleanType, Metadata: json.RawMessage(`{"team":"shop"}`)}
}

func TestBooleanRollout(t *testing.T) {
	fake := newFakeFlipt(t, boolFlag("checkout"))
	p := newProvider(t, fake.URL)
	ctx := context.Background()

	if err := p.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	st, err := p.Get(ctx, "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if st.Enabled || st.Rollout != -1 || st.Targeting != nil {
		t.Fatalf("Get: %+v", st)
	}

	change := flags.Change{Rollout: &flags.Rollout{Percent: 20}}
	dry, err := p.Set(ctx, "checkout", change, true)
	if err != nil {
		t.Fatal(err)
	}
	if fake.count() != 0 {
		t.Fatal("dry run changed the server")
	}
	if !dry.Changed || dry.After.Rollout != 20 || dry.After.RolloutVariant != "true" || !strings.Contains(dry.Diff, `+  "rollout": 20,`) {
		t.Fatalf("dry run: %+v\n%s", dry.After, dry.Diff)
	}

	out, err := p.Set(ctx, "checkout", change, false)
	if err != nil {
		t.Fatal(err)
	}
	_, rs := fake.flag("checkout")
	if len(rs) != 1 || rs[0].Type != thresholdType || rs[0].Threshold.Percentage != 20 || !rs[0].Threshold.Value {
		t.Fatalf("server rollouts: %+v", rs)
	}
	got, _ := p.Get(ctx, "checkout")
	if !jsonEqual(got, out.After) || !jsonEqual(got, dry.After) {
		t.Fatalf("read back %+v, After %+v, dry run %+v", got, out.After, dry.After)
	}

	// Updating the percentage edits the same rollout in place.
	if _, err := p.Set(ctx, "checkout", flags.Change{Rollout: &flags.Rollout{Variant: "true", Percent: 60}}, false); err != nil {
		t.Fatal(err)
	}
	_, rs2 := fake.flag("checkout")
	if len(rs2) != 1 || rs2[0].ID != rs[0].ID || rs2[0].Threshold.Percentage != 60 {
		t.Fatalf("server rollouts after update: %+v", rs2)
	}

	n := fake.count()
	same, err := p.Set(ctx, "checkout", flags.Change{Rollout: &flags.Rollout{Percent: 60}}, false)
	if err != nil || same.Changed || same.Diff != "" || fake.count() != n {
		t.Fatalf("unchanged Set: changed=%v err=%v mutations %d -> %d", same.Changed, err, n, fake.count())
	}

	on := true
	if _, err := p.Set(ctx, "checkout", flags.Change{Enabled: &on}, false); err != nil {
		t.Fatal(err)
	}
	fl, _ := fake.flag("checkout")
	if !fl.Enabled || fl.Name != "Checkout" || fl.Description != "new checkout" || string(fl.Metadata) != `{"team":"shop"}` {
		t.Fatalf("flag after enabling (name, description, metadata must survive the PUT): %+v", fl)
	}

	_, err = p.Set(ctx, "checkout", flags.Change{Rollout: &flags.Rollout{Variant: "blue", Percent: 5}}, false)
	flagtest.CheckError(t, err, "true or false", "blue")
	dv := "x"
	_, err = p.Set(ctx, "checkout", flags.Change{DefaultVariant: &dv}, false)
	flagtest.CheckError(t, err, "boolean flag", "no default variant")
}

func TestTargeting(t *testing.T) {
	fake := newFakeFlipt(t, boolFlag("checkout"))
	p := newProvider(t, fake.URL)
	ctx := context.Background()
	if _, err := p.Set(ctx, "checkout", flags.Change{Rollout: &flags.Rollout{Percent: 10}}, false); err != nil {
		t.Fatal(err)
	}

	// Segment first, then a threshold: the kinds no longer line up by
	// position, so the list is rebuilt.
	list := json.RawMessage(`[{"description": "beta users", "segment": {"segmentKey": "beta", "value": true}},
		{"threshold": {"percentage": 25, "value": true}}]`)
	out, err := p.Set(ctx, "checkout", flags.Change{Targeting: list}, false)
	if err != nil {
		t.Fatal(err)
	}
	_, rs := fake.flag("checkout")
	if len(rs) != 2 || rs[0].Segment == nil || rs[0].Segment.SegmentKey != "beta" || rs[1].Threshold == nil || rs[1].Threshold.Percentage != 25 {
		t.Fatalf("server rollouts: %+v", rs)
	}
	if out.After.Rollout != 25 {
		t.Fatalf("After rollout %d, want 25 from the threshold rollout", out.After.Rollout)
	}
	n := fake.count()
	if again, err := p.Set(ctx, "checkout", flags.Change{Targeting: list}, false); err != nil || again.Changed || fake.count() != n {
		t.Fatalf("same targeting again: changed=%v err=%v", again.Changed, err)
	}
	if _, err := p.Set(ctx, "checkout", flags.Change{Targeting: json.RawMessage(`[]`)}, false); err != nil {
		t.Fatal(err)
	}
	if _, rs := fake.flag("checkout"); len(rs) != 0 {
		t.Fatalf("rollouts left after empty targeting: %+v", rs)
	}

	for _, bad := range []struct{ json, want string }{
		{`{"threshold": {}}`, "JSON array of rollouts"},
		{`[{"threshold": {"percentage": 10, "value": true}, "rank": 1}]`, "unknown field"},
		{`[{}]`, "exactly one of threshold and segment"},
		{`[{"threshold": {"percentage": 120, "value": true}}]`, "outside 0-100"},
		{`[{"segment": {"value": true}}]`, "segmentKey"},
	} {
		_, err := p.Set(ctx, "checkout", flags.Change{Targeting: json.RawMessage(bad.json)}, false)
		flagtest.CheckError(t, err, bad.want)
	}
}

func TestVariantFlag(t *testing.T) {
	fake := newFakeFlipt(t, flag{Key: "theme", Name: "Theme", Type: "VARIANT_FLAG_TYPE", Enabled: true, Variants: []variant{
		{ID: "v1", Key: "red", Attachment: `{"hex":"#f00"}`}, {ID: "v2", Key: "blue"},
	}})
	p := newProvider(t, fake.URL)
	ctx := context.Background()
	st, err := p.Get(ctx, "theme")
	if err != nil {
		t.Fatal(err)
	}
	if red, ok := st.Variants["red"].(map[string]any); !ok || red["hex"] != "#f00" || st.DefaultVariant != "" {
		t.Fatalf("Get: %+v", st)
	}
	blue := "blue"
	out, err := p.Set(ctx, "theme", flags.Change{DefaultVariant: &blue}, false)
	if err != nil {
		t.Fatal(err)
	}
	if fl, _ := fake.flag("theme"); fl.DefaultVariant == nil || fl.DefaultVariant.ID != "v2" || !fl.Enabled {
		t.Fatalf("server flag: %+v", fl)
	}
	if out.After.DefaultVariant != "blue" || !strings.Contains(out.Diff, `+  "default-variant": "blue",`) {
		t.Fatalf("After %+v diff:\n%s", out.After, out.Diff)
	}
	green := "green"
	_, err = p.Set(ctx, "theme", flags.Change{DefaultVariant: &green}, false)
	flagtest.CheckError(t, err, `no variant "green"`, "red, blue")
	_, err = p.Set(ctx, "theme", flags.Change{Rollout: &flags.Rollout{Variant: "blue", Percent: 5}}, false)
	flagtest.CheckError(t, err, "variant flag", "boolean flags only")
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	fake := newFakeFlipt(t, boolFlag("checkout"))
	_, err := newProvider(t, fake.URL).Get(ctx, "nope")
	flagtest.CheckError(t, err, "404", `flag "nope" not found`, `namespace "default"`, "check the flag key")
	other, _ := New(Config{BaseURL: fake.URL, Token: flagtest.Token, Namespace: "shop"})
	flagtest.CheckError(t, other.Validate(ctx), "404", `namespace "shop" not found`)
	bad, _ := New(Config{BaseURL: fake.URL, Token: "wrong"})
	_, err = bad.Get(ctx, "checkout")
	flagtest.CheckError(t, err, "401", "token was rejected")

	for _, tt := range []struct {
		status int
		want   []string
	}{
		{http.StatusForbidden, []string{"403"}},
		{http.StatusInternalServerError, []string{"500", "retry later"}},
		{http.StatusBadRequest, []string{"400", "[token]"}},
	} {
		srv := flagtest.NewStatusServer(t, tt.status, `{"code":2,"message":"echo `+flagtest.Token+`"}`)
		on := true
		_, err := newProvider(t, srv.URL).Set(ctx, "checkout", flags.Change{Enabled: &on}, false)
		flagtest.CheckError(t, err, tt.want...)
		if m := flagtest.MutatingCalls(srv.Calls()); len(m) > 0 {
			t.Errorf("status %d: mutated after a failed read: %v", tt.status, m)
		}
	}
	for _, cfg := range []Config{{Token: flagtest.Token}, {BaseURL: "https://flipt.example.com"}} {
		_, err := New(cfg)
		flagtest.CheckError(t, err, "flipt")
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestFailedChangeIsUndone: turning a flag on at 20% is two writes (the
// rollout, then the flag); when the second fails the rollout is removed
// again, and when that fails too the error says what to check.
func TestFailedChangeIsUndone(t *testing.T) {
	fake := newFakeFlipt(t, boolFlag("checkout"))
	p := newProvider(t, fake.URL)
	ctx := context.Background()
	on := true
	change := flags.Change{Enabled: &on, Rollout: &flags.Rollout{Percent: 20}}

	fake.setFailWrite(func(method, path string) bool {
		return method == http.MethodPut && strings.HasSuffix(path, "/flags/checkout")
	})
	_, err := p.Set(ctx, "checkout", change, false)
	flagtest.CheckError(t, err, "503", "injected failure", "previous state was put back")
	if fl, rs := fake.flag("checkout"); fl.Enabled || len(rs) != 0 {
		t.Fatalf("after the failed change: enabled %v, rollouts %+v; want the flag as it was", fl.Enabled, rs)
	}

	fake.setFailWrite(func(method, path string) bool { return method != http.MethodPost })
	_, err = p.Set(ctx, "checkout", change, false)
	flagtest.CheckError(t, err, "putting the previous state back failed too", `check flag "checkout" in namespace "default"`)
	if _, rs := fake.flag("checkout"); len(rs) != 1 {
		t.Fatalf("the half-applied rollout the error reports is not there: %+v", rs)
	}

	fake.setFailWrite(nil)
	out, err := p.Set(ctx, "checkout", change, false)
	if err != nil || !out.After.Enabled || out.After.Rollout != 20 {
		t.Fatalf("the change once Flipt answers again: %+v, %v", out.After, err)
	}
}
