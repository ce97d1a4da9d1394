// Package githubtest is a fake GitHub Actions service for tests: runner
// registration (token and JIT), the OAuth JWT client-credentials exchange
// checked against the runner's registered key, sessions with an RSA-OAEP
// wrapped AES key, AES-CBC encrypted messages on the pool's message queue
// or the broker, the run service (acquire, renew, complete) and the
// timeline, feed, log and attachment APIs, following actions/runner's
// public source. Faults (status codes, dropped connections) can be
// injected per path.
package githubtest

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // protocol-mandated OAEP hash
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// Options shape the server.
type Options struct {
	// Broker puts runners on the v2 flow: sessions and messages on the
	// broker, jobs as RunnerJobRequest acquired from the run service.
	// Without it, the pool's message queue hands out full
	// PipelineAgentJobRequest messages.
	Broker bool
	// AdminFlow registers runners through the runner-admin API
	// (POST {api}/actions/runners/register) as the registration answer's
	// use_v2_flow asks; they are on the broker.
	AdminFlow bool
	// PollWait is how long a message poll waits for one (default 200ms).
	PollWait time.Duration
}

// Server is the fake service.
type Server struct {
	T    testing.TB
	URL  string
	opts Options
	srv  *httptest.Server

	mu        sync.Mutex
	regTokens map[string]bool
	patTokens map[string]bool
	tenant    string
	agents    map[int64]*agent
	nextAgent int64
	sessions  map[string]*sess
	tokens    map[string]int64 // access token -> agent
	jobTokens map[string]string
	queue     []*Job
	jobs      map[string]*Job
	nextMsg   int64
	faults    []*fault
	blobs     map[string]*blob
	calls     map[string]int
	jobsWaker chan struct{}
}

type agent struct {
	ID        int64
	Name      string
	ClientID  string
	Key       *rsa.PublicKey
	Ephemeral bool
	Labels    []string
}

type sess struct {
	id    string
	agent int64
	key   []byte
	inbox []msg
	wake  chan struct{}
}

type msg struct {
	id   int64
	typ  string
	body []byte
}

type fault struct {
	path   string
	method string
	status int // 0: drop the connection
	n      int
}

// Job is one job the server hands out, and what the runner reported.
type Job struct {
	Spec JobSpec
	ID   string // the job (and job record) id

	planID, timelineID, requestID string
	token                         string
	acquiredBy                    int64
	AcquireCount                  int
	Completions                   []Completion
	Renewals                      int
	Records                       map[string]map[string]any // timeline record id -> last state
	Feed                          map[string][]string       // step record id -> live lines in order
	FeedStarts                    map[string][]int64
	Logs                          map[string]string // record id -> uploaded log
	Attachments                   map[string]string // "type/name" -> content
	// What reached the results service.
	ResultsSteps     map[string]map[string]any // step id -> last update
	ResultsLogs      map[string]string         // step id -> log blob
	ResultsJobLog    string
	ResultsSummaries map[string]string // step id -> summary blob
	lastChange       float64
	logIDs           map[int]string
	logPaths         map[int]string
	done             chan struct{}
	gone             bool
}

// Completion is one completejob (or JobCompleted event) the runner sent.
type Completion struct {
	Conclusion  string
	Outputs     map[string]string
	StepResults []map[string]any
	Annotations []map[string]any
}

// JobSpec describes a job: YAML of one job (name, container, services,
// env, outputs, steps) and its context.
type JobSpec struct {
	Name     string
	YAML     string
	Secrets  map[string]string
	Vars     map[string]string
	Matrix   map[string]any
	Needs    map[string]any
	Event    string
	Payload  map[string]any
	Raw      []byte // sent as the job message instead, to test bad payloads (job id kept)
	NoRunSvc bool
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	if opts.AdminFlow {
		opts.Broker = true
	}
	if opts.PollWait <= 0 {
		opts.PollWait = 200 * time.Millisecond
	}
	s := &Server{T: t, opts: opts, regTokens: map[string]bool{}, patTokens: map[string]bool{}, agents: map[int64]*agent{},
		sessions: map[string]*sess{}, tokens: map[string]int64{}, jobTokens: map[string]string{}, jobs: map[string]*Job{},
		calls: map[string]int{}, blobs: map[string]*blob{}, jobsWaker: make(chan struct{}), nextAgent: 40}
	s.tenant = randHex(16)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// RegistrationToken makes a registration token the server accepts.
func (s *Server) RegistrationToken() string {
	tok := "AREG" + randHex(12)
	s.mu.Lock()
	s.regTokens[tok] = true
	s.mu.Unlock()
	return tok
}

// PAT makes a personal access token the REST API accepts (JIT configs).
func (s *Server) PAT() string {
	tok := "ghp_" + randHex(12)
	s.mu.Lock()
	s.patTokens[tok] = true
	s.mu.Unlock()
	return tok
}

// RepoURL is the GitHub URL of a repository on this server.
func (s *Server) RepoURL() string { return s.URL + "/octo/repo" }

// Fail makes the next n requests whose path contains path (and method,
// when given) answer status; status 0 drops the connection.
func (s *Server) Fail(method, path string, status, n int) {
	s.mu.Lock()
	s.faults = append(s.faults, &fault{path: path, method: method, status: status, n: n})
	s.mu.Unlock()
}

// PendingFaults is how many injected faults have not fired yet.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.n
	}
	return n
}

// Calls is how many requests reached a path containing path.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.calls {
		if strings.Contains(k, path) {
			n += v
		}
	}
	return n
}

// Agents are the registered runners' names.
func (s *Server) Agents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, a := range s.agents {
		out = append(out, a.Name)
	}
	return out
}

// AgentLabels are a registered runner's labels.
func (s *Server) AgentLabels(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.agents {
		if a.Name == name {
			return a.Labels
		}
	}
	return nil
}

