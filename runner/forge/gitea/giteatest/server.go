// Package giteatest is a Gitea Actions server for tests, on the generated
// connect-rpc handlers of code.gitea.io/actions-proto-go. It behaves like
// Gitea's routers/api/actions/runner: runners register with a registration
// token and authenticate every other call with x-runner-uuid and
// x-runner-token; FetchTask only looks for a task when the runner's
// tasks_version differs from the server's, picks one whose runs-on labels
// the runner has, and answers with the latest version; UpdateTask takes
// step states by index and ignores a task already done (but still stores
// outputs and lists every stored key in sent_outputs); UpdateLog accepts
// rows only from the acknowledged index on and archives the log on a call
// with rows and no_more. Faults (dropped connections, 503s) can be injected
// per call.
package giteatest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"
	"code.gitea.io/actions-proto-go/runner/v1/runnerv1connect"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
)

// Fault is what happens to one call.
type Fault int

// Faults.
const (
	None        Fault = iota
	DropBefore        // the connection closes before the server handles the call
	DropAfter         // the server handles the call, then the connection closes unanswered
	Unavailable       // 503 without handling the call
)

// Runner is a registered runner.
type Runner struct {
	ID           int64
	UUID, Token  string
	Name         string
	Version      string
	Labels       []string
	Ephemeral    bool
	Declarations int
	tasks        int
}

// Step is the state of one step as the runner last reported it.
type Step struct {
	Result              runnerv1.Result
	Started, Stopped    time.Time
	LogIndex, LogLength int64
}

// Task is one job on the server.
type Task struct {
	ID       int64
	Payload  []byte
	Context  map[string]any
	Secrets  map[string]string
	Vars     map[string]string
	Needs    map[string]*runnerv1.TaskNeed
	RunsOn   []string // labels a runner must have
	RunnerID int64
	Picks    int // how many times it was handed out (must stay ≤ 1)
	Result   runnerv1.Result
	Done     bool
	Started  time.Time
	Stopped  time.Time
	Steps    []Step
	// States are the task states received, in order.
	States  []*runnerv1.TaskState
	Outputs map[string]string
	Log     []string
	// LogArchived is set by an UpdateLog with rows and no_more.
	LogArchived bool
	Offered     time.Time // when it was handed to a runner
	FirstLog    time.Time // when its first row arrived
}

// Server is the test server.
type Server struct {
	*httptest.Server

	mu      sync.Mutex
	tokens  map[string]bool
	runners map[string]*Runner
	tasks   []*Task
	version int64
	nextID  int64
	// lastRunner numbers runners as Gitea's table does: never reused,
	// even after an ephemeral runner is deleted.
	lastRunner int64
	calls      map[string]int
	polls      []Poll
	changed    chan struct{}

	// Fault decides the fate of the n-th (1-based) call of a procedure
	// ("FetchTask", "UpdateLog", ...); nil means none.
	Fault func(procedure string, n int) Fault
}

// New starts a server on 127.0.0.1; it is closed when the test ends.
func New(t interface {
	Cleanup(func())
}) *Server {
	s := &Server{tokens: map[string]bool{}, runners: map[string]*Runner{}, calls: map[string]int{}, changed: make(chan struct{})}
	path, h := runnerv1connect.NewRunnerServiceHandler(&service{s: s}, connect.WithInterceptors(connect.UnaryInterceptorFunc(s.auth)))
	mux := http.NewServeMux()
	mux.Handle("/api/actions"+path, http.StripPrefix("/api/actions", s.faults(h)))
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// AddRegistrationToken makes token valid for Register.
func (s *Server) AddRegistrationToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

// TaskSpec is a task to queue.
type TaskSpec struct {
	Workflow string // the single-job workflow
	RunsOn   []string
	Context  map[string]any // the github context; defaults are filled in
	Secrets  map[string]string
	Vars     map[string]string
	Needs    map[string]*runnerv1.TaskNeed
}

// AddTask queues a task and returns its id.
func (s *Server) AddTask(spec TaskSpec) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	ctx := map[string]any{
		"event_name": "push", "event": map[string]any{"ref": "refs/heads/main"},
		"repository": "owner/repo", "repository_owner": "owner", "ref": "refs/heads/main",
		"sha": strings.Repeat("a", 40), "run_id": fmt.Sprint(s.nextID), "run_number": "1",
		"server_url": s.URL, "api_url": s.URL + "/api/v1", "actor": "owner",
		"workflow": "ci.yml", "token": fmt.Sprintf("gta_tasktoken%08d", s.nextID),
		"gitea_runtime_token":       fmt.Sprintf("runtime.%08d.jwt", s.nextID),
		"gitea_default_actions_url": s.URL, // answers 404 to a clone: no test reaches out
	}
	for k, v := range spec.Context {
		ctx[k] = v
	}
	s.tasks = append(s.tasks, &Task{
		ID: s.nextID, Payload: []byte(spec.Workflow), Context: ctx, Secrets: spec.Secrets, Vars: spec.Vars,
		Needs: spec.Needs, RunsOn: spec.RunsOn, Outputs: map[string]string{},
	})
	s.version++
	s.notify()
	return s.nextID
}

