package launchdarkly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flagtest"
)

// fakeLD is a strict, stateful stand-in for the documented endpoints: GET
// and semantic-patch PATCH of /api/v2/flags/{project}/{flag} and GET of
// /api/v2/projects/{project}/environments/{env}. Anything it does not
// expect is a 400 naming the problem, and the test fails on it.
type fakeLD struct {
	t       *testing.T
	project string
	mu      sync.Mutex
	flags   map[string]*flag
	patches int
	calls   []string
	*httptest.Server
}

func newFakeLD(t *testing.T, fs ...flag) *fakeLD {
	f := &fakeLD{t: t, project: "web", flags: map[string]*flag{}}
	for i := range fs {
		f.flags[fs[i].Key] = &fs[i]
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func boolFlag(key string, on bool) flag {
	zero, one := 0, 1
	return flag{
		Key:  key,
		Kind: "boolean",
		Variations: []variation{
			{ID: "v-true", Value: true}, {ID: "v-false", Value: false},
		},
		Environments: map[string]env{
			"production": {On: on, OffVariation: &one, Fallthrough: defaultRule{Variation: &zero}},
			"test":       {On: false, OffVariation: &one, Fallthrough: defaultRule{Variation: &zero}},
		},
	}
}

func colorFlag(key string) flag {
	zero, two := 0, 2
	return flag{
		Key:  key,
		Kind: "multivariate",
		Variations: []variation{
			{ID: "v-red", Value: "red", Name: "Red"}, {ID: "v-blue", Value: "blue"}, {ID: "v-none", Value: map[string]any{"c": nil}},
		},
		Environments: map[string]env{
			"production": {On: true, OffVariation: &two, Fallthrough: defaultRule{Variation: &zero}},
		},
	}
}

func (f *fakeLD) fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if status == http.StatusBadRequest {
		f.t.Errorf("fake LaunchDarkly rejected a request: %s", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (f *fakeLD) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != flagtest.Token {
		f.fail(w, http.StatusUnauthorized, "unauthorized", "Invalid account identifier")
		return
	}
	if r.Header.Get("LD-API-Version") == "" {
		f.fail(w, http.StatusBadRequest, "invalid_request", "missing LD-API-Version")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v2/"), "/")
	switch {
	case len(parts) == 4 && parts[0] == "projects" && parts[2] == "environments" && r.Method == http.MethodGet:
		if parts[1] != f.project || (parts[3] != "production" && parts[3] != "test") {
			f.fail(w, http.StatusNotFound, "not_found", "Unknown resource")
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"key": parts[3]})
	case len(parts) == 3 && parts[0] == "flags":
		fl := f.flags[parts[2]]
		if parts[1] != f.project || fl == nil {
			f.fail(w, http.StatusNotFound, "not_found", "Unknown resource")
			return
		}
		switch r.Method {
		case http.MethodGet:
			out := *fl
			if e := r.URL.Query().Get("env"); e != "" {
				out.Environments = map[string]env{}
				if v, ok := fl.Environments[e]; ok {
					out.Environments[e] = v
				}
			}
			_ = json.NewEncoder(w).Encode(out)
		case http.MethodPatch:
			f.patch(w, r, fl)
		default:
			f.fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "%s", r.Method)
		}
	default:
		f.fail(w, http.StatusNotFound, "not_found", "Unknown path %s", r.URL.Path)
	}
}

func (f *fakeLD) patch(w http.ResponseWriter, r *http.Request, fl *flag) {
	if ct := r.Header.Get("Content-Type"); ct != semanticPatch {
		f.fail(w, http.StatusBadRequest, "invalid_request", "content type %q is not a semantic patch", ct)
		return
	}
	var body struct {
		EnvironmentKey string            `json:"environmentKey"`
		Comment        string            `json:"comment"`
		Instructions   []json.RawMessage `json:"instructions"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		f.fail(w, http.StatusBadRequest, "invalid_request", "body: %v", err)
		return
	}
	e, ok := fl.Environments[body.EnvironmentKey]
	if !ok {
		f.fail(w, http.StatusBadRequest, "invalid_request", "unknown environmentKey %q", body.EnvironmentKey)
		return
	}
	if len(body.Instructions) == 0 {
		f.fail(w, http.StatusBadRequest, "invalid_request", "no instructions")
		return
	}
	index := map[string]int{}
	for i, v := range fl.Variations {
		index[v.ID] = i
	}
	checkWeights := func(ws map[string]int) bool {
		sum := 0
		for id, wt := range ws {
			if _, ok := index[id]; !ok || wt < 0 {
				return false
			}
			sum += wt
		}
		return sum == 100000
	}
	for _, raw := range body.Instructions {
		var kind struct {
			Kind string `json:"kind"`
		}
		_ = json.Unmarshal(raw, &kind)
		strict := func(v any) bool {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.DisallowUnknownFields()
			return d.Decode(v) == nil
		}
		switch kind.Kind {
		case "turnFlagOn", "turnFlagOff":
			var in struct {
				Kind string `json:"kind"`
			}
			if !strict(&in) {
				f.fail(w, http.StatusBadRequest, "invalid_request", "%s takes no parameters: %s", kind.Kind, raw)
				return
			}
			e.On = kind.Kind == "turnFlagOn"
		case "updateFallthroughVariationOrRollout":
			var in struct {
				Kind               string         `json:"kind"`
				VariationID        string         `json:"variationId"`
				RolloutWeights     map[string]int `json:"rolloutWeights"`
				RolloutBucketBy    string         `json:"rolloutBucketBy"`
				RolloutContextKind string         `json:"rolloutContextKind"`
			}
			if !strict(&in) || (in.VariationID == "") == (in.RolloutWeights == nil) {
				f.fail(w, http.StatusBadRequest, "invalid_request", "bad %s: %s", kind.Kind, raw)
				return
			}
			if in.VariationID != "" {
				i, ok := index[in.VariationID]
				if !ok {
					f.fail(w, http.StatusBadRequest, "invalid_request", "unknown variation %q", in.VariationID)
					return
				}
				e.Fallthrough = defaultRule{Variation: &i}
			} else {
				if !checkWeights(in.RolloutWeights) {
					f.fail(w, http.StatusBadRequest, "invalid_request", "rolloutWeights must name variations and sum to 100000: %v", in.RolloutWeights)
					return
				}
				ro := weightsToRollout(index, in.RolloutWeights)
				ro.BucketBy, ro.ContextKind = in.RolloutBucketBy, in.RolloutContextKind
				e.Fallthrough = defaultRule{Rollout: ro}
			}
		case "replaceRules":
			var in struct {
				Kind  string     `json:"kind"`
				Rules []RuleSpec `json:"rules"`
			}
			if !strict(&in) || in.Rules == nil {
				f.fail(w, http.StatusBadRequest, "invalid_request", "bad replaceRules: %s", raw)
				return
			}
			for _, rs := range in.Rules {
				if _, ok := index[rs.VariationID]; rs.VariationID != "" && !ok || rs.RolloutWeights != nil && !checkWeights(rs.RolloutWeights) {
					f.fail(w, http.StatusBadRequest, "invalid_request", "bad rule %+v", rs)
					return
				}
			}
			rules := rulesFromSpecs(*fl, in.Rules)
			for i := range rules {
				rules[i].ID = fmt.Sprintf("rule-%d-%d", f.patches, i)
			}
			e.Rules = rules
		default:
			f.fail(w, http.StatusBadRequest, "invalid_request", "unknown instruction kind %q", kind.Kind)
			return
		}
	}
	fl.Environments[body.EnvironmentKey] = e
	f.patches++
	_ = json.NewEncoder(w).Encode(fl)
}

func (f *fakeLD) mutations() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patches
}

func (f *fakeLD) env(key, e string) env {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flags[key].Environments[e]
}