// Sessions is how many sessions are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Queue adds a job; a polling runner gets it.
func (s *Server) Queue(spec JobSpec) *Job {
	j := &Job{Spec: spec, ID: newGUID(), planID: newGUID(), timelineID: newGUID(), requestID: strconv.Itoa(1000 + len(s.jobs)),
		token: "ghs_job" + randHex(12), Records: map[string]map[string]any{}, Feed: map[string][]string{}, FeedStarts: map[string][]int64{},
		Logs: map[string]string{}, Attachments: map[string]string{}, ResultsSteps: map[string]map[string]any{},
		ResultsLogs: map[string]string{}, ResultsSummaries: map[string]string{}, logIDs: map[int]string{}, logPaths: map[int]string{}, done: make(chan struct{})}
	s.mu.Lock()
	s.jobs[j.ID] = j
	s.jobTokens[j.token] = j.ID
	s.queue = append(s.queue, j)
	s.wakeAll()
	s.mu.Unlock()
	return j
}

// Cancel sends a JobCancellation for j to the session running it.
func (s *Server) Cancel(j *Job) {
	body, _ := json.Marshal(map[string]any{"JobId": j.ID, "Timeout": "00:05:00"})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, se := range s.sessions {
		if se.agent == j.acquiredBy {
			s.nextMsg++
			se.inbox = append(se.inbox, msg{id: s.nextMsg, typ: "JobCancellation", body: body})
		}
	}
	s.wakeAll()
}

// Drop makes the server forget j's lock: the next renewal gets 404.
func (s *Server) Drop(j *Job) {
	s.mu.Lock()
	j.gone = true
	s.mu.Unlock()
}

// Wait blocks until j is completed (or the timeout), and returns it.
func (s *Server) Wait(j *Job, timeout time.Duration) *Job {
	s.T.Helper()
	select {
	case <-j.done:
	case <-time.After(timeout):
		s.T.Fatalf("job %s was not completed within %v", j.Spec.Name, timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *j
	return &cp
}

// Snapshot is j's state now.
func (s *Server) Snapshot(j *Job) Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *j
	cp.Records = map[string]map[string]any{}
	for k, v := range j.Records {
		cp.Records[k] = v
	}
	cp.Feed = map[string][]string{}
	for k, v := range j.Feed {
		cp.Feed[k] = append([]string(nil), v...)
	}
	cp.Completions = append([]Completion(nil), j.Completions...)
	return cp
}

func (s *Server) wakeAll() {
	close(s.jobsWaker)
	s.jobsWaker = make(chan struct{})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.Method+" "+r.URL.Path]++
	for _, f := range s.faults {
		if f.n > 0 && strings.Contains(r.URL.Path, f.path) && (f.method == "" || f.method == r.Method) {
			f.n--
			s.mu.Unlock()
			if f.status == 0 {
				hj, ok := w.(http.Hijacker)
				if ok {
					if c, _, err := hj.Hijack(); err == nil {
						_ = c.Close()
						return
					}
				}
			}
			http.Error(w, `{"message":"injected fault"}`, f.status)
			return
		}
	}
	s.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/api/v3/actions/runner-registration" && r.Method == "POST":
		s.runnerRegistration(w, r)
	case p == "/api/v3/actions/runners/register" && r.Method == "POST":
		s.adminRegister(w, r)
	case strings.HasPrefix(p, "/api/v3/repos/") && strings.HasSuffix(p, "/actions/runners/registration-token"):
		s.registrationToken(w, r)
	case strings.HasPrefix(p, "/api/v3/repos/") && strings.HasSuffix(p, "/actions/runners/generate-jitconfig"):
		s.jitConfig(w, r)
	case p == "/oauth/token":
		s.oauthToken(w, r)
	case p == "/tenant/_apis/connectionData":
		s.connectionData(w)
	case strings.HasPrefix(p, "/tenant/"):
		s.tenantAPI(w, r, strings.TrimPrefix(p, "/tenant/"))
	case strings.HasPrefix(p, "/broker/"):
		s.brokerAPI(w, r, strings.TrimPrefix(p, "/broker/"))
	case strings.HasPrefix(p, "/results/twirp/"):
		s.resultsAPI(w, r, strings.TrimPrefix(p, "/results/twirp/"))
	case strings.HasPrefix(p, "/blob/") && r.Method == "PUT":
		s.putBlob(w, r, strings.TrimPrefix(p, "/blob/"))
	case strings.HasPrefix(p, "/run/"):
		s.runAPI(w, r, strings.TrimPrefix(p, "/run/"))
	default:
		http.Error(w, "not found: "+p, http.StatusNotFound)
	}
}

