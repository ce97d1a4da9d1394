package gitea

import (
	"context"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"
	"code.gitea.io/actions-proto-go/runner/v1/runnerv1connect"
	"connectrpc.com/connect"

	"github.com/gantry-ci/gantry/runner/forge"
)

// session polls FetchTask. Gitea answers at once; tasks_version lets it
// skip the database when nothing changed since this runner's last poll,
// and the runner waits between empty polls, longer while it stays idle.
type session struct {
	p       *Protocol
	cl      runnerv1connect.RunnerServiceClient
	creds   *creds
	version int64
	idle    time.Duration
	errWait time.Duration
}

// fetchTimeout bounds one FetchTask call.
const fetchTimeout = 30 * time.Second

// Next implements forge.Session.
func (s *session) Next(ctx context.Context) (forge.Assignment, error) {
	if ctx.Err() != nil {
		return nil, nil
	}
	// A call in flight is not cancelled with ctx: the server may have
	// assigned a task already, and an answer thrown away would leave it
	// assigned to nobody. Gitea answers at once, so the wait is short.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	resp, err := s.cl.FetchTask(fctx, connect.NewRequest(&runnerv1.FetchTaskRequest{TasksVersion: s.version}))
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		if !transient(err) {
			return nil, explain("fetch task", err)
		}
		if s.errWait == 0 {
			s.errWait = s.p.Timing.ErrorMin
		}
		s.p.opts.PollError(err)
		s.p.opts.Logger.Warn("poll failed; retrying", "err", err, "in", s.errWait)
		sleep(ctx, jitter(s.errWait))
		s.errWait = min(s.errWait*2, s.p.Timing.ErrorMax)
		return nil, nil
	}
	s.errWait = 0
	changed := resp.Msg.TasksVersion != s.version
	s.version = resp.Msg.TasksVersion
	if t := resp.Msg.Task; t != nil {
		// The server answers with the latest version even though other
		// tasks may still wait; version 0 makes the next poll look.
		s.version = 0
		s.idle = s.p.Timing.IdleMin
		return newTask(s.p, s.cl, t), nil
	}
	if changed {
		s.idle = s.p.Timing.IdleMin
	}
	sleep(ctx, s.idle)
	s.idle = min(s.idle*2, s.p.Timing.IdleMax)
	return nil, nil
}

// Close implements forge.Session; Gitea keeps no session.
func (s *session) Close(context.Context) error { return nil }
