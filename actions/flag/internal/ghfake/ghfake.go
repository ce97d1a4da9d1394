// Package ghfake is a stateful stand-in for the parts of GitHub's REST API the
// flag action uses (repository, contents, git data, pull requests), for
// tests. It checks the token and the payloads the way GitHub documents them
// and keeps blobs, trees, commits, refs and pull requests in memory.
package ghfake

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
)

// Commit is one commit of the fake repository.
type Commit struct {
	SHA     string
	Message string
	Author  string
	Parents []string
	Tree    string
	Files   map[string]string // path -> blob sha
}

// PR is an opened pull request.
type PR struct {
	Number      int
	Title, Body string
	Head, Base  string
	URL         string
}

// Server is the fake API for one repository.
type Server struct {
	*httptest.Server
	Owner, Repo, Token string
	DefaultBranch      string

	mu      sync.Mutex
	blobs   map[string][]byte
	trees   map[string]map[string]string
	commits map[string]*Commit
	refs    map[string]string // heads/main -> commit sha
	pulls   []PR
	// Requests lists "METHOD path" of every authorised call, in order.
	requests []string
	// Before, when set, sees every authorised request before it is served
	// (tests use it to push concurrently).
	Before func(method, path string)
}

// New starts a fake for owner/repo with one commit on main holding files.
func New(owner, repo, token string, files map[string]string) *Server {
	s := &Server{Owner: owner, Repo: repo, Token: token, DefaultBranch: "main",
		blobs: map[string][]byte{}, trees: map[string]map[string]string{}, commits: map[string]*Commit{}, refs: map[string]string{}}
	tree := map[string]string{}
	for p, c := range files {
		tree[p] = s.putBlob([]byte(c))
	}
	s.refs["heads/main"] = s.putCommit("initial", "fake", nil, s.putTree(tree))
	mux := http.NewServeMux()
	base := "/repos/" + owner + "/" + repo
	mux.HandleFunc("GET "+base, s.getRepo)
	mux.HandleFunc("GET "+base+"/contents/{path...}", s.getContents)
	mux.HandleFunc("GET "+base+"/git/ref/{ref...}", s.getRef)
	mux.HandleFunc("POST "+base+"/git/refs", s.createRef)
	mux.HandleFunc("PATCH "+base+"/git/refs/{ref...}", s.updateRef)
	mux.HandleFunc("GET "+base+"/git/commits/{sha}", s.getCommit)
	mux.HandleFunc("POST "+base+"/git/blobs", s.createBlob)
	mux.HandleFunc("GET "+base+"/git/blobs/{sha}", s.getBlob)
	mux.HandleFunc("POST "+base+"/git/trees", s.createTree)
	mux.HandleFunc("POST "+base+"/git/commits", s.createCommit)
	mux.HandleFunc("POST "+base+"/pulls", s.createPull)
	s.Server = httptest.NewServer(s.auth(mux))
	return s
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			writeErr(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		before := s.Before
		s.mu.Unlock()
		if before != nil {
			before(r.Method, r.URL.Path)
		}
		next.ServeHTTP(w, r)
	})
}

// Requests returns "METHOD path" of every authorised call so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// File returns a file's content at the head of branch.
func (s *Server) File(branch, path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commits[s.refs["heads/"+branch]]
	if c == nil {
		return "", false
	}
	b, ok := c.Files[path]
	return string(s.blobs[b]), ok
}

// Head returns the head commit of branch, or nil.
func (s *Server) Head(branch string) *Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits[s.refs["heads/"+branch]]
}

// Commit returns a commit by sha, or nil.
func (s *Server) Commit(sha string) *Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commits[sha]
}

// Pulls returns the opened pull requests.
func (s *Server) Pulls() []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PR(nil), s.pulls...)
}

// Push commits files (path -> content) on top of branch, as someone else
// pushing between the action's read and write would.
func (s *Server) Push(branch, message string, files map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	parent := s.commits[s.refs["heads/"+branch]]
	tree := map[string]string{}
	for p, b := range parent.Files {
		tree[p] = b
	}
	for p, c := range files {
		tree[p] = s.putBlob([]byte(c))
	}
	sha := s.putCommit(message, "someone", []string{parent.SHA}, s.putTree(tree))
	s.refs["heads/"+branch] = sha
	return sha
}