func (s *Server) runnerRegistration(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "RemoteAuth ")
	s.mu.Lock()
	valid := ok && s.regTokens[tok]
	s.mu.Unlock()
	if !valid {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	var body struct {
		URL         string `json:"url"`
		RunnerEvent string `json:"runner_event"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.RunnerEvent != "register" || !strings.HasPrefix(body.URL, s.URL+"/") {
		http.Error(w, "bad registration body", http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": s.URL + "/tenant", "token_schema": "OAuthAccessToken", "token": s.tenant, "use_v2_flow": s.opts.AdminFlow})
}

var xmlPart = regexp.MustCompile(`<(Modulus|Exponent)>([^<]+)</`)

// adminRegister is the runner-admin registration: the public key as
// RSA.ToXmlString writes it, the registration token as RemoteAuth.
func (s *Server) adminRegister(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "RemoteAuth ")
	s.mu.Lock()
	valid := ok && s.regTokens[tok] && s.opts.AdminFlow
	s.mu.Unlock()
	if !valid {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	var body struct {
		URL       string `json:"url"`
		GroupID   int64  `json:"group_id"`
		Name      string `json:"name"`
		Ephemeral bool   `json:"ephemeral"`
		PublicKey string `json:"public_key"`
		Labels    []struct {
			Name string `json:"name"`
		} `json:"labels"`
	}
	if err := readJSON(r, &body); err != nil || body.Name == "" || body.GroupID == 0 || !strings.HasPrefix(body.URL, s.URL+"/") {
		http.Error(w, "bad runner", http.StatusUnprocessableEntity)
		return
	}
	parts := map[string][]byte{}
	for _, m := range xmlPart.FindAllStringSubmatch(body.PublicKey, -1) {
		parts[m[1]], _ = base64.StdEncoding.DecodeString(m[2])
	}
	if len(parts["Modulus"]) < 256 || len(parts["Exponent"]) == 0 {
		http.Error(w, "public_key is not an RSA key in XML", http.StatusUnprocessableEntity)
		return
	}
	var labels []string
	for _, l := range body.Labels {
		labels = append(labels, l.Name)
	}
	pk := &rsa.PublicKey{N: new(big.Int).SetBytes(parts["Modulus"]), E: int(new(big.Int).SetBytes(parts["Exponent"]).Int64())}
	a := s.addAgent(body.Name, pk, body.Ephemeral, labels)
	writeJSON(w, http.StatusCreated, map[string]any{"id": a.ID, "name": a.Name, "authorization": map[string]any{
		"authorization_url": s.URL + "/oauth/token", "server_url": s.URL + "/broker/", "client_id": a.ClientID}})
}

func (s *Server) pat(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok := strings.TrimPrefix(strings.TrimPrefix(h, "Bearer "), "token ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.patTokens[tok]
}

func (s *Server) registrationToken(w http.ResponseWriter, r *http.Request) {
	if !s.pat(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": s.RegistrationToken(), "expires_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
}

// jitConfig makes a runner and returns its encoded JIT config, as
// generate-jitconfig does: the files the runner would write, base64 each,
// in a base64 JSON object.
func (s *Server) jitConfig(w http.ResponseWriter, r *http.Request) {
	if !s.pat(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	var body struct {
		Name          string   `json:"name"`
		RunnerGroupID int64    `json:"runner_group_id"`
		Labels        []string `json:"labels"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" || body.RunnerGroupID == 0 {
		http.Error(w, "name and runner_group_id are required", http.StatusUnprocessableEntity)
		return
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	key.Precompute()
	a := s.addAgent(body.Name, &key.PublicKey, true, body.Labels)
	runner := map[string]any{"AgentId": strconv.FormatInt(a.ID, 10), "AgentName": a.Name, "PoolId": "1", "PoolName": "Default",
		"ServerUrl": s.URL + "/tenant", "GitHubUrl": s.RepoURL(), "WorkFolder": "_work", "Ephemeral": "true"}
	if s.opts.Broker {
		runner["UseV2Flow"] = true
		runner["ServerUrlV2"] = s.URL + "/broker/"
	}
	creds := map[string]any{"Scheme": "OAuth", "Data": map[string]string{"ClientId": a.ClientID, "AuthorizationUrl": s.URL + "/oauth/token", "RequireFipsCryptography": "False"}}
	params := map[string][]byte{"d": key.D.Bytes(), "dp": key.Precomputed.Dp.Bytes(), "dq": key.Precomputed.Dq.Bytes(),
		"exponent": big.NewInt(int64(key.E)).Bytes(), "inverseQ": key.Precomputed.Qinv.Bytes(), "modulus": key.N.Bytes(),
		"p": key.Primes[0].Bytes(), "q": key.Primes[1].Bytes()}
	files := map[string]string{}
	for name, v := range map[string]any{".runner": runner, ".credentials": creds, ".credentials_rsaparams": params} {
		data, _ := json.Marshal(v)
		files[name] = base64.StdEncoding.EncodeToString(append([]byte("\uFEFF"), data...))
	}
	enc, _ := json.Marshal(files)
	writeJSON(w, http.StatusCreated, map[string]any{
		"runner":             map[string]any{"id": a.ID, "name": a.Name, "os": "linux", "status": "offline"},
		"encoded_jit_config": base64.StdEncoding.EncodeToString(enc),
	})
}

func (s *Server) addAgent(name string, key *rsa.PublicKey, eph bool, labels []string) *agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextAgent++
	a := &agent{ID: s.nextAgent, Name: name, ClientID: newGUID(), Key: key, Ephemeral: eph, Labels: labels}
	s.agents[a.ID] = a
	return a
}

// oauthToken checks the client assertion: a JWT signed with the agent's
// registered key, iss = sub = client id, aud = this URL, within its time.
func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	parts := strings.Split(r.Form.Get("client_assertion"), ".")
	if len(parts) != 3 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
		return
	}
	dec := base64.RawURLEncoding
	hb, _ := dec.DecodeString(parts[0])
	cb, _ := dec.DecodeString(parts[1])
	sig, _ := dec.DecodeString(parts[2])
	var header struct{ Alg string }
	var claims struct {
		Iss, Sub, Aud, Jti string
		Nbf, Exp           int64
	}
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client"})
		return
	}
	s.mu.Lock()
	var a *agent
	for _, x := range s.agents {
		if x.ClientID == claims.Iss {
			a = x
		}
	}
	s.mu.Unlock()
	now := time.Now().Unix()
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	var verr error = fmt.Errorf("no agent")
	if a != nil {
		switch header.Alg {
		case "RS256":
			verr = rsa.VerifyPKCS1v15(a.Key, crypto.SHA256, sum[:], sig)
		case "PS256":
			verr = rsa.VerifyPSS(a.Key, crypto.SHA256, sum[:], sig, nil)
		default:
			verr = fmt.Errorf("alg %s", header.Alg)
		}
	}
	if verr != nil || claims.Sub != claims.Iss || claims.Aud != s.URL+"/oauth/token" || claims.Jti == "" ||
		claims.Nbf > now+60 || claims.Exp < now || claims.Exp-claims.Nbf > 600 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": fmt.Sprint(verr)})
		return
	}
	tok := "runner" + randHex(16)
	s.mu.Lock()
	s.tokens[tok] = a.ID
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": 3600})
}

// JobsByRunner counts the completed jobs by the runner that acquired them.
func (s *Server) JobsByRunner() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, j := range s.jobs {
		if a := s.agents[j.acquiredBy]; a != nil && len(j.Completions) > 0 {
			out[a.Name]++
		}
	}
	return out
}

// ExpireSessions forgets every session, as the service does with an
// idle or stale one; a runner must create a new one.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	s.sessions = map[string]*sess{}
	s.mu.Unlock()
}

// RevokeTokens makes every runner access token invalid (an expired token).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]int64{}
	s.mu.Unlock()
}

// RemoveAgent deletes a runner server-side (as a user would in settings).
func (s *Server) RemoveAgent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, a := range s.agents {
		if a.Name == name {
			delete(s.agents, id)
			for tok, aid := range s.tokens {
				if aid == id {
					delete(s.tokens, tok)
				}
			}
		}
	}
}

