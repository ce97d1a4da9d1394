package github

import (
	"context"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
)

// ErrEphemeralDone is returned by Next once an ephemeral (or JIT) runner
// has completed its one job: the server removes the runner, so the daemon
// stops.
var ErrEphemeralDone = errors.New("the ephemeral runner has run its job")

// session is one runner session: a poller goroutine long-polls the
// message queue all the time (a JobCancellation must reach a running job
// even when the daemon is not asking for work) and queues the jobs it
// acquires for Next.
type session struct {
	p      *Protocol
	st     *state
	key    *rsa.PrivateKey
	c      *client
	runner auth
	labels []string

	id     string
	broker string // the broker's URL on the v2 flow, "" on the pool flow
	block  cipher.Block

	queue   chan *assignment
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	fatal   error
	lastID  int64
	running map[string]*assignment // by job id, for cancellation
	handed  bool                   // ephemeral: the one job was handed out
	over    chan struct{}          // ephemeral: that job completed
}

// Connect implements forge.Protocol: it creates the session (on the pool,
// or on the broker for the v2 flow, following a broker migration) and
// starts polling.
func (p *Protocol) Connect(ctx context.Context, creds *forge.Credentials, labels []string) (forge.Session, error) {
	st, k, err := loadState(creds)
	if err != nil {
		return nil, err
	}
	c := newClient(p.HTTP, st.Version)
	s := &session{p: p, st: st, key: k, c: c, runner: auth{source: p.tokens(st, k, c)}, labels: labels,
		queue: make(chan *assignment, 8), done: make(chan struct{}), running: map[string]*assignment{}, over: make(chan struct{})}
	if st.UseV2Flow && st.ServerURLV2 != "" {
		s.broker = strings.TrimSuffix(st.ServerURLV2, "/")
	}
	if err := s.create(ctx); err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	go s.poll(pctx)
	return s, nil
}

func (s *session) sessionBody() taskAgentSession {
	host, _ := os.Hostname()
	a := taskAgent{ID: s.st.AgentID, Name: s.st.AgentName, Version: runnerVersion(s.st.Version),
		OSDescription: runtime.GOOS + "/" + runtime.GOARCH + " (gantry)", MaxParallelism: 1,
		Ephemeral: s.st.Ephemeral, DisableUpdate: true}
	for _, l := range s.labels {
		a.Labels = append(a.Labels, agentLabel{Name: l, Type: "user"})
	}
	if host == "" {
		host = "RUNNER"
	}
	return taskAgentSession{OwnerName: host, Agent: a}
}

func (s *session) create(ctx context.Context) error {
	b := backoff{Min: retryMin, Max: retryMax}
	for attempt := 0; ; attempt++ {
		var got taskAgentSession
		var err error
		body := s.sessionBody()
		if s.broker != "" {
			err = s.c.call(ctx, "POST", s.broker+"/session", "", s.runner, body, &got)
		} else {
			var u string
			u, err = s.c.locate(ctx, s.st.ServerURL, s.runner, svcSessions, map[string]string{"poolId": fmt.Sprint(s.st.PoolID)})
			if err == nil {
				err = s.c.call(ctx, "POST", u, "5.1-preview", s.runner, body, &got)
			}
			if err == nil && got.BrokerMigrationMessage != nil && got.BrokerMigrationMessage.BrokerBaseURL != "" {
				s.broker = strings.TrimSuffix(got.BrokerMigrationMessage.BrokerBaseURL, "/")
				continue
			}
		}
		switch {
		case err == nil:
			if got.SessionID == "" {
				return errors.New("create a session: the server's answer has no session id")
			}
			block, err := sessionCipher(s.key, got.EncryptionKey, got.UseFipsEncryption)
			if err != nil {
				return fmt.Errorf("create a session: %w", err)
			}
			s.id, s.block = got.SessionID, block
			return nil
		case statusOf(err) == http.StatusUnauthorized || statusOf(err) == http.StatusForbidden:
			return fmt.Errorf("create a session: the runner's credentials are refused (was it removed? register it again): %w", err)
		case statusOf(err) == http.StatusConflict && attempt >= 5:
			return fmt.Errorf("create a session: another runner process holds a session with these credentials: %w", err)
		case statusOf(err) != http.StatusConflict && !transient(err):
			return fmt.Errorf("create a session: %w", err)
		}
		s.p.logf("create a session: %v; retrying", err)
		if err := sleep(ctx, b.next()); err != nil {
			return err
		}
	}
}

