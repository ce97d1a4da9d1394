package gitea

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"
	"code.gitea.io/actions-proto-go/runner/v1/runnerv1connect"
	"connectrpc.com/connect"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/console"
)

// task is one task taken from the server: the forge.Assignment, and the
// report.Job that turns the engine's events into step states and log rows.
// A goroutine sends them every Timing.Report (sooner for the first rows);
// the server acknowledges rows by index, and unacknowledged rows are sent
// again from the acknowledged index, so rows are never lost nor doubled.
type task struct {
	p   *Protocol
	cl  runnerv1connect.RunnerServiceClient
	id  int64
	t   *runnerv1.Task
	pj  *payloadJob
	err error // why the payload is unusable
	log *slog.Logger

	cancelled  chan struct{}
	cancelOnce sync.Once

	mu          sync.Mutex
	rows        []*runnerv1.LogRow // rows[0] is row number acked
	acked       int64
	total       int64
	steps       []*runnerv1.StepState
	started     time.Time
	result      runnerv1.Result
	stopped     time.Time
	outputs     map[string]string
	sentOutputs map[string]bool
	dirty       bool // state changed since last sent

	kick     chan struct{}
	stopLoop chan struct{}
	loopDone chan struct{}
	once     sync.Once
}

func newTask(p *Protocol, cl runnerv1connect.RunnerServiceClient, t *runnerv1.Task) *task {
	tk := &task{
		p: p, cl: cl, id: t.Id, t: t, log: p.opts.Logger.With("task", t.Id),
		cancelled: make(chan struct{}), started: time.Now(), sentOutputs: map[string]bool{},
		kick: make(chan struct{}, 1), stopLoop: make(chan struct{}), loopDone: make(chan struct{}),
	}
	tk.pj, tk.err = inspect(t.WorkflowPayload)
	if tk.pj != nil {
		tk.steps = make([]*runnerv1.StepState, tk.pj.steps)
		for i := range tk.steps {
			tk.steps[i] = &runnerv1.StepState{Id: int64(i)}
		}
	}
	go tk.loop()
	return tk
}

// Job implements forge.Assignment.
func (t *task) Job() (*forge.Job, error) {
	if t.err != nil {
		return nil, t.err
	}
	return toJob(t.t, t.pj), nil
}

// Reporter implements forge.Assignment.
func (t *task) Reporter() report.Job { return (*reporter)(t) }

// Cancelled implements forge.Assignment.
func (t *task) Cancelled() <-chan struct{} { return t.cancelled }

// Complete implements forge.Assignment: every log row, then a closing row
// with no_more, then the final state with the outputs until the server
// lists them all as sent.
func (t *task) Complete(ctx context.Context, out *forge.Outcome) error {
	t.mu.Lock()
	t.result = toResult(out.Result)
	t.stopped = time.Now()
	t.outputs = out.Outputs
	t.closeSteps()
	t.mu.Unlock()
	return t.finish(ctx, closingLine(out.Result))
}

// Fail implements forge.Assignment.
func (t *task) Fail(ctx context.Context, reason error) error {
	return t.fail(ctx, reason.Error())
}

func (t *task) fail(ctx context.Context, reason string) error {
	t.mu.Lock()
	if t.result == runnerv1.Result_RESULT_UNSPECIFIED {
		t.result = runnerv1.Result_RESULT_FAILURE
	}
	t.stopped = time.Now()
	t.closeSteps()
	t.addRow("Error: " + reason)
	t.mu.Unlock()
	return t.finish(ctx, closingLine(report.Failure))
}

func closingLine(r report.Result) string {
	switch r {
	case report.Success:
		return "Job succeeded"
	case report.Cancelled:
		return "Job cancelled"
	case report.Skipped:
		return "Job skipped"
	}
	return "Job failed"
}

// closeSteps gives every step without a result one: a started step ends
// with the job's result, one never reached is skipped (cancelled when the
// job was).
func (t *task) closeSteps() {
	for _, s := range t.steps {
		if s.Result != runnerv1.Result_RESULT_UNSPECIFIED {
			continue
		}
		switch {
		case s.StartedAt != nil:
			s.Result = t.result
			s.StoppedAt = ts(t.stopped)
			s.LogLength = t.total - s.LogIndex
		case t.result == runnerv1.Result_RESULT_CANCELLED:
			s.Result = runnerv1.Result_RESULT_CANCELLED
		default:
			s.Result = runnerv1.Result_RESULT_SKIPPED
		}
	}
	t.dirty = true
}

