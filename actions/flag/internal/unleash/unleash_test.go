package unleash

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/flagtest"
)

type rolloutSpec struct {
	variant string
	percent int
}

func flagsChange(enabled *bool, r *rolloutSpec, targeting json.RawMessage) flags.Change {
	c := flags.Change{Enabled: enabled, Targeting: targeting}
	if r != nil {
		c.Rollout = &flags.Rollout{Variant: r.variant, Percent: r.percent}
	}
	return c
}

func TestNewChecksConfig(t *testing.T) {
	for _, cfg := range []Config{
		{BaseURL: "", Token: flagtest.Token},
		{BaseURL: "unleash.example.com", Token: flagtest.Token},
		{BaseURL: "ftp://unleash.example.com", Token: flagtest.Token},
		{BaseURL: "https://unleash.example.com"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%q, token set: %v) accepted a bad config", cfg.BaseURL, cfg.Token != "")
		} else {
			flagtest.CheckError(t, err, "unleash")
		}
	}
	p, err := New(Config{BaseURL: "https://unleash.example.com/", Token: flagtest.Token})
	if err != nil {
		t.Fatal(err)
	}
	if p.project != "default" || p.env != "development" || p.Name() != "unleash" {
		t.Errorf("defaults: project %q env %q name %q", p.project, p.env, p.Name())
	}
}

func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   []string
	}{
		{http.StatusUnauthorized, `{"message":"You must log in to use Unleash."}`, []string{"401", "token was rejected"}},
		{http.StatusForbidden, `{"message":"You need permission UPDATE_FEATURE"}`, []string{"403", "UPDATE_FEATURE", `project "web"`}},
		{http.StatusNotFound, `{"message":"There's no feature named \"checkout\""}`, []string{"404", `feature "checkout" not found`, `project "web"`, "check the flag key"}},
		{http.StatusServiceUnavailable, `{"message":"db down"}`, []string{"503", "db down", "retry later"}},
		// A body that echoes the token must not carry it into the error.
		{http.StatusBadRequest, `{"message":"bad header ` + flagtest.Token + `"}`, []string{"400", "[token]"}},
	}
	for _, tt := range tests {
		srv := flagtest.NewStatusServer(t, tt.status, tt.body)
		p, err := New(Config{BaseURL: srv.URL, Token: flagtest.Token, Project: "web"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Get(context.Background(), "checkout")
		flagtest.CheckError(t, err, tt.want...)
		on := true
		_, err = p.Set(context.Background(), "checkout", flags.Change{Enabled: &on}, false)
		flagtest.CheckError(t, err, tt.want...)
		if m := flagtest.MutatingCalls(srv.Calls()); len(m) > 0 {
			t.Errorf("status %d: Set mutated after a failed read: %v", tt.status, m)
		}
	}
}

func TestValidateProjectNotFound(t *testing.T) {
	srv := flagtest.NewStatusServer(t, http.StatusNotFound, `{"message":"not available"}`)
	p, _ := New(Config{BaseURL: srv.URL, Token: flagtest.Token, Project: "shop"})
	flagtest.CheckError(t, p.Validate(context.Background()), `project "shop" not found`, "project input")
}

func TestSetRejectsBadChanges(t *testing.T) {
	srv := flagtest.NewStatusServer(t, http.StatusOK,
		`{"environments":[{"name":"development","enabled":false,"strategies":[]}],"variants":[]}`)
	p, _ := New(Config{BaseURL: srv.URL, Token: flagtest.Token})
	ctx := context.Background()
	dv := "blue"
	_, err := p.Set(ctx, "k", flags.Change{DefaultVariant: &dv}, false)
	flagtest.CheckError(t, err, "no default variant")
	_, err = p.Set(ctx, "k", flags.Change{Rollout: &flags.Rollout{Percent: 101}}, false)
	flagtest.CheckError(t, err, "101", "0-100")
	_, err = p.Set(ctx, "k", flags.Change{Targeting: json.RawMessage(`{"name":"default"}`)}, false)
	flagtest.CheckError(t, err, "JSON array of strategies")
	_, err = p.Set(ctx, "k", flags.Change{Targeting: json.RawMessage(`[{"parameters":{}}]`)}, false)
	flagtest.CheckError(t, err, "strategy 1 has no name")
	if m := flagtest.MutatingCalls(srv.Calls()); len(m) > 0 {
		t.Errorf("rejected changes made mutating calls: %v", m)
	}
}

// A server without the deprecated environment-variants endpoint still reads.
func TestMissingEnvironmentVariantsEndpoint(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != flagtest.Token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/variants") {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"environments":[{"name":"development","enabled":true,"strategies":[
			{"id":"s1","name":"flexibleRollout","parameters":{"rollout":"40","stickiness":"default","groupId":"k"},
			 "variants":[{"name":"blue","weight":1000,"payload":{"type":"json","value":"{\"hex\":\"#00f\"}"}}]}]}]}`))
	}))
	defer srv.Close()
	p, _ := New(Config{BaseURL: srv.URL, Token: flagtest.Token})
	st, err := p.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	blue, _ := st.Variants["blue"].(map[string]any)
	if !st.Enabled || st.Rollout != 40 || st.RolloutVariant != "blue" || blue["hex"] != "#00f" {
		t.Fatalf("Get: %+v", st)
	}
}
