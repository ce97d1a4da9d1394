// Package artifact is gantry's v4 artifact service (the Twirp service
// github.actions.results.api.v1.ArtifactService that @actions/artifact 2.x,
// upload-artifact@v4 and download-artifact@v4 speak). A run's artifacts are
// zip files in one folder (the CLI uses .gantry/artifacts/<run id>/ of the
// repository); an artifact appears there only once its upload is complete
// and finalized.
package artifact

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/services/auth"
	"github.com/gantry-ci/gantry/runner/services/blob"
	"github.com/gantry-ci/gantry/runner/services/twirp"
)

// ServiceName is the Twirp service.
const ServiceName = "github.actions.results.api.v1.ArtifactService"

// DefaultMaxBytes limits one artifact.
const DefaultMaxBytes = 10 << 30

// Artifact is one finalized artifact.
type Artifact struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Job     string    `json:"job"` // the job backend id that uploaded it
	Created time.Time `json:"created"`
}

// File is the artifact's zip file name in the run's folder.
func (a Artifact) File() string { return a.Name + ".zip" }

type upload struct {
	id, job, name string
	up            *blob.Upload
	dir           string
}

// Service serves the artifacts of one run, stored in Dir.
type Service struct {
	Auth *auth.Issuer
	// Dir is the run's artifact folder; made on the first upload.
	Dir string
	// RunBackendID is the run's id in the token's Actions.Results scope.
	RunBackendID string
	MaxBytes     int64
	URLTTL       time.Duration

	mu      sync.Mutex
	loaded  bool
	list    []*Artifact
	nextID  int64
	uploads map[string]*upload // by name
	seq     int
}

// Register adds the Twirp methods and the blob URLs to mux.
func (s *Service) Register(mux *http.ServeMux) {
	p := twirp.Prefix(ServiceName)
	mux.Handle(p+"CreateArtifact", s.authed(twirp.Method(s.create)))
	mux.Handle(p+"FinalizeArtifact", s.authed(twirp.Method(s.finalize)))
	mux.Handle(p+"ListArtifacts", s.authed(twirp.Method(s.listArtifacts)))
	mux.Handle(p+"GetSignedArtifactURL", s.authed(twirp.Method(s.signedURL)))
	mux.Handle(p+"DeleteArtifact", s.authed(twirp.Method(s.delete)))
	mux.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		twirp.WriteError(w, twirp.Errorf(twirp.BadRoute, "no method %s in %s", strings.TrimPrefix(r.URL.Path, p), ServiceName))
	}))
	mux.HandleFunc("/blob/artifact/", s.blob)
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

// ValidateName rejects names that are not one plain file name: GitHub's
// forbidden characters, path separators, "." and "..".
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("the artifact name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("artifact name %q is a path element, not a name", name)
	case len(name) > 255:
		return fmt.Errorf("artifact name %.40q... is longer than 255 characters", name)
	case strings.ContainsAny(name, "/\\\":<>|*?"):
		return fmt.Errorf("artifact name %q contains one of \" : < > | * ? / \\; name it like build-output", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") || strings.HasPrefix(name, ".gantry"):
		return fmt.Errorf("artifact name %q cannot end with a dot or a space, or start with .gantry", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("artifact name %q contains a control character", name)
		}
	}
	return nil
}

func (s *Service) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}

func (s *Service) ttl() time.Duration {
	if s.URLTTL > 0 {
		return s.URLTTL
	}
	return 6 * time.Hour
}

func (s *Service) indexPath() string { return filepath.Join(s.Dir, ".gantry-index.json") }

// load reads the folder's index once (a later gantry run never shares a
// run folder, but a restarted service of the same run would).
func (s *Service) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	s.uploads = map[string]*upload{}
	if b, err := os.ReadFile(s.indexPath()); err == nil {
		_ = json.Unmarshal(b, &s.list)
	}
	for _, a := range s.list {
		s.nextID = max(s.nextID, a.ID)
	}
}

func (s *Service) save() error {
	b, err := json.MarshalIndent(s.list, "", " ")
	if err != nil {
		return err
	}
	tmp := s.indexPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("artifact index: %w", err)
	}
	return os.Rename(tmp, s.indexPath())
}

func (s *Service) checkRun(run string) error {
	if run != s.RunBackendID {
		return twirp.Errorf(twirp.PermissionDenied, "workflow_run_backend_id %q is not this run's; artifacts are shared within one gantry run", run)
	}
	return nil
}

