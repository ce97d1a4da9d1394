// Package gitea speaks the runner protocol of Gitea and Forgejo
// (code.gitea.io/actions-proto-go over connect-rpc): register with a
// registration token, declare the runner's labels, poll for tasks with
// tasks_version, and report each task's step states, outputs and log rows
// back. It knows nothing of steps beyond what report.Job tells it.
package gitea

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"
	"code.gitea.io/actions-proto-go/runner/v1/runnerv1connect"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gantry-ci/gantry/runner/forge"
)

// Name is the forge kind this package registers.
const Name = "gitea"

func init() {
	forge.RegisterProtocol(Name, func(o forge.Options) forge.Protocol { return New(o) })
}

// Header names Gitea's server checks on every call but Register (and Ping).
const (
	headerUUID  = "x-runner-uuid"
	headerToken = "x-runner-token"
)

// Timing is how often the runner talks to the server; tests shorten it.
type Timing struct {
	IdleMin, IdleMax   time.Duration // wait after a poll without a task: doubles from min to max
	ErrorMin, ErrorMax time.Duration // wait after a failed call: doubles from min to max
	Report             time.Duration // how often a running task's logs and state are sent
	// GiveUp bounds how long the final report of a task is retried.
	GiveUp time.Duration
}

// DefaultTiming is what a real runner uses.
var DefaultTiming = Timing{
	IdleMin: time.Second, IdleMax: 10 * time.Second,
	ErrorMin: time.Second, ErrorMax: time.Minute,
	Report: time.Second, GiveUp: 10 * time.Minute,
}

// Protocol is the Gitea/Forgejo runner protocol.
type Protocol struct {
	opts   forge.Options
	Timing Timing
}

// New makes the protocol.
func New(o forge.Options) *Protocol {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollError == nil {
		o.PollError = func(error) {}
	}
	return &Protocol{opts: o, Timing: DefaultTiming}
}

// creds are the protocol's part of forge.Credentials.Data.
type creds struct {
	Address string `json:"address"` // the instance's root URL
	ID      int64  `json:"id"`
	UUID    string `json:"uuid"`
	Token   string `json:"token"`
}

// addresses are where the instance may be for a URL the user gave: the URL
// itself (Gitea may live under a sub-path), then shorter paths down to the
// host, since users also paste an organisation or repository URL.
func addresses(raw string) ([]string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--url %q: give the instance URL, e.g. https://gitea.example.com", raw)
	}
	var out []string
	p := strings.TrimSuffix(u.Path, "/")
	for {
		out = append(out, u.Scheme+"://"+u.Host+p)
		if p == "" {
			return out, nil
		}
		p = p[:strings.LastIndex(p, "/")]
	}
}

func (p *Protocol) client(addr string, c *creds) runnerv1connect.RunnerServiceClient {
	var opts []connect.ClientOption
	if c != nil {
		opts = append(opts, connect.WithInterceptors(authInterceptor{uuid: c.UUID, token: c.Token}))
	}
	return runnerv1connect.NewRunnerServiceClient(p.opts.HTTPClient, addr+"/api/actions", opts...)
}

// authInterceptor adds the runner's uuid and token to every call but
// Register, as Gitea's server checks them.
type authInterceptor struct{ uuid, token string }

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().Procedure != runnerv1connect.RunnerServiceRegisterProcedure {
			req.Header().Set(headerUUID, a.uuid)
			req.Header().Set(headerToken, a.token)
		}
		return next(ctx, req)
	}
}