func (t *task) finish(ctx context.Context, closing string) error {
	t.stop()
	ctx, cancel := context.WithTimeout(ctx, t.p.Timing.GiveUp)
	defer cancel()
	t.mu.Lock()
	// no_more only counts on a call with rows, so the last row goes with it.
	t.addRow(closing)
	t.mu.Unlock()
	var logErr error
	for stalls := 0; ; {
		var done bool
		before := t.ackedRows()
		logErr = t.p.retry(ctx, "update log", func(ctx context.Context) error {
			var err error
			done, err = t.sendLog(ctx, true)
			return err
		})
		if logErr != nil || done {
			break
		}
		if t.ackedRows() == before {
			// The server acknowledged nothing new: back off, then give up.
			if stalls++; stalls > 5 {
				logErr = errors.New("the server stopped acknowledging log rows")
				break
			}
			sleep(ctx, t.p.Timing.ErrorMin)
		}
	}
	stateErr := t.p.retry(ctx, "update task", func(ctx context.Context) error {
		all, err := t.sendState(ctx)
		if err == nil && !all {
			err = connect.NewError(connect.CodeUnavailable, errors.New("the server did not take every output"))
		}
		return err
	})
	if logErr != nil {
		logErr = fmt.Errorf("send the logs of task %d: %w", t.id, logErr)
	}
	if stateErr != nil {
		stateErr = fmt.Errorf("send the result of task %d: %w", t.id, stateErr)
	}
	return errors.Join(logErr, stateErr)
}

// stop ends the reporting goroutine and waits for it.
func (t *task) stop() {
	t.once.Do(func() { close(t.stopLoop) })
	<-t.loopDone
}

func (t *task) loop() {
	defer close(t.loopDone)
	tick := time.NewTicker(t.p.Timing.Report)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-t.stopLoop
		cancel()
	}()
	for {
		select {
		case <-t.stopLoop:
			return
		case <-tick.C:
		case <-t.kick:
			// Let a burst of lines gather into one call.
			if !sleep(ctx, min(t.p.Timing.Report/10, 100*time.Millisecond)) {
				return
			}
		}
		if _, err := t.sendLog(ctx, false); err != nil && ctx.Err() == nil {
			t.p.opts.PollError(err)
			t.log.Warn("send logs", "err", err)
		}
		if _, err := t.sendState(ctx); err != nil && ctx.Err() == nil {
			t.p.opts.PollError(err)
			t.log.Warn("send state", "err", err)
		}
	}
}

// maxRows bounds one UpdateLog call.
const maxRows = 1000

func (t *task) ackedRows() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked
}

// sendLog sends the unacknowledged rows from the acknowledged index and
// reports whether all of them are acknowledged.
func (t *task) sendLog(ctx context.Context, noMore bool) (bool, error) {
	t.mu.Lock()
	index := t.acked
	rows := append([]*runnerv1.LogRow(nil), t.rows[:min(len(t.rows), maxRows)]...)
	// no_more archives the log: only on the call that holds the last row.
	noMore = noMore && len(rows) == len(t.rows)
	t.mu.Unlock()
	if len(rows) == 0 {
		return true, nil
	}
	resp, err := t.cl.UpdateLog(ctx, connect.NewRequest(&runnerv1.UpdateLogRequest{
		TaskId: t.id, Index: index, Rows: rows, NoMore: noMore,
	}))
	if connect.CodeOf(err) == connect.CodeAlreadyExists {
		// The server archived the log (it had no_more already).
		t.mu.Lock()
		t.acked += int64(len(t.rows))
		t.rows = nil
		t.mu.Unlock()
		return true, nil
	}
	if err != nil {
		return false, err
	}
	ack := resp.Msg.AckIndex
	t.mu.Lock()
	defer t.mu.Unlock()
	if ack > t.acked {
		n := min(ack-t.acked, int64(len(t.rows)))
		t.rows = t.rows[n:]
		t.acked += n
	}
	return len(t.rows) == 0, nil
}

