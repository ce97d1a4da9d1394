package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/runner/services/auth"
	"github.com/gantry-ci/gantry/runner/services/blob"
	"github.com/gantry-ci/gantry/runner/services/twirp"
)

// ServiceName is the Twirp service of the cache API v2.
const ServiceName = "github.actions.results.api.v1.CacheService"

// Service serves one run's view of the store: its repository and scopes.
type Service struct {
	Store *Store
	Auth  *auth.Issuer
	Repo  string
	// Scopes are the refs whose caches the run may restore, the current ref
	// first (where it saves), then the base branch of a pull request and
	// the default branch.
	Scopes []string
	// URLTTL is how long signed blob URLs live.
	URLTTL time.Duration
	// Log receives the reasons of refused saves, which @actions/cache's v2
	// client replaces with "another job may be creating this cache".
	Log func(msg string)
}

// Register adds the v2 Twirp API, the legacy _apis/artifactcache API and
// the blob URLs to mux.
func (s *Service) Register(mux *http.ServeMux) {
	p := twirp.Prefix(ServiceName)
	mux.Handle(p+"CreateCacheEntry", s.authed(twirp.Method(s.createEntry)))
	mux.Handle(p+"FinalizeCacheEntryUpload", s.authed(twirp.Method(s.finalize)))
	mux.Handle(p+"GetCacheEntryDownloadURL", s.authed(twirp.Method(s.downloadURL)))
	mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		twirp.WriteError(w, twirp.Errorf(twirp.BadRoute, "no method %s in %s", strings.TrimPrefix(r.URL.Path, p), ServiceName))
	}))
	mux.Handle("/_apis/artifactcache/", s.legacyAuthed(http.HandlerFunc(s.legacy)))
	mux.HandleFunc("/blob/cache/", s.blob)
}

func (s *Service) authed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Auth.Request(r); err != nil {
			twirp.WriteError(w, twirp.Errorf(twirp.Unauthenticated, "%v", err))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Service) scope() string { return s.Scopes[0] }

func base(r *http.Request) string { return "http://" + r.Host }

func (s *Service) ttl() time.Duration {
	if s.URLTTL > 0 {
		return s.URLTTL
	}
	return 6 * time.Hour
}

// The v2 messages, as results/api/v1/cache.proto defines them (field
// names are the protobuf names the JSON encoding uses).
type cacheMetadata struct {
	RepositoryID twirp.Int64 `json:"repository_id"`
	Scope        []struct {
		Scope      string      `json:"scope"`
		Permission twirp.Int64 `json:"permission"`
	} `json:"scope"`
}

type createReq struct {
	Metadata *cacheMetadata `json:"metadata"`
	Key      string         `json:"key"`
	Version  string         `json:"version"`
}
type createResp struct {
	OK              bool   `json:"ok"`
	SignedUploadURL string `json:"signed_upload_url"`
}
type finalizeReq struct {
	Metadata  *cacheMetadata `json:"metadata"`
	Key       string         `json:"key"`
	SizeBytes twirp.Int64    `json:"size_bytes"`
	Version   string         `json:"version"`
}
type finalizeResp struct {
	OK      bool        `json:"ok"`
	EntryID twirp.Int64 `json:"entry_id"`
}
type downloadReq struct {
	Metadata    *cacheMetadata `json:"metadata"`
	Key         string         `json:"key"`
	RestoreKeys []string       `json:"restore_keys"`
	Version     string         `json:"version"`
}
type downloadResp struct {
	OK                bool   `json:"ok"`
	SignedDownloadURL string `json:"signed_download_url"`
	MatchedKey        string `json:"matched_key"`
}

func asTwirp(err error) error {
	switch {
	case errors.Is(err, ErrExists):
		return twirp.Errorf(twirp.AlreadyExists, "%v", err)
	case errors.Is(err, ErrTooLarge):
		return twirp.Errorf(twirp.InvalidArgument, "%v", err)
	}
	return twirp.Errorf(twirp.InvalidArgument, "%v", err)
}

