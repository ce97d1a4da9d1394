package flipt

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flagtest"
)

// fakeFlipt is a strict, stateful stand-in for Flipt v1's flag and rollout
// endpoints. Requests it does not expect get a 400 naming the problem, and
// fail the test.
type fakeFlipt struct {
	t         *testing.T
	mu        sync.Mutex
	flags     map[string]*flag
	rollouts  map[string][]rollout // by flag key, rank order
	nextID    int
	mutations int
	// failWrite picks writes to answer 503 without doing them.
	failWrite func(method, path string) bool
	*httptest.Server
}

func newFakeFlipt(t *testing.T, fs ...flag) *fakeFlipt {
	f := &fakeFlipt{t: t, flags: map[string]*flag{}, rollouts: map[string][]rollout{}}
	for i := range fs {
		f.flags[fs[i].Key] = &fs[i]
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeFlipt) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if status == http.StatusBadRequest {
		f.t.Errorf("fake Flipt rejected a request: %s", msg)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": 3, "message": msg, "details": []any{}})
}

func decodeStrict(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("content type %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (f *fakeFlipt) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+flagtest.Token {
		f.fail(w, http.StatusUnauthorized, "request was not authenticated")
		return
	}
	if r.Method != http.MethodGet && f.failWrite != nil && f.failWrite(r.Method, r.URL.Path) {
		f.fail(w, http.StatusServiceUnavailable, "injected failure")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	if len(parts) < 2 || parts[0] != "namespaces" {
		f.fail(w, http.StatusNotFound, "unknown path")
		return
	}
	if parts[1] != "default" {
		f.fail(w, http.StatusNotFound, "namespace %q not found", parts[1])
		return
	}
	if len(parts) == 2 && r.Method == http.MethodGet {
		_ = json.NewEncoder(w).Encode(map[string]any{"key": "default", "name": "Default"})
		return
	}
	if len(parts) < 4 || parts[2] != "flags" {
		f.fail(w, http.StatusNotFound, "unknown path")
		return
	}
	fl := f.flags[parts[3]]
	if fl == nil {
		f.fail(w, http.StatusNotFound, "flag \"default/%s\" not found", parts[3])
		return
	}
	switch {
	case len(parts) == 4 && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(fl)
	case len(parts) == 4 && r.Method == http.MethodPut:
		var in struct {
			Key              string          `json:"key"`
			Name             string          `json:"name"`
			Description      string          `json:"description"`
			Enabled          bool            `json:"enabled"`
			DefaultVariantID string          `json:"defaultVariantId"`
			Metadata         json.RawMessage `json:"metadata"`
		}
		if err := decodeStrict(r, &in); err != nil || in.Name == "" || in.Key != fl.Key {
			f.fail(w, http.StatusBadRequest, "bad flag update (name is required): %v", err)
			return
		}
		fl.Name, fl.Description, fl.Enabled = in.Name, in.Description, in.Enabled
		fl.DefaultVariant = nil
		if in.DefaultVariantID != "" {
			for _, v := range fl.Variants {
				if v.ID == in.DefaultVariantID {
					v := v
					fl.DefaultVariant = &v
				}
			}
			if fl.DefaultVariant == nil {
				f.fail(w, http.StatusBadRequest, "variant %q not found", in.DefaultVariantID)
				return
			}
		}
		if in.Metadata != nil {
			fl.Metadata = in.Metadata
		}
		f.mutations++
		_ = json.NewEncoder(w).Encode(fl)
	case len(parts) >= 5 && parts[4] == "rollouts":
		if fl.Type != booleanType {
			f.fail(w, http.StatusBadRequest, "rollouts are for boolean flags")
			return
		}
		f.serveRollouts(w, r, fl.Key, parts[5:])
	default:
		f.fail(w, http.StatusNotFound, "unknown path %s %s", r.Method, r.URL.Path)
	}
}

func validSpec(s RolloutSpec) bool {
	if (s.Threshold == nil) == (s.Segment == nil) {
		return false
	}
	if s.Threshold != nil {
		return s.Threshold.Percentage >= 0 && s.Threshold.Percentage <= 100
	}
	return s.Segment.SegmentKey != "" || len(s.Segment.SegmentKeys) > 0
}

func (f *fakeFlipt) serveRollouts(w http.ResponseWriter, r *http.Request, key string, rest []string) {
	rs := f.rollouts[key]
	find := func(id string) int {
		for i, x := range rs {
			if x.ID == id {
				return i
			}
		}
		return -1
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		if r.URL.Query().Get("limit") == "" {
			f.fail(w, http.StatusBadRequest, "expected a page limit")
			return
		}
		out := append([]rollout{}, rs...)
		_ = json.NewEncoder(w).Encode(map[string]any{"rules": out, "nextPageToken": "", "totalCount": len(out)})
	case len(rest) == 0 && r.Method == http.MethodPost:
		var in struct {
			Rank int `json:"rank"`
			RolloutSpec
		}
		if err := decodeStrict(r, &in); err != nil || in.Rank < 1 || !validSpec(in.RolloutSpec) {
			f.fail(w, http.StatusBadRequest, "bad rollout: %v %+v", err, in)
			return
		}
		for _, x := range rs {
			if x.Rank == in.Rank {
				f.fail(w, http.StatusBadRequest, "rank %d is taken", in.Rank)
				return
			}
		}
		f.nextID++
		typ := thresholdType
		if in.Segment != nil {
			typ = segmentType
		}
		nr := rollout{ID: fmt.Sprintf("r%d", f.nextID), Type: typ, Rank: in.Rank, RolloutSpec: in.RolloutSpec}
		rs = append(rs, nr)
		sort.Slice(rs, func(i, j int) bool { return rs[i].Rank < rs[j].Rank })
		f.rollouts[key] = rs
		f.mutations++
		_ = json.NewEncoder(w).Encode(nr)
	case len(rest) == 1 && r.Method == http.MethodPut:
		i := find(rest[0])
		if i < 0 {
			f.fail(w, http.StatusNotFound, "rollout not found")
			return
		}
		var in RolloutSpec
		if err := decodeStrict(r, &in); err != nil || !validSpec(in) || (in.Threshold != nil) != (rs[i].Type == thresholdType) {
			f.fail(w, http.StatusBadRequest, "bad rollout update (type cannot change): %v %+v", err, in)
			return
		}
		rs[i].RolloutSpec = in
		f.mutations++
		_ = json.NewEncoder(w).Encode(rs[i])
	case len(rest) == 1 && r.Method == http.MethodDelete:
		i := find(rest[0])
		if i < 0 {
			f.fail(w, http.StatusNotFound, "rollout not found")
			return
		}
		f.rollouts[key] = append(rs[:i:i], rs[i+1:]...)
		f.mutations++
		_, _ = w.Write([]byte("{}"))
	default:
		f.fail(w, http.StatusNotFound, "unknown path %s %s", r.Method, r.URL.Path)
	}
}

func (f *fakeFlipt) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mutations
}

func (f *fakeFlipt) flag(key string) (flag, []rollout) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.flags[key], append([]rollout(nil), f.rollouts[key]...)
}

func (f *fakeFlipt) setFailWrite(fn func(method, path string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWrite = fn
}