// sendState sends the task's state and the outputs the server has not
// taken yet, and reports whether it has taken all of them. An answer that
// marks the task done while it runs is the server cancelling it.
func (t *task) sendState(ctx context.Context) (bool, error) {
	t.mu.Lock()
	state := &runnerv1.TaskState{Id: t.id, Result: t.result, StartedAt: ts(t.started), StoppedAt: ts(t.stopped)}
	for _, s := range t.steps {
		state.Steps = append(state.Steps, &runnerv1.StepState{Id: s.Id, Result: s.Result, StartedAt: s.StartedAt, StoppedAt: s.StoppedAt, LogIndex: s.LogIndex, LogLength: s.LogLength})
	}
	outputs := map[string]string{}
	for k, v := range t.outputs {
		if !t.sentOutputs[k] {
			outputs[k] = v
		}
	}
	final := t.result != runnerv1.Result_RESULT_UNSPECIFIED
	t.dirty = false
	t.mu.Unlock()

	resp, err := t.cl.UpdateTask(ctx, connect.NewRequest(&runnerv1.UpdateTaskRequest{State: state, Outputs: outputs}))
	if err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return false, err
	}
	t.mu.Lock()
	for _, k := range resp.Msg.SentOutputs {
		t.sentOutputs[k] = true
	}
	all := true
	for k := range t.outputs {
		if !t.sentOutputs[k] {
			all = false
		}
	}
	t.mu.Unlock()
	if !final && resp.Msg.State != nil && resp.Msg.State.Result != runnerv1.Result_RESULT_UNSPECIFIED {
		t.cancelOnce.Do(func() {
			t.log.Info("the server cancelled the task", "result", resp.Msg.State.Result.String())
			close(t.cancelled)
		})
	}
	return all, nil
}

// addRow appends a log row; t.mu is held.
func (t *task) addRow(text string) {
	t.rows = append(t.rows, &runnerv1.LogRow{Time: ts(time.Now()), Content: text})
	t.total++
	if len(t.rows) == 1 {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// State implements forge.Resumable: the task id is all Gitea needs.
func (t *task) State() []byte { return []byte(strconv.FormatInt(t.id, 10)) }

// reporter is the task seen as the engine's report.Job.
type reporter task

func (r *reporter) task() *task { return (*task)(r) }

func (r *reporter) Started(report.JobInfo) {}

func (r *reporter) StepStarted(s report.Step, at time.Time) {
	t := r.task()
	t.mu.Lock()
	defer t.mu.Unlock()
	if st := t.step(s); st != nil {
		st.StartedAt = ts(at)
		st.LogIndex = t.total
		t.dirty = true
	}
}

func (r *reporter) StepFinished(s report.Step, e report.StepEnd) {
	t := r.task()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Err != "" && e.Conclusion == report.Failure {
		t.addRow("Error: " + e.Err)
	}
	if st := t.step(s); st != nil {
		if st.StartedAt == nil {
			st.StartedAt = ts(e.Ended) // skipped: never started
			st.LogIndex = t.total
		}
		st.Result = toResult(e.Conclusion)
		st.StoppedAt = ts(e.Ended)
		st.LogLength = t.total - st.LogIndex
		t.dirty = true
	}
}

// step is the state of a main step; pre and post parts and runner-made
// steps have none (Gitea shows their lines under "Set up job" and
// "Complete job").
func (t *task) step(s report.Step) *runnerv1.StepState {
	if s.Stage != report.Main || s.Index < 0 || s.Index >= len(t.steps) {
		return nil
	}
	return t.steps[s.Index]
}

func (r *reporter) Line(kind report.LineKind, text string) {
	switch kind {
	case report.Warn:
		text = "Warning: " + text
	case report.Error:
		text = "Error: " + text
	}
	r.add(text)
}

func (r *reporter) add(text string) {
	t := r.task()
	t.mu.Lock()
	t.addRow(text)
	t.mu.Unlock()
}

func (r *reporter) Group(title string) { r.add("::group::" + title) }
func (r *reporter) EndGroup()          { r.add("::endgroup::") }

func (r *reporter) Annotate(a report.Annotation) {
	r.add(console.FormatAnnotation(a))
}

func (r *reporter) Summary(s report.Step, md string) {
	// Gitea shows no step summaries; keep them in the log.
	r.add("::group::Summary of " + s.Name)
	for _, l := range splitLines(md) {
		r.add(l)
	}
	r.add("::endgroup::")
}

func (r *reporter) Finished(report.JobEnd) {}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