func (s *Service) createEntry(r *http.Request, req *createReq) (*createResp, error) {
	res, err := s.Store.Reserve(s.Repo, s.scope(), req.Key, req.Version, 0)
	if err != nil {
		if s.Log != nil && !errors.Is(err, ErrExists) {
			s.Log("cache: not saved: " + err.Error())
		}
		return nil, asTwirp(err)
	}
	return &createResp{OK: true, SignedUploadURL: s.Auth.SignURL(base(r), fmt.Sprintf("/blob/cache/u/%d", res.ID), "w", s.ttl())}, nil
}

func (s *Service) finalize(_ *http.Request, req *finalizeReq) (*finalizeResp, error) {
	res := s.Store.ReservedKey(s.Repo, s.scope(), req.Key, req.Version)
	if res == nil {
		return nil, twirp.Errorf(twirp.NotFound, "no cache entry with key %q is being saved; call CreateCacheEntry first", req.Key)
	}
	e, err := s.Store.Commit(res, int64(req.SizeBytes))
	if err != nil {
		return nil, asTwirp(err)
	}
	return &finalizeResp{OK: true, EntryID: twirp.Int64(e.ID)}, nil
}

func (s *Service) lookup(keys []string, version string) (*Entry, error) {
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, twirp.Errorf(twirp.InvalidArgument, "%v", err)
		}
	}
	if len(keys) > 10 {
		return nil, twirp.Errorf(twirp.InvalidArgument, "%d keys given; at most 10 (the key and 9 restore keys)", len(keys))
	}
	return s.Store.Lookup(s.Repo, s.Scopes, keys, version)
}

func (s *Service) downloadURL(r *http.Request, req *downloadReq) (*downloadResp, error) {
	e, err := s.lookup(append([]string{req.Key}, req.RestoreKeys...), req.Version)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return &downloadResp{OK: false}, nil
	}
	return &downloadResp{OK: true, MatchedKey: e.Key, SignedDownloadURL: s.downloadLink(r, e)}, nil
}

func (s *Service) downloadLink(r *http.Request, e *Entry) string {
	return s.Auth.SignURL(base(r), fmt.Sprintf("/blob/cache/e/%d", e.ID), "r", s.ttl())
}

// blob serves the signed URLs: uploads to a reservation, downloads of entries.
func (s *Service) blob(w http.ResponseWriter, r *http.Request) {
	kind, idText, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/blob/cache/"), "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "no such blob"})
		return
	}
	switch kind {
	case "u":
		if err := s.Auth.CheckURL(r, "w"); err != nil {
			blob.WriteError(w, &blob.Error{Status: 403, Code: "AuthenticationFailed", Msg: err.Error()})
			return
		}
		res := s.Store.Reserved(id)
		if res == nil {
			blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "the upload was finalized or abandoned"})
			return
		}
		res.Upload.ServeHTTP(w, r)
		if res.Upload.Failed() {
			s.Store.Abort(res) // too large or cut short: nothing of it is kept
		}
	case "e":
		if err := s.Auth.CheckURL(r, "r"); err != nil {
			blob.WriteError(w, &blob.Error{Status: 403, Code: "AuthenticationFailed", Msg: err.Error()})
			return
		}
		var found *Entry
		entries, err := s.Store.Entries(s.Repo)
		if err != nil {
			blob.WriteError(w, err)
			return
		}
		for i := range entries {
			if entries[i].ID == id {
				found = &entries[i]
			}
		}
		if found == nil {
			// Not 404: @actions/cache would save a 404's body as the archive.
			blob.WriteError(w, &blob.Error{Status: 500, Code: "BlobNotFound", Msg: "the cache entry was evicted or found corrupted"})
			return
		}
		blob.Serve(w, r, s.Store.Path(found), found.Size, found.SHA256, func() { s.Store.Drop(*found) })
	default:
		blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "no such blob"})
	}
}

// The legacy API (ACTIONS_CACHE_URL + _apis/artifactcache/...), which
// @actions/cache uses without ACTIONS_CACHE_SERVICE_V2 and older versions always.