func (s *Service) find(name string) *Artifact {
	for _, a := range s.list {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// List returns the run's artifacts, by id.
func (s *Service) List() []Artifact {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	out := make([]Artifact, 0, len(s.list))
	for _, a := range s.list {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Close drops uploads that never finished.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, u := range s.uploads {
		_ = os.RemoveAll(u.dir)
		delete(s.uploads, n)
	}
	_ = os.Remove(filepath.Join(s.Dir, ".staging")) // only when empty
	return nil
}

type timestamp = string // RFC 3339, protobuf's JSON for google.protobuf.Timestamp

// The messages of results/api/v1/artifact.proto, by their protobuf names.
type createReq struct {
	RunID     string    `json:"workflow_run_backend_id"`
	JobID     string    `json:"workflow_job_run_backend_id"`
	Name      string    `json:"name"`
	ExpiresAt timestamp `json:"expires_at"`
	Version   int32     `json:"version"`
}
type createResp struct {
	OK              bool   `json:"ok"`
	SignedUploadURL string `json:"signed_upload_url"`
}
type finalizeReq struct {
	RunID string      `json:"workflow_run_backend_id"`
	JobID string      `json:"workflow_job_run_backend_id"`
	Name  string      `json:"name"`
	Size  twirp.Int64 `json:"size"`
	Hash  *string     `json:"hash"` // google.protobuf.StringValue: "sha256:<hex>"
}
type finalizeResp struct {
	OK         bool        `json:"ok"`
	ArtifactID twirp.Int64 `json:"artifact_id"`
}
type listReq struct {
	RunID      string       `json:"workflow_run_backend_id"`
	JobID      string       `json:"workflow_job_run_backend_id"`
	NameFilter *string      `json:"name_filter"`
	IDFilter   *twirp.Int64 `json:"id_filter"`
}
type monolithArtifact struct {
	RunID      string      `json:"workflow_run_backend_id"`
	JobID      string      `json:"workflow_job_run_backend_id"`
	DatabaseID twirp.Int64 `json:"database_id"`
	Name       string      `json:"name"`
	Size       twirp.Int64 `json:"size"`
	CreatedAt  timestamp   `json:"created_at"`
	Digest     string      `json:"digest,omitempty"`
}
type listResp struct {
	Artifacts []monolithArtifact `json:"artifacts"`
}
type nameReq struct {
	RunID string `json:"workflow_run_backend_id"`
	JobID string `json:"workflow_job_run_backend_id"`
	Name  string `json:"name"`
}
type signedResp struct {
	SignedURL string `json:"signed_url"`
}
type deleteResp struct {
	OK         bool        `json:"ok"`
	ArtifactID twirp.Int64 `json:"artifact_id"`
}

func (s *Service) create(r *http.Request, req *createReq) (*createResp, error) {
	if err := s.checkRun(req.RunID); err != nil {
		return nil, err
	}
	if err := ValidateName(req.Name); err != nil {
		return nil, twirp.Errorf(twirp.InvalidArgument, "%v", err)
	}
	if req.Version != 4 {
		return nil, twirp.Errorf(twirp.InvalidArgument, "artifact version %d is not served; gantry serves v4 (upload-artifact@v4, @actions/artifact 2.x)", req.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.find(req.Name) != nil {
		return nil, twirp.Errorf(twirp.AlreadyExists, "an artifact named %q already exists in this run; pick another name or delete it first (upload-artifact's overwrite: true)", req.Name)
	}
	if _, busy := s.uploads[req.Name]; busy {
		return nil, twirp.Errorf(twirp.AlreadyExists, "an artifact named %q is being uploaded by another step right now", req.Name)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, ".staging"), 0o755); err != nil {
		return nil, fmt.Errorf("artifact folder: %w", err)
	}
	dir, err := os.MkdirTemp(filepath.Join(s.Dir, ".staging"), "up-")
	if err != nil {
		return nil, fmt.Errorf("artifact staging: %w", err)
	}
	up, err := blob.NewUpload(dir, s.maxBytes())
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.seq++
	u := &upload{id: strconv.Itoa(s.seq), job: req.JobID, name: req.Name, up: up, dir: dir}
	s.uploads[req.Name] = u
	return &createResp{OK: true, SignedUploadURL: s.Auth.SignURL("http://"+r.Host, "/blob/artifact/u/"+u.id, "w", s.ttl())}, nil
}

func (s *Service) finalize(_ *http.Request, req *finalizeReq) (*finalizeResp, error) {
	if err := s.checkRun(req.RunID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	u := s.uploads[req.Name]
	if u == nil {
		return nil, twirp.Errorf(twirp.NotFound, "no artifact named %q is being uploaded; call CreateArtifact first", req.Name)
	}
	drop := func() { delete(s.uploads, req.Name); _ = os.RemoveAll(u.dir) }
	size, sum, ok := u.up.Committed()
	if !ok {
		drop()
		return nil, twirp.Errorf(twirp.FailedPrecondition, "artifact %q was never completely uploaded; nothing was kept", req.Name)
	}
	if int64(req.Size) != size {
		drop()
		return nil, twirp.Errorf(twirp.InvalidArgument, "artifact %q: %d bytes arrived but the client says %d; the upload was truncated and nothing was kept", req.Name, size, req.Size)
	}
	if req.Hash != nil && *req.Hash != "" && *req.Hash != "sha256:"+sum {
		drop()
		return nil, twirp.Errorf(twirp.InvalidArgument, "artifact %q: the upload hashes to sha256:%s but the client says %s; it was corrupted on the way and nothing was kept", req.Name, sum, *req.Hash)
	}
	s.nextID++
	a := &Artifact{ID: s.nextID, Name: req.Name, Size: size, SHA256: sum, Job: u.job, Created: time.Now().UTC()}
	if err := os.Rename(u.up.Path(), filepath.Join(s.Dir, a.File())); err != nil {
		drop()
		return nil, fmt.Errorf("store artifact: %w", err)
	}
	drop()
	s.list = append(s.list, a)
	if err := s.save(); err != nil {
		return nil, err
	}
	return &finalizeResp{OK: true, ArtifactID: twirp.Int64(a.ID)}, nil
}

func (s *Service) listArtifacts(_ *http.Request, req *listReq) (*listResp, error) {
	if err := s.checkRun(req.RunID); err != nil {
		return nil, err
	}
	out := &listResp{Artifacts: []monolithArtifact{}}
	for _, a := range s.List() {
		if req.NameFilter != nil && *req.NameFilter != a.Name {
			continue
		}
		if req.IDFilter != nil && int64(*req.IDFilter) != a.ID {
			continue
		}
		out.Artifacts = append(out.Artifacts, monolithArtifact{
			RunID: s.RunBackendID, JobID: a.Job, DatabaseID: twirp.Int64(a.ID), Name: a.Name,
			Size: twirp.Int64(a.Size), CreatedAt: a.Created.Format(time.RFC3339Nano), Digest: "sha256:" + a.SHA256,
		})
	}
	return out, nil
}

func (s *Service) signedURL(r *http.Request, req *nameReq) (*signedResp, error) {
	if err := s.checkRun(req.RunID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.load()
	a := s.find(req.Name)
	s.mu.Unlock()
	if a == nil {
		return nil, twirp.Errorf(twirp.NotFound, "no artifact named %q in this run", req.Name)
	}
	if err := blob.Verify(filepath.Join(s.Dir, a.File()), a.Size, a.SHA256); err != nil {
		return nil, twirp.Errorf(twirp.FailedPrecondition, "artifact %q is corrupted on disk and is not served: %v", req.Name, err)
	}
	return &signedResp{SignedURL: s.Auth.SignURL("http://"+r.Host, "/blob/artifact/a/"+strconv.FormatInt(a.ID, 10), "r", s.ttl())}, nil
}

func (s *Service) delete(_ *http.Request, req *nameReq) (*deleteResp, error) {
	if err := s.checkRun(req.RunID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	for i, a := range s.list {
		if a.Name == req.Name {
			if err := os.Remove(filepath.Join(s.Dir, a.File())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("delete artifact %q: %w", req.Name, err)
			}
			s.list = append(s.list[:i], s.list[i+1:]...)
			if err := s.save(); err != nil {
				return nil, err
			}
			return &deleteResp{OK: true, ArtifactID: twirp.Int64(a.ID)}, nil
		}
	}
	return nil, twirp.Errorf(twirp.NotFound, "no artifact named %q in this run", req.Name)
}

func (s *Service) blob(w http.ResponseWriter, r *http.Request) {
	kind, id, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/blob/artifact/"), "/")
	switch kind {
	case "u":
		if err := s.Auth.CheckURL(r, "w"); err != nil {
			blob.WriteError(w, &blob.Error{Status: 403, Code: "AuthenticationFailed", Msg: err.Error()})
			return
		}
		s.mu.Lock()
		var up *upload
		for _, u := range s.uploads {
			if u.id == id {
				up = u
			}
		}
		s.mu.Unlock()
		if up == nil {
			blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "the upload was finalized or abandoned"})
			return
		}
		up.up.ServeHTTP(w, r)
		if up.up.Failed() {
			// Too large or cut short: drop it, so nothing partial stays.
			s.mu.Lock()
			if s.uploads[up.name] == up {
				delete(s.uploads, up.name)
				_ = os.RemoveAll(up.dir)
			}
			s.mu.Unlock()
		}
	case "a":
		if err := s.Auth.CheckURL(r, "r"); err != nil {
			blob.WriteError(w, &blob.Error{Status: 403, Code: "AuthenticationFailed", Msg: err.Error()})
			return
		}
		var found *Artifact
		for _, a := range s.List() {
			if strconv.FormatInt(a.ID, 10) == id {
				found = &a
			}
		}
		if found == nil {
			blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "the artifact was deleted"})
			return
		}
		blob.Serve(w, r, filepath.Join(s.Dir, found.File()), found.Size, found.SHA256, nil)
	default:
		blob.WriteError(w, &blob.Error{Status: 404, Code: "BlobNotFound", Msg: "no such blob"})
	}
}