// runnerAgent is the agent a request's bearer token belongs to.
func (s *Server) runnerAgent(r *http.Request) *agent {
	tok := bearer(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.tokens[tok]
	if !ok {
		return nil
	}
	return s.agents[id]
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return h[7:]
	}
	return ""
}

var services = []struct{ id, area, resource, path string }{
	{"a8c47e17-4d56-4a56-92bb-de7ea7dc65be", "distributedtask", "pools", "_apis/{area}/{resource}/{poolId}"},
	{"e298ef32-5878-4cab-993c-043836571f42", "distributedtask", "agents", "_apis/{area}/pools/{poolId}/{resource}/{agentId}"},
	{"134e239e-2df3-4794-a6f6-24f1f19ec8dc", "distributedtask", "sessions", "_apis/{area}/pools/{poolId}/{resource}/{sessionId}"},
	{"c3a054f6-7a8a-49c0-944e-3a8e5d7adfd7", "distributedtask", "messages", "_apis/{area}/pools/{poolId}/{resource}/{messageId}"},
	{"fc825784-c92a-4299-9221-998a02d1b54f", "distributedtask", "jobrequests", "_apis/{area}/pools/{poolId}/{resource}/{requestId}"},
	{"557624af-b29e-4c20-8ab0-0399d2204f3f", "distributedtask", "events", "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/{resource}"},
	{"8893bc5b-35b2-4be7-83cb-99e683551db4", "distributedtask", "records", "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/timelines/{timelineId}/{resource}"},
	{"858983e4-19bd-4c5e-864c-507b59b58b12", "distributedtask", "feed", "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/timelines/{timelineId}/records/{recordId}/{resource}"},
	{"46f5667d-263a-4684-91b1-dff7fdcf64e2", "distributedtask", "logs", "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/{resource}/{logId}"},
	{"7898f959-9cdf-4096-b29e-7f293031629e", "distributedtask", "attachments", "{scopeIdentifier}/_apis/{area}/hubs/{hubName}/plans/{planId}/timelines/{timelineId}/records/{recordId}/{resource}/{type}/{name}"},
}

func (s *Server) connectionData(w http.ResponseWriter) {
	var defs []map[string]any
	for _, sv := range services {
		defs = append(defs, map[string]any{"serviceType": sv.area, "identifier": sv.id, "displayName": sv.resource,
			"relativePath": "/" + sv.path, "relativeToSetting": "fullyQualified"})
	}
	writeJSON(w, http.StatusOK, map[string]any{"locationServiceData": map[string]any{"serviceDefinitions": defs}})
}

func readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// tenantAPI serves the pool (pools, agents, sessions, messages, job
// requests) and the plan APIs (events, records, feed, logs, attachments).
func (s *Server) tenantAPI(w http.ResponseWriter, r *http.Request, p string) {
	seg := strings.Split(strings.Trim(p, "/"), "/")
	if len(seg) >= 3 && seg[0] == "_apis" && seg[1] == "distributedtask" && seg[2] == "pools" {
		s.poolAPI(w, r, seg[3:])
		return
	}
	// {scope}/_apis/distributedtask/hubs/{hub}/plans/{plan}/...
	if len(seg) >= 6 && seg[1] == "_apis" && seg[3] == "hubs" && seg[5] == "plans" {
		s.planAPI(w, r, seg[6:])
		return
	}
	http.Error(w, "unknown tenant API "+p, http.StatusNotFound)
}

func (s *Server) poolAPI(w http.ResponseWriter, r *http.Request, seg []string) {
	if len(seg) == 0 {
		if bearer(r) != s.tenant && s.runnerAgent(r) == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeJSON(w, 200, map[string]any{"count": 2, "value": []any{
			map[string]any{"id": 2, "name": "Azure Pipelines", "isHosted": true},
			map[string]any{"id": 1, "name": "Default", "isHosted": false}}})
		return
	}
	if len(seg) < 2 || seg[0] != "1" {
		http.Error(w, "no such pool", http.StatusNotFound)
		return
	}
	switch seg[1] {
	case "agents":
		s.agentsAPI(w, r, seg[2:])
	case "sessions":
		s.sessionsAPI(w, r, seg[2:])
	case "messages":
		s.messagesAPI(w, r, seg[2:])
	case "jobrequests":
		s.renewLegacy(w, r, seg[2:])
	default:
		http.Error(w, "unknown pool API", http.StatusNotFound)
	}
}