// Next implements forge.Session.
func (s *session) Next(ctx context.Context) (forge.Assignment, error) {
	wait := s.p.PollTimeout
	if wait <= 0 {
		wait = 60 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case a := <-s.queue:
		return a, nil
	case <-s.over:
		return nil, ErrEphemeralDone
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fatal != nil {
			return nil, s.fatal
		}
		return nil, errors.New("the session is closed")
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close implements forge.Session: stops polling and deletes the session.
func (s *session) Close(ctx context.Context) error {
	s.stop()
	<-s.done
	var err error
	if s.broker != "" {
		err = s.c.call(ctx, "DELETE", s.broker+"/session", "", s.runner, nil, nil)
	} else {
		var u string
		u, err = s.c.locate(ctx, s.st.ServerURL, s.runner, svcSessions, map[string]string{"poolId": fmt.Sprint(s.st.PoolID), "sessionId": s.id})
		if err == nil {
			err = s.c.call(ctx, "DELETE", u, "5.1-preview", s.runner, nil, nil)
		}
	}
	if err != nil && statusOf(err) != http.StatusNotFound {
		return fmt.Errorf("delete the session: %w", err)
	}
	return nil
}

func (s *session) query() url.Values {
	return url.Values{
		"sessionId": {s.id}, "status": {"Online"}, "runnerVersion": {runnerVersion(s.st.Version)},
		"os": {osLabel()}, "architecture": {archLabel()}, "disableUpdate": {"true"},
	}
}

func (s *session) setFatal(err error) {
	s.mu.Lock()
	if s.fatal == nil {
		s.fatal = err
	}
	s.mu.Unlock()
}

// poll is the message loop; it ends on a fatal error or when stopped.
func (s *session) poll(ctx context.Context) {
	defer close(s.done)
	b := backoff{Min: retryMin, Max: retryMax}
	for ctx.Err() == nil {
		msg, err := s.getMessage(ctx)
		if err == nil && msg != nil {
			err = s.handle(ctx, msg)
		}
		switch {
		case err == nil:
			b.reset()
			continue
		case ctx.Err() != nil:
			return
		case errors.Is(err, errSessionGone):
			s.p.logf("the session expired; creating a new one")
			if cerr := s.create(ctx); cerr != nil {
				s.setFatal(cerr)
				return
			}
			continue
		case statusOf(err) == http.StatusUnauthorized || statusOf(err) == http.StatusForbidden:
			s.setFatal(fmt.Errorf("the server refuses the runner's credentials (was the runner removed? register it again): %w", err))
			return
		}
		s.p.pollError(err)
		s.p.logf("poll for messages: %v; retrying", err)
		if sleep(ctx, b.next()) != nil {
			return
		}
	}
}

var errSessionGone = errors.New("session gone")

// getMessage long-polls once; nil, nil when the poll ended empty.
func (s *session) getMessage(ctx context.Context) (*taskAgentMessage, error) {
	wait := s.p.PollTimeout
	if wait <= 0 {
		wait = 60 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, wait+10*time.Second)
	defer cancel()
	var msg taskAgentMessage
	var err error
	if s.broker != "" {
		err = s.c.call(pctx, "GET", s.broker+"/message?"+s.query().Encode(), "", s.runner, nil, &msg)
	} else {
		var u string
		u, err = s.c.locate(pctx, s.st.ServerURL, s.runner, svcMessages, map[string]string{"poolId": fmt.Sprint(s.st.PoolID)})
		if err == nil {
			q := s.query()
			if s.lastID > 0 {
				q.Set("lastMessageId", fmt.Sprint(s.lastID))
			}
			err = s.c.call(pctx, "GET", u+"?"+q.Encode(), "5.1-preview", s.runner, nil, &msg)
		}
	}
	switch {
	case errors.Is(err, errNoContent):
		return nil, nil
	case err != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded):
		return nil, nil // the poll outlived its window: ask again
	case statusOf(err) == http.StatusNotFound || strings.Contains(errBody(err), "SessionInvalid") || strings.Contains(errBody(err), "SessionExpired"):
		return nil, errSessionGone
	case err != nil:
		return nil, err
	}
	if s.broker == "" && msg.MessageID > 0 {
		s.lastID = msg.MessageID
		// The pool redelivers a message until it is deleted.
		u, lerr := s.c.locate(ctx, s.st.ServerURL, s.runner, svcMessages, map[string]string{"poolId": fmt.Sprint(s.st.PoolID), "messageId": fmt.Sprint(msg.MessageID)})
		if lerr == nil {
			lerr = retry(ctx, 5, func() error {
				return s.c.call(ctx, "DELETE", u+"?sessionId="+url.QueryEscape(s.id), "5.1-preview", s.runner, nil, nil)
			})
		}
		if lerr != nil {
			s.p.logf("delete message %d: %v", msg.MessageID, lerr)
		}
	}
	return &msg, nil
}

func errBody(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return se.Body
	}
	return ""
}