func (s *Service) legacyAuthed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Auth.Request(r); err != nil {
			legacyError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h.ServeHTTP(w, r)
	})
}

func legacyError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg, "typeKey": "GantryCacheException"})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

type legacyEntry struct {
	CacheKey        string `json:"cacheKey"`
	Scope           string `json:"scope"`
	CacheVersion    string `json:"cacheVersion"`
	CreationTime    string `json:"creationTime"`
	ArchiveLocation string `json:"archiveLocation,omitempty"`
}

func (s *Service) legacy(w http.ResponseWriter, r *http.Request) {
	res := strings.TrimPrefix(r.URL.Path, "/_apis/artifactcache/")
	switch {
	case res == "cache" && r.Method == http.MethodGet:
		keys := strings.Split(r.URL.Query().Get("keys"), ",")
		e, err := s.lookup(keys, r.URL.Query().Get("version"))
		if err != nil {
			legacyError(w, http.StatusBadRequest, err.Error())
			return
		}
		if e == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, legacyEntry{CacheKey: e.Key, Scope: e.Scope, CacheVersion: e.Version, CreationTime: e.Created.UTC().Format(time.RFC3339), ArchiveLocation: s.downloadLink(r, e)})
	case res == "caches" && r.Method == http.MethodGet:
		key := r.URL.Query().Get("key")
		entries, err := s.Store.Entries(s.Repo)
		if err != nil {
			legacyError(w, 500, err.Error())
			return
		}
		list := []legacyEntry{}
		for _, e := range entries {
			if strings.HasPrefix(e.Key, key) {
				list = append(list, legacyEntry{CacheKey: e.Key, Scope: e.Scope, CacheVersion: e.Version, CreationTime: e.Created.UTC().Format(time.RFC3339)})
			}
		}
		writeJSON(w, map[string]any{"totalCount": len(list), "artifactCaches": list})
	case res == "caches" && r.Method == http.MethodPost:
		var req struct {
			Key       string `json:"key"`
			Version   string `json:"version"`
			CacheSize int64  `json:"cacheSize"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			legacyError(w, http.StatusBadRequest, "decode reserve request: "+err.Error())
			return
		}
		rv, err := s.Store.Reserve(s.Repo, s.scope(), req.Key, req.Version, req.CacheSize)
		switch {
		case errors.Is(err, ErrExists):
			legacyError(w, http.StatusConflict, err.Error())
		case err != nil:
			legacyError(w, http.StatusBadRequest, err.Error())
		default:
			writeJSON(w, map[string]any{"cacheId": rv.ID})
		}
	case strings.HasPrefix(res, "caches/"):
		id, err := strconv.ParseInt(strings.TrimPrefix(res, "caches/"), 10, 64)
		rv := s.Store.Reserved(id)
		if err != nil || rv == nil || rv.Repo != s.Repo {
			legacyError(w, http.StatusNotFound, "no cache upload with id "+strings.TrimPrefix(res, "caches/")+" is in progress; reserve one with POST caches")
			return
		}
		switch r.Method {
		case http.MethodPatch:
			if err := rv.Upload.WriteRange(r); err != nil {
				var be *blob.Error
				status := 500
				if errors.As(err, &be) {
					status = be.Status
				}
				s.Store.Abort(rv)
				legacyError(w, status, err.Error())
				return
			}
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			var req struct {
				Size int64 `json:"size"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
				legacyError(w, http.StatusBadRequest, "decode commit request: "+err.Error())
				return
			}
			if err := rv.Upload.CommitRanges(req.Size); err != nil {
				s.Store.Abort(rv)
				legacyError(w, http.StatusBadRequest, err.Error())
				return
			}
			if _, err := s.Store.Commit(rv, req.Size); err != nil {
				legacyError(w, http.StatusBadRequest, err.Error())
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			legacyError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+" is not served")
		}
	default:
		legacyError(w, http.StatusNotFound, r.Method+" "+r.URL.Path+" is not part of the cache API")
	}
}