func hash(kind string, data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", kind, len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) putBlob(b []byte) string {
	sha := hash("blob", b)
	s.blobs[sha] = append([]byte(nil), b...)
	return sha
}

func (s *Server) putTree(files map[string]string) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", files[k], k)
	}
	sha := hash("tree", []byte(b.String()))
	s.trees[sha] = files
	return sha
}

func (s *Server) putCommit(msg, author string, parents []string, tree string) string {
	sha := hash("commit", []byte(fmt.Sprintf("tree %s\nparents %v\nauthor %s\nn %d\n\n%s", tree, parents, author, len(s.commits), msg)))
	s.commits[sha] = &Commit{SHA: sha, Message: msg, Author: author, Parents: parents, Tree: tree, Files: s.trees[tree]}
	return sha
}

// isAncestor reports whether a is b or one of b's ancestors.
func (s *Server) isAncestor(a, b string) bool {
	seen := map[string]bool{}
	todo := []string{b}
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == a {
			return true
		}
		if seen[c] || s.commits[c] == nil {
			continue
		}
		seen[c] = true
		todo = append(todo, s.commits[c].Parents...)
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"name": s.Repo, "full_name": s.Owner + "/" + s.Repo, "default_branch": s.DefaultBranch})
}

// resolve turns a branch name, "heads/x" or a commit sha into a commit.
func (s *Server) resolve(ref string) *Commit {
	if ref == "" {
		ref = s.DefaultBranch
	}
	if c := s.commits[ref]; c != nil {
		return c
	}
	return s.commits[s.refs["heads/"+strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")]]
}

func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.resolve(r.URL.Query().Get("ref"))
	if c == nil {
		writeErr(w, 404, "No commit found for the ref "+r.URL.Query().Get("ref"))
		return
	}
	p := r.PathValue("path")
	sha, ok := c.Files[p]
	if !ok {
		writeErr(w, 404, "Not Found")
		return
	}
	b := s.blobs[sha]
	parts := strings.Split(p, "/")
	out := map[string]any{"type": "file", "encoding": "base64", "size": len(b), "name": parts[len(parts)-1], "path": p, "sha": sha,
		"content": base64.StdEncoding.EncodeToString(b)}
	if len(b) > 1<<20 {
		// GitHub leaves the content of files over 1 MB out.
		out["encoding"], out["content"] = "none", ""
	}
	writeJSON(w, 200, out)
}

func (s *Server) refJSON(name, sha string) map[string]any {
	return map[string]any{"ref": "refs/" + name, "object": map[string]any{"type": "commit", "sha": sha}}
}

func (s *Server) getRef(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("ref")
	sha, ok := s.refs[name]
	if !ok {
		writeErr(w, 404, "Not Found")
		return
	}
	writeJSON(w, 200, s.refJSON(name, sha))
}

func (s *Server) createRef(w http.ResponseWriter, r *http.Request) {
	var in struct{ Ref, SHA string }
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(in.Ref, "refs/") || strings.Count(in.Ref, "/") < 2 {
		writeErr(w, 422, "Reference name must start with 'refs/' and have at least two slashes")
		return
	}
	if s.commits[in.SHA] == nil {
		writeErr(w, 422, "Object does not exist")
		return
	}
	name := strings.TrimPrefix(in.Ref, "refs/")
	if _, ok := s.refs[name]; ok {
		writeErr(w, 422, "Reference already exists")
		return
	}
	s.refs[name] = in.SHA
	writeJSON(w, 201, s.refJSON(name, in.SHA))
}

func (s *Server) updateRef(w http.ResponseWriter, r *http.Request) {
	var in struct {
		SHA   string
		Force bool
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.PathValue("ref")
	cur, ok := s.refs[name]
	if !ok {
		writeErr(w, 422, "Reference does not exist")
		return
	}
	if s.commits[in.SHA] == nil {
		writeErr(w, 422, "Object does not exist")
		return
	}
	if !in.Force && !s.isAncestor(cur, in.SHA) {
		writeErr(w, 422, "Update is not a fast forward")
		return
	}
	s.refs[name] = in.SHA
	writeJSON(w, 200, s.refJSON(name, in.SHA))
}

func (s *Server) getCommit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.commits[r.PathValue("sha")]
	if c == nil {
		writeErr(w, 404, "Not Found")
		return
	}
	var parents []map[string]string
	for _, p := range c.Parents {
		parents = append(parents, map[string]string{"sha": p})
	}
	writeJSON(w, 200, map[string]any{"sha": c.SHA, "message": c.Message, "tree": map[string]string{"sha": c.Tree}, "parents": parents})
}

func (s *Server) createBlob(w http.ResponseWriter, r *http.Request) {
	var in struct{ Content, Encoding string }
	if !decode(w, r, &in) {
		return
	}
	var b []byte
	switch in.Encoding {
	case "base64":
		var err error
		if b, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			writeErr(w, 422, "content is not valid base64")
			return
		}
	case "utf-8", "":
		b = []byte(in.Content)
	default:
		writeErr(w, 422, "encoding must be utf-8 or base64")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, 201, map[string]any{"sha": s.putBlob(b)})
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[r.PathValue("sha")]
	if !ok {
		writeErr(w, 404, "Not Found")
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "raw") {
		_, _ = w.Write(b)
		return
	}
	writeJSON(w, 200, map[string]any{"sha": r.PathValue("sha"), "encoding": "base64", "size": len(b), "content": base64.StdEncoding.EncodeToString(b)})
}