func (a authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Register implements forge.Protocol.
func (p *Protocol) Register(ctx context.Context, reg forge.Registration) (*forge.Credentials, error) {
	addrs, err := addresses(reg.URL)
	if err != nil {
		return nil, err
	}
	if reg.Token == "" {
		return nil, errors.New("a registration token is required (Site/Organisation/Repository settings → Actions → Runners → Create new runner)")
	}
	if reg.Name == "" {
		return nil, errors.New("a runner name is required")
	}
	var resp *connect.Response[runnerv1.RegisterResponse]
	var addr string
	for _, addr = range addrs {
		resp, err = p.client(addr, nil).Register(ctx, connect.NewRequest(&runnerv1.RegisterRequest{
			Name: reg.Name, Token: reg.Token, Version: version(reg.Version),
			Labels: reg.Labels, Ephemeral: reg.Ephemeral,
		}))
		// No runner API here (an HTTP 404): try the next shorter path.
		if c := connect.CodeOf(err); c != connect.CodeUnimplemented && c != connect.CodeNotFound {
			break
		}
	}
	if err != nil {
		return nil, explain("register", err)
	}
	r := resp.Msg.GetRunner()
	if r == nil || r.Uuid == "" || r.Token == "" {
		return nil, errors.New("register: the server answered without a runner uuid and token")
	}
	data, err := json.Marshal(creds{Address: addr, ID: r.Id, UUID: r.Uuid, Token: r.Token})
	if err != nil {
		return nil, err
	}
	name := r.Name
	if name == "" {
		name = reg.Name
	}
	return &forge.Credentials{Forge: Name, Name: name, Data: data}, nil
}

func version(v string) string {
	if v == "" {
		v = "dev"
	}
	return "gantry-" + v
}

func decode(c *forge.Credentials) (*creds, error) {
	if c == nil {
		return nil, errors.New("no credentials")
	}
	if c.Forge != "" && c.Forge != Name {
		return nil, fmt.Errorf("the credentials are for %s, not %s", c.Forge, Name)
	}
	var cr creds
	if err := json.Unmarshal(c.Data, &cr); err != nil {
		return nil, fmt.Errorf("the runner's credentials are damaged (%v); register again", err)
	}
	if cr.Address == "" || cr.UUID == "" || cr.Token == "" {
		return nil, errors.New("the runner's credentials lack the address, uuid or token; register again")
	}
	return &cr, nil
}

// Connect declares the runner's version and labels and returns a session
// that polls for tasks.
func (p *Protocol) Connect(ctx context.Context, c *forge.Credentials, labels []string) (forge.Session, error) {
	cr, err := decode(c)
	if err != nil {
		return nil, err
	}
	cl := p.client(cr.Address, cr)
	err = p.retry(ctx, "declare", func(ctx context.Context) error {
		_, err := cl.Declare(ctx, connect.NewRequest(&runnerv1.DeclareRequest{Version: version(p.opts.Version), Labels: labels}))
		return err
	})
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		err = nil // Gitea before 1.21 has no Declare; its labels are the registered ones
	}
	if err != nil {
		return nil, explain("declare", err)
	}
	return &session{p: p, cl: cl, creds: cr, idle: p.Timing.IdleMin}, nil
}

// Remove implements forge.Protocol. Gitea's runner protocol has no call to
// unregister: the runner is forgotten locally and must be deleted in the
// web UI (Settings → Actions → Runners), which the log says.
func (p *Protocol) Remove(_ context.Context, c *forge.Credentials) error {
	cr, err := decode(c)
	if err != nil {
		return err
	}
	p.opts.Logger.Warn("Gitea cannot unregister a runner through its protocol; delete it in the web UI", "address", cr.Address, "runner_id", cr.ID)
	return nil
}

// FailOrphan implements forge.OrphanReporter: a task this runner took in
// a process that died is closed with a log row saying so and a failure.
func (p *Protocol) FailOrphan(ctx context.Context, c *forge.Credentials, o forge.Orphan, reason string) error {
	cr, err := decode(c)
	if err != nil {
		return err
	}
	var id int64
	if _, err := fmt.Sscan(o.ServerID, &id); err != nil {
		return fmt.Errorf("in-flight task id %q: %w", o.ServerID, err)
	}
	cl := p.client(cr.Address, cr)
	t := &task{
		p: p, cl: cl, id: id, log: p.opts.Logger.With("task", id), started: time.Now(),
		cancelled: make(chan struct{}), sentOutputs: map[string]bool{},
		kick: make(chan struct{}, 1), stopLoop: make(chan struct{}), loopDone: make(chan struct{}),
	}
	close(t.loopDone) // no reporting loop: the task is only closed
	// Learn how many rows the server has, so the reason follows them.
	err = p.retry(ctx, "update log", func(ctx context.Context) error {
		resp, err := cl.UpdateLog(ctx, connect.NewRequest(&runnerv1.UpdateLogRequest{TaskId: id}))
		if err == nil {
			t.acked = resp.Msg.AckIndex
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("task %d: %w", id, err)
	}
	return t.fail(ctx, reason)
}

// retry calls fn until it succeeds, fails for good, or ctx ends, waiting
// longer after each transient failure.
func (p *Protocol) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	wait := p.Timing.ErrorMin
	for {
		err := fn(ctx)
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		p.opts.PollError(err)
		p.opts.Logger.Warn("call failed; retrying", "call", what, "err", err, "in", wait)
		if !sleep(ctx, jitter(wait)) {
			return err
		}
		wait = min(wait*2, p.Timing.ErrorMax)
	}
}

// transient tells a failure worth retrying (server down, connection
// dropped, overloaded) from one that will not change (bad token, bad request).
func transient(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeInvalidArgument,
		connect.CodeNotFound, connect.CodeUnimplemented, connect.CodeAlreadyExists, connect.CodeFailedPrecondition,
		connect.CodeCanceled:
		return false
	}
	return true
}

// explain wraps a server error with what to do about it.
func explain(what string, err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return fmt.Errorf("%s: the server refused the runner's credentials (%v); register the runner again", what, err)
	}
	if what == "register" {
		return fmt.Errorf("%s: %w (check --url and that the registration token is current)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter spreads retries of many runners: d ± 20%.
func jitter(d time.Duration) time.Duration {
	n := time.Now().UnixNano()
	frac := float64(n%1000)/1000*0.4 - 0.2
	return d + time.Duration(float64(d)*frac)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