// Cancel marks a task cancelled, as the web UI's cancel button does.
func (s *Server) Cancel(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.task(id); t != nil && !t.Done {
		t.Done, t.Result, t.Stopped = true, runnerv1.Result_RESULT_CANCELLED, time.Now()
		s.version++
		s.notify()
	}
}

// Task returns a copy of the task.
func (s *Server) Task(id int64) Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.task(id)
	if t == nil {
		return Task{}
	}
	c := *t
	c.Log = append([]string(nil), t.Log...)
	c.Steps = append([]Step(nil), t.Steps...)
	c.States = append([]*runnerv1.TaskState(nil), t.States...)
	c.Outputs = map[string]string{}
	for k, v := range t.Outputs {
		c.Outputs[k] = v
	}
	return c
}

// Runners returns copies of the registered runners.
func (s *Server) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Runner
	for _, r := range s.runners {
		out = append(out, *r)
	}
	return out
}

// Calls is how many times a procedure was called (faulty calls included).
func (s *Server) Calls(procedure string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[procedure]
}

// Poll is one FetchTask handled.
type Poll struct {
	Asked, Answered int64 // tasks_version in the request and in the answer
	Task            bool  // a task was handed out
}

// Polls are the FetchTask calls handled, in order.
func (s *Server) Polls() []Poll {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Poll(nil), s.polls...)
}

// Wait waits until cond holds (checked under the server's lock after every
// change) or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(s *Server) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitDone waits until the runner reported the task done (or it was cancelled
// and the runner's closing log row arrived).
func (s *Server) WaitDone(ctx context.Context, id int64) (Task, error) {
	err := s.Wait(ctx, func(s *Server) bool {
		t := s.Task(id)
		return t.Done && t.LogArchived
	})
	return s.Task(id), err
}

func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) task(id int64) *Task {
	for _, t := range s.tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}

type runnerKey struct{}

// auth checks the runner headers on every call but Register, as Gitea's
// withRunner interceptor does.
func (s *Server) auth(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().Procedure == runnerv1connect.RunnerServiceRegisterProcedure {
			return next(ctx, req)
		}
		uuid, token := req.Header().Get("x-runner-uuid"), req.Header().Get("x-runner-token")
		s.mu.Lock()
		r := s.runners[uuid]
		s.mu.Unlock()
		if r == nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("unregistered runner"))
		}
		if r.Token != token {
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("runner token mismatch"))
		}
		return next(context.WithValue(ctx, runnerKey{}, r), req)
	}
}