func (s *Server) agentsAPI(w http.ResponseWriter, r *http.Request, seg []string) {
	switch {
	case r.Method == "GET" && bearer(r) == s.tenant:
		name := r.URL.Query().Get("agentName")
		var out []any
		s.mu.Lock()
		for _, a := range s.agents {
			if strings.EqualFold(a.Name, name) {
				out = append(out, map[string]any{"id": a.ID, "name": a.Name})
			}
		}
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"count": len(out), "value": out})
	case r.Method == "POST" && bearer(r) == s.tenant:
		var body struct {
			Name          string
			Ephemeral     bool
			Labels        []struct{ Name, Type string }
			Authorization struct {
				PublicKey struct{ Exponent, Modulus string }
			}
		}
		if err := readJSON(r, &body); err != nil || body.Name == "" {
			http.Error(w, "bad agent", http.StatusBadRequest)
			return
		}
		e, _ := base64.StdEncoding.DecodeString(body.Authorization.PublicKey.Exponent)
		m, _ := base64.StdEncoding.DecodeString(body.Authorization.PublicKey.Modulus)
		if len(m) < 256 || len(e) == 0 {
			http.Error(w, "the agent's public key is missing or short", http.StatusBadRequest)
			return
		}
		var labels []string
		for _, l := range body.Labels {
			labels = append(labels, l.Name)
		}
		pk := &rsa.PublicKey{N: new(big.Int).SetBytes(m), E: int(new(big.Int).SetBytes(e).Int64())}
		a := s.addAgent(body.Name, pk, body.Ephemeral, labels)
		props := map[string]any{"RequireFipsCryptography": map[string]any{"$type": "System.Boolean", "$value": false}}
		if s.opts.Broker {
			props["ServerUrlV2"] = map[string]any{"$type": "System.String", "$value": s.URL + "/broker/"}
			props["UseV2Flow"] = map[string]any{"$type": "System.Boolean", "$value": true}
		}
		writeJSON(w, 200, map[string]any{"id": a.ID, "name": a.Name, "authorization": map[string]any{
			"authorizationUrl": s.URL + "/oauth/token", "clientId": a.ClientID}, "properties": props})
	case r.Method == "DELETE" && len(seg) == 1:
		a := s.runnerAgent(r)
		if a == nil || strconv.FormatInt(a.ID, 10) != seg[0] {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		s.RemoveAgent(a.Name)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	a := s.runnerAgent(r)
	if a == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var body struct {
		OwnerName string
		Agent     struct {
			ID   int64
			Name string
		}
	}
	if err := readJSON(r, &body); err != nil || body.Agent.ID != a.ID {
		http.Error(w, "the session's agent is not the token's", http.StatusBadRequest)
		return
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, a.Key, key, nil) //nolint:gosec // protocol-mandated
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	se := &sess{id: newGUID(), agent: a.ID, key: key, wake: make(chan struct{}, 1)}
	s.mu.Lock()
	for _, o := range s.sessions {
		if o.agent == a.ID {
			s.mu.Unlock()
			http.Error(w, `{"message":"A session for this runner already exists."}`, http.StatusConflict)
			return
		}
	}
	s.sessions[se.id] = se
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"sessionId": se.id, "ownerName": body.OwnerName, "agent": map[string]any{"id": a.ID, "name": a.Name},
		"useFipsEncryption": false, "encryptionKey": map[string]any{"encrypted": true, "value": base64.StdEncoding.EncodeToString(wrapped)}})
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, id string) {
	a := s.runnerAgent(r)
	if a == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid, se := range s.sessions {
		if se.agent == a.ID && (id == "" || sid == id) {
			delete(s.sessions, sid)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	http.Error(w, "no session", http.StatusNotFound)
}

func (s *Server) sessionsAPI(w http.ResponseWriter, r *http.Request, seg []string) {
	if s.opts.Broker && r.Method == "POST" {
		// The pool tells a v2 runner to move to the broker.
		if s.runnerAgent(r) == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeJSON(w, 200, map[string]any{"brokerMigrationMessage": map[string]any{"brokerBaseUrl": s.URL + "/broker/"}})
		return
	}
	switch {
	case r.Method == "POST" && len(seg) == 0:
		s.createSession(w, r)
	case r.Method == "DELETE" && len(seg) == 1:
		s.deleteSession(w, r, seg[0])
	default:
		http.Error(w, "bad session call", http.StatusBadRequest)
	}
}

// nextMessage waits PollWait for a message for the session: one from its
// inbox, or a queued job when the agent runs none.
func (s *Server) nextMessage(r *http.Request, sessionID string, a *agent) (*msg, *sess, int) {
	deadline := time.After(s.opts.PollWait)
	for {
		s.mu.Lock()
		se := s.sessions[sessionID]
		if se == nil || se.agent != a.ID {
			s.mu.Unlock()
			return nil, nil, http.StatusNotFound
		}
		if len(se.inbox) > 0 {
			m := se.inbox[0]
			if s.opts.Broker {
				se.inbox = se.inbox[1:]
			}
			s.mu.Unlock()
			return &m, se, 200
		}
		busy := false
		for _, j := range s.jobs {
			// An ephemeral runner gets one job, ever: the service
			// deletes it after that job.
			if j.acquiredBy == a.ID && (len(j.Completions) == 0 || a.Ephemeral) {
				busy = true
			}
		}
		if !busy && len(s.queue) > 0 {
			j := s.queue[0]
			s.queue = s.queue[1:]
			s.nextMsg++
			m := s.jobMessage(j, a)
			m.id = s.nextMsg
			if !s.opts.Broker {
				se.inbox = append(se.inbox, m) // redelivered until deleted
			}
			s.mu.Unlock()
			return &m, se, 200
		}
		wake := s.jobsWaker
		s.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			return nil, nil, http.StatusAccepted
		case <-r.Context().Done():
			return nil, nil, 0
		}
	}
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, sessionID string) {
	a := s.runnerAgent(r)
	if a == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	if q.Get("status") == "" || q.Get("runnerVersion") == "" {
		http.Error(w, "status and runnerVersion are required", http.StatusBadRequest)
		return
	}
	m, se, status := s.nextMessage(r, sessionID, a)
	switch {
	case status == 0:
		return
	case status == http.StatusNotFound:
		writeJSON(w, http.StatusNotFound, map[string]any{"errorKind": "RunnerSessionInvalid", "errorMessage": "session not found"})
		return
	case m == nil:
		w.WriteHeader(http.StatusAccepted)
		return
	}
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	block, _ := aes.NewCipher(se.key)
	plain := append([]byte("\uFEFF"), m.body...) // the service's writer adds a BOM
	pad := 16 - len(plain)%16
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(plain, plain)
	writeJSON(w, 200, map[string]any{"messageId": m.id, "messageType": m.typ,
		"iv": base64.StdEncoding.EncodeToString(iv), "body": base64.StdEncoding.EncodeToString(plain)})
}

func (s *Server) messagesAPI(w http.ResponseWriter, r *http.Request, seg []string) {
	switch {
	case r.Method == "GET" && len(seg) == 0:
		s.sendMessage(w, r, r.URL.Query().Get("sessionId"))
	case r.Method == "DELETE" && len(seg) == 1:
		id, _ := strconv.ParseInt(seg[0], 10, 64)
		s.mu.Lock()
		se := s.sessions[r.URL.Query().Get("sessionId")]
		if se != nil {
			for i, m := range se.inbox {
				if m.id == id {
					se.inbox = append(se.inbox[:i:i], se.inbox[i+1:]...)
					break
				}
			}
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "bad message call", http.StatusBadRequest)
	}
}

func (s *Server) brokerAPI(w http.ResponseWriter, r *http.Request, p string) {
	switch {
	case p == "session" && r.Method == "POST":
		s.createSession(w, r)
	case p == "session" && r.Method == "DELETE":
		s.deleteSession(w, r, "")
	case p == "message" && r.Method == "GET":
		s.sendMessage(w, r, r.URL.Query().Get("sessionId"))
	case p == "acknowledge" && r.Method == "POST":
		var body struct {
			RunnerRequestID string `json:"runnerRequestId"`
		}
		if s.runnerAgent(r) == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if err := readJSON(r, &body); err != nil || body.RunnerRequestID == "" {
			http.Error(w, "runnerRequestId required", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "unknown broker API", http.StatusNotFound)
	}
}

// jobMessage is the message offering j to a: the full job on the pool
// flow, a RunnerJobRequest reference on the broker flow. s.mu is held.
func (s *Server) jobMessage(j *Job, a *agent) msg {
	if s.opts.Broker {
		j.acquiredBy = 0
		body, _ := json.Marshal(map[string]any{"id": j.requestID, "runner_request_id": j.requestID,
			"run_service_url": s.URL + "/run/", "billing_owner_id": "owner1"})
		return msg{typ: "RunnerJobRequest", body: body}
	}
	j.acquiredBy = a.ID
	j.AcquireCount++
	return msg{typ: "PipelineAgentJobRequest", body: s.jobBody(j, "PipelineAgentJobRequest")}
}

// jobBody is the AgentJobRequestMessage of j. s.mu is held.
func (s *Server) jobBody(j *Job, typ string) []byte {
	if j.Spec.Raw != nil {
		var m map[string]any
		if json.Unmarshal(j.Spec.Raw, &m) == nil {
			m["jobId"] = j.ID
			m["plan"] = map[string]any{"scopeIdentifier": "scope", "planId": j.planID, "planType": "actions", "version": 1}
			m["timeline"] = map[string]any{"id": j.timelineID}
			m["resources"] = s.resources(j)
			data, _ := json.Marshal(m)
			return data
		}
		return j.Spec.Raw
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(j.Spec.YAML), &doc); err != nil {
		s.T.Errorf("job %s: YAML: %v", j.Spec.Name, err)
		return []byte("{}")
	}
	root := doc.Content[0]
	get := func(n *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	m := map[string]any{
		"messageType": typ, "jobId": j.ID, "jobName": j.Spec.Name, "jobDisplayName": j.Spec.Name,
		"requestId": 7, "lockedUntil": time.Now().Add(10 * time.Minute).Format(time.RFC3339),
		"plan":      map[string]any{"scopeIdentifier": "scope", "planId": j.planID, "planType": "actions", "version": 1},
		"timeline":  map[string]any{"id": j.timelineID, "changeId": 1},
		"resources": s.resources(j),
	}
	if n := get(root, "name"); n != nil {
		m["jobDisplayName"] = n.Value
	}
	for key, field := range map[string]string{"container": "jobContainer", "services": "jobServiceContainers", "outputs": "jobOutputs"} {
		if n := get(root, key); n != nil {
			m[field] = token(n)
		}
	}
	if n := get(root, "env"); n != nil {
		m["environmentVariables"] = []any{token(n)}
	}
	if n := get(root, "defaults"); n != nil {
		m["defaults"] = []any{token(n)}
	}
	var steps []any
	if sn := get(root, "steps"); sn != nil {
		for i, st := range sn.Content {
			steps = append(steps, stepMessage(st, i, get))
		}
	}
	m["steps"] = steps
	vars := map[string]any{
		"system.github.token":            map[string]any{"value": j.token, "isSecret": true},
		"system.github.results_endpoint": map[string]any{"value": s.URL + "/results/"},
		"github_token":                   map[string]any{"value": j.token, "isSecret": true},
	}
	for k, v := range j.Spec.Secrets {
		vars[k] = map[string]any{"value": v, "isSecret": true}
	}
	m["variables"] = vars
	var mask []any
	for _, v := range j.Spec.Secrets {
		mask = append(mask, map[string]any{"type": "regex", "value": v})
	}
	m["mask"] = mask
	event := j.Spec.Event
	if event == "" {
		event = "push"
	}
	payload := j.Spec.Payload
	if payload == nil {
		payload = map[string]any{"ref": "refs/heads/main"}
	}
	gh := map[string]any{"event_name": event, "event": payload, "repository": "octo/repo", "ref": "refs/heads/main",
		"sha": "0123456789abcdef0123456789abcdef01234567", "run_id": "99", "run_number": "1", "workflow": "CI",
		"workflow_ref": "octo/repo/.github/workflows/ci.yml@refs/heads/main", "server_url": s.URL,
		"api_url": s.URL + "/api/v3", "actor": "octocat", "job": j.Spec.Name, "token": j.token}
	ctx := map[string]any{"github": contextData(gh), "vars": contextData(j.Spec.Vars), "inputs": contextData(map[string]any{})}
	if j.Spec.Matrix != nil {
		ctx["matrix"] = contextData(j.Spec.Matrix)
	}
	if j.Spec.Needs != nil {
		ctx["needs"] = contextData(j.Spec.Needs)
	}
	m["contextData"] = ctx
	data, _ := json.Marshal(m)
	return data
}

func (s *Server) resources(j *Job) map[string]any {
	return map[string]any{"endpoints": []any{map[string]any{
		"name": "SystemVssConnection", "url": s.URL + "/tenant/",
		"authorization": map[string]any{"scheme": "OAuth", "parameters": map[string]any{"AccessToken": j.token}},
		"data": map[string]any{"CacheServerUrl": s.URL + "/cache/", "ResultsServiceUrl": s.URL + "/results/",
			"GenerateIdTokenUrl": s.URL + "/oidc/token"},
	}}}
}

func stepMessage(st *yaml.Node, i int, get func(*yaml.Node, string) *yaml.Node) map[string]any {
	step := map[string]any{"id": newGUID(), "type": "action", "contextName": fmt.Sprintf("__step%d", i)}
	if n := get(st, "id"); n != nil {
		step["contextName"] = n.Value
	}
	if n := get(st, "name"); n != nil {
		step["displayNameToken"] = token(n)
	}
	cond := "success()"
	if n := get(st, "if"); n != nil {
		cond = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(n.Value), "${{"), "}}")
	}
	step["condition"] = strings.TrimSpace(cond)
	for key, field := range map[string]string{"env": "environment", "continue-on-error": "continueOnError", "timeout-minutes": "timeoutInMinutes"} {
		if n := get(st, key); n != nil {
			step[field] = token(n)
		}
	}
	if run := get(st, "run"); run != nil {
		step["reference"] = map[string]any{"type": "script"}
		inputs := &yaml.Node{Kind: yaml.MappingNode}
		inputs.Content = append(inputs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "script", Line: 1}, run)
		if sh := get(st, "shell"); sh != nil {
			inputs.Content = append(inputs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "shell", Line: 1}, sh)
		}
		if wd := get(st, "working-directory"); wd != nil {
			inputs.Content = append(inputs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "workingDirectory", Line: 1}, wd)
		}
		step["inputs"] = token(inputs)
		return step
	}
	uses := ""
	if n := get(st, "uses"); n != nil {
		uses = n.Value
	}
	switch {
	case strings.HasPrefix(uses, "docker://"):
		step["reference"] = map[string]any{"type": "containerRegistry", "image": strings.TrimPrefix(uses, "docker://")}
	case strings.HasPrefix(uses, "./"):
		step["reference"] = map[string]any{"type": "repository", "repositoryType": "self", "path": uses}
	default:
		name, ref, _ := strings.Cut(uses, "@")
		parts := strings.SplitN(name, "/", 3)
		r := map[string]any{"type": "repository", "repositoryType": "GitHub", "name": strings.Join(parts[:min(2, len(parts))], "/"), "ref": ref}
		if len(parts) == 3 {
			r["path"] = parts[2]
		}
		step["reference"] = r
	}
	if n := get(st, "with"); n != nil {
		step["inputs"] = token(n)
	}
	return step
}