func (s *Server) createTree(w http.ResponseWriter, r *http.Request) {
	var in struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path, Mode, Type string
			SHA              *string
			Content          *string
		}
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	files := map[string]string{}
	if in.BaseTree != "" {
		base, ok := s.trees[in.BaseTree]
		if !ok {
			writeErr(w, 422, "base_tree is not a valid tree")
			return
		}
		for p, b := range base {
			files[p] = b
		}
	}
	for _, e := range in.Tree {
		if e.Path == "" || e.Type != "blob" || (e.Mode != "100644" && e.Mode != "100755") {
			writeErr(w, 422, fmt.Sprintf("tree entry %q: want a path, type blob and mode 100644 or 100755", e.Path))
			return
		}
		switch {
		case e.SHA != nil && e.Content != nil:
			writeErr(w, 422, "tree entry has both sha and content")
			return
		case e.SHA != nil:
			if _, ok := s.blobs[*e.SHA]; !ok {
				writeErr(w, 422, "tree entry sha is not a blob")
				return
			}
			files[e.Path] = *e.SHA
		case e.Content != nil:
			files[e.Path] = s.putBlob([]byte(*e.Content))
		default:
			writeErr(w, 422, "tree entry needs sha or content")
			return
		}
	}
	writeJSON(w, 201, map[string]any{"sha": s.putTree(files)})
}

func (s *Server) createCommit(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message string
		Tree    string
		Parents []string
		Author  *struct{ Name, Email string }
	}
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Message == "" {
		writeErr(w, 422, "message is required")
		return
	}
	if _, ok := s.trees[in.Tree]; !ok {
		writeErr(w, 422, "tree is not a valid tree")
		return
	}
	for _, p := range in.Parents {
		if s.commits[p] == nil {
			writeErr(w, 422, "parent "+p+" does not exist")
			return
		}
	}
	author := "token"
	if in.Author != nil {
		author = in.Author.Name + " <" + in.Author.Email + ">"
	}
	sha := s.putCommit(in.Message, author, in.Parents, in.Tree)
	writeJSON(w, 201, map[string]any{"sha": sha, "message": in.Message, "tree": map[string]string{"sha": in.Tree}})
}

func (s *Server) createPull(w http.ResponseWriter, r *http.Request) {
	var in struct{ Title, Head, Base, Body string }
	if !decode(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case in.Title == "":
		writeErr(w, 422, "title is required")
		return
	case s.refs["heads/"+in.Head] == "" || s.refs["heads/"+in.Base] == "":
		writeErr(w, 422, "head and base must be existing branches")
		return
	case s.refs["heads/"+in.Head] == s.refs["heads/"+in.Base]:
		writeErr(w, 422, "No commits between "+in.Base+" and "+in.Head)
		return
	}
	n := len(s.pulls) + 1
	pr := PR{Number: n, Title: in.Title, Body: in.Body, Head: in.Head, Base: in.Base,
		URL: fmt.Sprintf("https://github.com/%s/%s/pull/%d", s.Owner, s.Repo, n)}
	s.pulls = append(s.pulls, pr)
	writeJSON(w, 201, map[string]any{"number": n, "html_url": pr.URL, "title": in.Title, "state": "open"})
}