// faults applies Fault to each call.
func (s *Server) faults(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proc := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		s.mu.Lock()
		s.calls[proc]++
		n := s.calls[proc]
		fault := s.Fault
		s.mu.Unlock()
		f := None
		if fault != nil {
			f = fault(proc, n)
		}
		switch f {
		case Unavailable:
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		case DropBefore:
			drop(w)
		case DropAfter:
			h.ServeHTTP(httptest.NewRecorder(), r)
			drop(w)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func drop(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

type service struct {
	runnerv1connect.UnimplementedRunnerServiceHandler
	s *Server
}

func (v *service) Register(_ context.Context, req *connect.Request[runnerv1.RegisterRequest]) (*connect.Response[runnerv1.RegisterResponse], error) {
	s := v.s
	if req.Msg.Token == "" || req.Msg.Name == "" {
		return nil, errors.New("missing runner token, name")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tokens[req.Msg.Token] {
		return nil, errors.New("runner registration token not found")
	}
	s.lastRunner++
	id := s.lastRunner
	r := &Runner{
		ID: id, UUID: fmt.Sprintf("uuid-%04d-%d", id, time.Now().UnixNano()), Token: fmt.Sprintf("rtok%040d", time.Now().UnixNano()),
		Name: req.Msg.Name, Version: req.Msg.Version, Labels: req.Msg.Labels, Ephemeral: req.Msg.Ephemeral,
	}
	s.runners[r.UUID] = r
	s.notify()
	return connect.NewResponse(&runnerv1.RegisterResponse{Runner: &runnerv1.Runner{
		Id: r.ID, Uuid: r.UUID, Token: r.Token, Name: r.Name, Version: r.Version, Labels: r.Labels, Ephemeral: r.Ephemeral,
	}}), nil
}

func (v *service) Declare(ctx context.Context, req *connect.Request[runnerv1.DeclareRequest]) (*connect.Response[runnerv1.DeclareResponse], error) {
	s := v.s
	r := ctx.Value(runnerKey{}).(*Runner)
	s.mu.Lock()
	defer s.mu.Unlock()
	r.Labels, r.Version = req.Msg.Labels, req.Msg.Version
	r.Declarations++
	return connect.NewResponse(&runnerv1.DeclareResponse{Runner: &runnerv1.Runner{
		Id: r.ID, Uuid: r.UUID, Token: r.Token, Name: r.Name, Version: r.Version, Labels: r.Labels,
	}}), nil
}

func (v *service) FetchTask(ctx context.Context, req *connect.Request[runnerv1.FetchTaskRequest]) (*connect.Response[runnerv1.FetchTaskResponse], error) {
	s := v.s
	r := ctx.Value(runnerKey{}).(*Runner)
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &runnerv1.FetchTaskResponse{TasksVersion: s.version}
	defer func() {
		s.polls = append(s.polls, Poll{Asked: req.Msg.TasksVersion, Answered: resp.TasksVersion, Task: resp.Task != nil})
	}()
	if req.Msg.TasksVersion == s.version {
		return connect.NewResponse(resp), nil
	}
	if r.Ephemeral && r.tasks > 0 {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New("ephemeral runner already took its task"))
	}
	for _, t := range s.tasks {
		if t.RunnerID != 0 || t.Done || !hasAll(r.Labels, t.RunsOn) {
			continue
		}
		t.RunnerID, t.Picks, t.Started, t.Offered = r.ID, t.Picks+1, time.Now(), time.Now()
		r.tasks++
		c, err := structpb.NewStruct(t.Context)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		resp.Task = &runnerv1.Task{Id: t.ID, WorkflowPayload: t.Payload, Context: c, Secrets: t.Secrets, Vars: t.Vars, Needs: t.Needs}
		s.notify()
		break
	}
	return connect.NewResponse(resp), nil
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if strings.EqualFold(h, w) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (v *service) UpdateTask(ctx context.Context, req *connect.Request[runnerv1.UpdateTaskRequest]) (*connect.Response[runnerv1.UpdateTaskResponse], error) {
	s := v.s
	r := ctx.Value(runnerKey{}).(*Runner)
	st := req.Msg.State
	if st == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("no state"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.task(st.Id)
	if t == nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("update task: task %d not found", st.Id))
	}
	if t.RunnerID != r.ID {
		return nil, connect.NewError(connect.CodeInternal, errors.New("update task: invalid runner for task"))
	}
	if !t.Done {
		t.States = append(t.States, st)
		if len(t.Steps) == 0 {
			t.Steps = make([]Step, steps(t.Payload))
		}
		for _, ss := range st.Steps {
			if ss.Id < 0 || ss.Id >= int64(len(t.Steps)) {
				continue
			}
			t.Steps[ss.Id] = Step{Result: ss.Result, Started: ss.StartedAt.AsTime(), Stopped: ss.StoppedAt.AsTime(), LogIndex: ss.LogIndex, LogLength: ss.LogLength}
			if ss.StartedAt == nil {
				t.Steps[ss.Id].Started = time.Time{}
			}
			if ss.StoppedAt == nil {
				t.Steps[ss.Id].Stopped = time.Time{}
			}
		}
		if st.Result != runnerv1.Result_RESULT_UNSPECIFIED {
			t.Done, t.Result, t.Stopped = true, st.Result, st.StoppedAt.AsTime()
			s.version++
			if r.Ephemeral {
				delete(s.runners, r.UUID) // Gitea deletes an ephemeral runner after its task
			}
		}
	}
	for k, val := range req.Msg.Outputs {
		if _, ok := t.Outputs[k]; !ok && len(k) <= 255 && len(val) <= 1<<20 {
			t.Outputs[k] = val
		}
	}
	sent := make([]string, 0, len(t.Outputs))
	for k := range t.Outputs {
		sent = append(sent, k)
	}
	s.notify()
	return connect.NewResponse(&runnerv1.UpdateTaskResponse{
		State:       &runnerv1.TaskState{Id: t.ID, Result: taskResult(t)},
		SentOutputs: sent,
	}), nil
}

// taskResult is what Gitea answers: unspecified while the task runs.
func taskResult(t *Task) runnerv1.Result {
	if !t.Done {
		return runnerv1.Result_RESULT_UNSPECIFIED
	}
	return t.Result
}

func (v *service) UpdateLog(ctx context.Context, req *connect.Request[runnerv1.UpdateLogRequest]) (*connect.Response[runnerv1.UpdateLogResponse], error) {
	s := v.s
	r := ctx.Value(runnerKey{}).(*Runner)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.task(req.Msg.TaskId)
	if t == nil {
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("get task: task %d not found", req.Msg.TaskId))
	}
	if t.RunnerID != r.ID {
		return nil, connect.NewError(connect.CodeInternal, errors.New("invalid runner for task"))
	}
	ack := int64(len(t.Log))
	rows := req.Msg.Rows
	if len(rows) == 0 || req.Msg.Index > ack || int64(len(rows))+req.Msg.Index <= ack {
		return connect.NewResponse(&runnerv1.UpdateLogResponse{AckIndex: ack}), nil
	}
	if t.LogArchived {
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("log file has been archived"))
	}
	for _, row := range rows[ack-req.Msg.Index:] {
		if t.FirstLog.IsZero() {
			t.FirstLog = time.Now()
		}
		t.Log = append(t.Log, row.Content)
	}
	if req.Msg.NoMore {
		t.LogArchived = true
	}
	s.notify()
	return connect.NewResponse(&runnerv1.UpdateLogResponse{AckIndex: int64(len(t.Log))}), nil
}