// jobFor is the job a run-service or plan call is about, by its token.
func (s *Server) jobFor(r *http.Request) *Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.jobTokens[bearer(r)]
	if !ok {
		return nil
	}
	return s.jobs[id]
}

func (s *Server) runAPI(w http.ResponseWriter, r *http.Request, p string) {
	switch p {
	case "acquirejob":
		a := s.runnerAgent(r)
		if a == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var body struct {
			JobMessageID   string `json:"jobMessageId"`
			BillingOwnerID string `json:"billingOwnerId"`
		}
		if err := readJSON(r, &body); err != nil || body.JobMessageID == "" {
			http.Error(w, "jobMessageId required", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		var j *Job
		for _, x := range s.jobs {
			if x.requestID == body.JobMessageID {
				j = x
			}
		}
		switch {
		case j == nil:
			s.mu.Unlock()
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "job not found"})
			return
		case j.acquiredBy != 0 && j.acquiredBy != a.ID:
			s.mu.Unlock()
			writeJSON(w, http.StatusConflict, map[string]any{"code": 409, "message": "job already acquired"})
			return
		}
		j.acquiredBy = a.ID
		j.AcquireCount++
		data := s.jobBody(j, "RunnerJobRequest")
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(data)
	case "renewjob":
		j := s.jobFor(r)
		var body struct{ PlanID, JobID string }
		if err := readJSON(r, &body); err != nil || j == nil || body.JobID != j.ID || body.PlanID != j.planID {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "job not found"})
			return
		}
		s.mu.Lock()
		gone := j.gone
		j.Renewals++
		s.mu.Unlock()
		if gone {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "job not found"})
			return
		}
		writeJSON(w, 200, map[string]any{"lockedUntil": time.Now().Add(10 * time.Minute).Format(time.RFC3339)})
	case "completejob":
		j := s.jobFor(r)
		var body struct {
			PlanID      string `json:"planId"`
			JobID       string `json:"jobId"`
			Conclusion  string `json:"conclusion"`
			Outputs     map[string]struct{ Value string }
			StepResults []map[string]any `json:"stepResults"`
			Annotations []map[string]any `json:"annotations"`
		}
		err := readJSON(r, &body)
		if j == nil {
			// A restarted runner completes with its own credentials.
			if a := s.runnerAgent(r); a != nil {
				s.mu.Lock()
				if x := s.jobs[body.JobID]; x != nil && x.acquiredBy == a.ID {
					j = x
				}
				s.mu.Unlock()
			}
		}
		if err != nil || j == nil || body.JobID != j.ID || body.PlanID != j.planID {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 404, "message": "job not found"})
			return
		}
		c := Completion{Conclusion: body.Conclusion, Outputs: map[string]string{}, StepResults: body.StepResults, Annotations: body.Annotations}
		for k, v := range body.Outputs {
			c.Outputs[k] = v.Value
		}
		s.complete(j, c)
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "unknown run service API", http.StatusNotFound)
	}
}