// handle acts on one message.
func (s *session) handle(ctx context.Context, msg *taskAgentMessage) error {
	body, err := decryptBody(s.block, msg.IV, msg.Body)
	if err != nil {
		// Nothing in it can be trusted, not even which job it is.
		s.p.logf("message %d (%s) cannot be decrypted: %v", msg.MessageID, msg.MessageType, err)
		return nil
	}
	switch {
	case strings.EqualFold(msg.MessageType, msgBrokerMove):
		var m brokerMigration
		if err := json.Unmarshal(body, &m); err != nil || m.BrokerBaseURL == "" {
			s.p.logf("broker migration message without a broker URL")
			return nil
		}
		var next taskAgentMessage
		u := strings.TrimSuffix(m.BrokerBaseURL, "/") + "/message?" + s.query().Encode()
		if err := s.c.call(ctx, "GET", u, "", s.runner, nil, &next); err != nil {
			if errors.Is(err, errNoContent) {
				return nil
			}
			return err
		}
		return s.handle(ctx, &next)
	case strings.EqualFold(msg.MessageType, msgRunnerJob):
		if s.tookJob() {
			// Not acknowledged: the server offers it to another runner.
			s.p.logf("an ephemeral runner that has had its job was offered another; left for another runner")
			return nil
		}
		var ref runnerJobRequestRef
		if err := json.Unmarshal(body, &ref); err != nil || ref.RunnerRequestID == "" {
			s.p.logf("a RunnerJobRequest message without a request id: %v", err)
			return nil
		}
		return s.runnerJob(ctx, ref)
	case strings.EqualFold(msg.MessageType, msgPipelineJob):
		s.enqueue(newAssignment(s, body, "", ""))
		return nil
	case strings.EqualFold(msg.MessageType, msgCancel):
		var m jobCancelMessage
		if err := json.Unmarshal(body, &m); err != nil {
			s.p.logf("a JobCancellation message that does not parse: %v", err)
			return nil
		}
		s.mu.Lock()
		a := s.running[strings.ToLower(m.JobID)]
		s.mu.Unlock()
		if a != nil {
			a.cancel()
		}
		return nil
	case strings.EqualFold(msg.MessageType, msgTokenRefresh):
		s.runner.source.invalidate()
		return nil
	}
	s.p.logf("ignoring a %s message", msg.MessageType)
	return nil
}

// runnerJob acknowledges a job request (broker) and acquires its job
// message from the run service. A request another runner took, or that
// the server withdrew, is dropped: never run twice.
func (s *session) runnerJob(ctx context.Context, ref runnerJobRequestRef) error {
	if s.broker != "" {
		u := s.broker + "/acknowledge?" + s.query().Encode()
		err := retry(ctx, 3, func() error {
			return s.c.call(ctx, "POST", u, "", s.runner, map[string]string{"runnerRequestId": ref.RunnerRequestID}, nil)
		})
		if err != nil {
			s.p.logf("acknowledge job request %s: %v", ref.RunnerRequestID, err)
		}
	}
	if ref.RunServiceURL == "" {
		s.p.logf("job request %s names no run service; dropped", ref.RunnerRequestID)
		return nil
	}
	var raw []byte
	req := acquireJobRequest{JobMessageID: ref.RunnerRequestID, RunnerOS: osLabel(), BillingOwnerID: ref.BillingOwnerID}
	err := retry(ctx, 6, func() error {
		return s.c.call(ctx, "POST", joinURL(ref.RunServiceURL, "acquirejob"), "", s.runner, req, &raw)
	})
	switch st := statusOf(err); {
	case err == nil:
	case st == http.StatusNotFound || st == http.StatusConflict || st == http.StatusUnprocessableEntity:
		s.p.logf("job request %s was not ours to take (%d); dropped", ref.RunnerRequestID, st)
		return nil
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return err
	default:
		s.p.logf("acquire job request %s: %v; dropped (the server offers it again)", ref.RunnerRequestID, err)
		return nil
	}
	s.enqueue(newAssignment(s, raw, ref.RunServiceURL, ref.BillingOwnerID))
	return nil
}

// tookJob reports an ephemeral runner that already has its one job.
func (s *session) tookJob() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Ephemeral && s.handed
}

func (s *session) enqueue(a *assignment) {
	s.mu.Lock()
	if a.msg != nil && a.msg.JobID != "" {
		s.running[strings.ToLower(a.msg.JobID)] = a
	}
	if s.st.Ephemeral {
		s.handed = true
	}
	s.mu.Unlock()
	a.start()
	select {
	case s.queue <- a:
	default:
		// The queue only fills when the server hands out more jobs than
		// the runner declared it runs; fail the job rather than block the
		// poll (which carries cancellations).
		go func() { _ = a.Fail(context.Background(), errors.New("the runner is busy")) }()
	}
}

func (s *session) finished(a *assignment) {
	s.mu.Lock()
	if a.msg != nil {
		delete(s.running, strings.ToLower(a.msg.JobID))
	}
	eph := s.st.Ephemeral && s.handed
	s.mu.Unlock()
	if eph {
		select {
		case <-s.over:
		default:
			close(s.over)
		}
	}
}