func (s *Server) complete(j *Job, c Completion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j.Completions = append(j.Completions, c)
	if len(j.Completions) == 1 {
		close(j.done)
	}
	s.wakeAll()
}

func (s *Server) renewLegacy(w http.ResponseWriter, r *http.Request, seg []string) {
	if s.runnerAgent(r) == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method != "PATCH" || len(seg) != 1 || r.URL.Query().Get("lockToken") == "" {
		http.Error(w, "bad renewal", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j.acquiredBy != 0 && len(j.Completions) == 0 {
			if j.gone {
				http.Error(w, "job not found", http.StatusNotFound)
				return
			}
			j.Renewals++
		}
	}
	writeJSON(w, 200, map[string]any{"requestId": seg[0], "lockedUntil": time.Now().Add(10 * time.Minute)})
}

// planAPI: events (legacy JobCompleted), timeline records, feed, logs,
// attachments; authenticated with the job's own token.
func (s *Server) planAPI(w http.ResponseWriter, r *http.Request, seg []string) {
	j := s.jobFor(r)
	if j == nil || len(seg) == 0 || seg[0] != j.planID {
		http.Error(w, "unauthorized for this plan", http.StatusUnauthorized)
		return
	}
	seg = seg[1:]
	switch {
	case len(seg) == 1 && seg[0] == "events" && r.Method == "POST":
		var ev struct {
			Name, JobID, Result string
			Outputs             map[string]struct{ Value string }
		}
		if err := readJSON(r, &ev); err != nil || ev.Name != "JobCompleted" || ev.JobID != j.ID {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		c := Completion{Conclusion: ev.Result, Outputs: map[string]string{}}
		for k, v := range ev.Outputs {
			c.Outputs[k] = v.Value
		}
		s.complete(j, c)
		w.WriteHeader(http.StatusOK)
	case len(seg) == 3 && seg[0] == "timelines" && seg[2] == "records" && r.Method == "PATCH":
		var body struct {
			Count int
			Value []map[string]any
		}
		if err := readJSON(r, &body); err != nil || seg[1] != j.timelineID || body.Count != len(body.Value) {
			http.Error(w, "bad records", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		for _, rec := range body.Value {
			id, _ := rec["ID"].(string)
			j.Records[strings.ToLower(id)] = rec
		}
		s.mu.Unlock()
		writeJSON(w, 200, body)
	case len(seg) == 5 && seg[0] == "timelines" && seg[2] == "records" && seg[4] == "feed" && r.Method == "POST":
		var body struct {
			Count     int      `json:"count"`
			Value     []string `json:"value"`
			StepID    string   `json:"stepId"`
			StartLine int64    `json:"startLine"`
		}
		if err := readJSON(r, &body); err != nil || seg[3] != j.ID || body.StepID == "" || body.Count != len(body.Value) {
			http.Error(w, "bad feed", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		j.Feed[body.StepID] = append(j.Feed[body.StepID], body.Value...)
		j.FeedStarts[body.StepID] = append(j.FeedStarts[body.StepID], body.StartLine)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	case len(seg) == 1 && seg[0] == "logs" && r.Method == "POST":
		var body struct {
			Path string `json:"path"`
		}
		if err := readJSON(r, &body); err != nil || body.Path == "" {
			http.Error(w, "bad log", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		id := len(j.logPaths) + 1
		j.logPaths[id] = body.Path
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"id": id, "path": body.Path})
	case len(seg) == 2 && seg[0] == "logs" && r.Method == "POST":
		id, _ := strconv.Atoi(seg[1])
		data, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		p, ok := j.logPaths[id]
		if ok {
			rec := strings.ToLower(strings.TrimPrefix(p, `logs\`))
			j.Logs[rec] += string(data)
		}
		s.mu.Unlock()
		if !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/octet-stream") {
			http.Error(w, "no such log or not a stream", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	case len(seg) == 7 && seg[0] == "timelines" && seg[2] == "records" && seg[4] == "attachments" && r.Method == "PUT":
		data, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		j.Attachments[seg[5]+"/"+seg[6]] = string(data)
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"type": seg[5], "name": seg[6]})
	default:
		http.Error(w, "unknown plan API "+strings.Join(seg, "/")+" "+r.Method, http.StatusNotFound)
	}
}

// Query helper for tests: the URL's path without the server.
func (s *Server) Path(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	return pu.Path
}

type blob struct {
	job      *Job
	kind     string // step-log, job-log, summary
	step     string
	content  []byte
	uploaded bool
}

// resultsAPI is the results service's Twirp JSON surface the runner uses.
func (s *Server) resultsAPI(w http.ResponseWriter, r *http.Request, method string) {
	j := s.jobFor(r)
	var body map[string]any
	if j == nil || r.Method != "POST" || readJSON(r, &body) != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"code": "unauthenticated", "msg": "bad token or body"})
		return
	}
	if body["workflow_run_backend_id"] != j.planID || body["workflow_job_run_backend_id"] != j.ID {
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "not_found", "msg": "no such job"})
		return
	}
	step, _ := body["step_backend_id"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	signed := func(kind, field string) {
		key := randHex(12)
		s.blobs[key] = &blob{job: j, kind: kind, step: step}
		writeJSON(w, 200, map[string]any{field: s.URL + "/blob/" + key + "?sig=" + randHex(8), "blob_storage_type": "BLOB_STORAGE_TYPE_AZURE", "soft_size_limit": 1 << 20})
	}
	meta := func(kind string) {
		for _, b := range s.blobs {
			if b.job == j && b.kind == kind && b.step == step && b.uploaded {
				switch kind {
				case "step-log":
					j.ResultsLogs[strings.ToLower(step)] = string(b.content)
				case "job-log":
					j.ResultsJobLog = string(b.content)
				case "summary":
					j.ResultsSummaries[strings.ToLower(step)] = string(b.content)
				}
				writeJSON(w, 200, map[string]any{"ok": true})
				return
			}
		}
		writeJSON(w, 200, map[string]any{"ok": false})
	}
	switch method {
	case "github.actions.results.api.v1.WorkflowStepUpdateService/WorkflowStepsUpdate":
		order, _ := body["change_order"].(float64)
		if order <= j.lastChange {
			writeJSON(w, http.StatusBadRequest, map[string]string{"code": "invalid_argument", "msg": "change_order must grow"})
			return
		}
		j.lastChange = order
		steps, _ := body["steps"].([]any)
		for _, st := range steps {
			m, _ := st.(map[string]any)
			id, _ := m["external_id"].(string)
			j.ResultsSteps[strings.ToLower(id)] = m
		}
		writeJSON(w, 200, map[string]any{})
	case "results.services.receiver.Receiver/GetStepLogsSignedBlobURL":
		signed("step-log", "logs_url")
	case "results.services.receiver.Receiver/CreateStepLogsMetadata":
		meta("step-log")
	case "results.services.receiver.Receiver/GetJobLogsSignedBlobURL":
		signed("job-log", "logs_url")
	case "results.services.receiver.Receiver/CreateJobLogsMetadata":
		meta("job-log")
	case "results.services.receiver.Receiver/GetStepSummarySignedBlobURL":
		signed("summary", "summary_url")
	case "results.services.receiver.Receiver/CreateStepSummaryMetadata":
		meta("summary")
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"code": "bad_route", "msg": method})
	}
}

// putBlob is the blob store behind a signed URL: no Authorization header
// (the signature is in the URL), an Azure block blob.
func (s *Server) putBlob(w http.ResponseWriter, r *http.Request, key string) {
	data, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blobs[key]
	switch {
	case b == nil || r.URL.Query().Get("sig") == "":
		http.Error(w, "no such blob", http.StatusForbidden)
	case r.Header.Get("Authorization") != "":
		http.Error(w, "a token was sent to the blob store", http.StatusBadRequest)
	case r.Header.Get("x-ms-blob-type") != "BlockBlob":
		http.Error(w, "x-ms-blob-type: BlockBlob is required", http.StatusBadRequest)
	default:
		b.content, b.uploaded = data, true
		w.WriteHeader(http.StatusCreated)
	}
}
