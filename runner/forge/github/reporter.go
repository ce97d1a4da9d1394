package github

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/report"
)

// reporter sends one job's events to the Actions service the way the
// runner's JobServerQueue does: timeline record updates (PATCH records),
// live lines to the job record's feed (with the step's record id and line
// number), each step's full log uploaded when it ends, annotations as
// issues on the step's record, and step summaries as Checks.Step.Summary
// attachments on the job record. Calls run in order on one goroutine; the
// job never waits on the network.
type reporter struct {
	a   *assignment
	res *results // nil when the job names no results service

	mu      sync.Mutex
	ops     []func(context.Context) error
	wake    chan struct{}
	closed  bool
	stopped chan struct{}
	ctx     context.Context // the sender's; cancelled when close gives up
	abandon context.CancelFunc

	job   *timelineRecord
	order int
	steps []*stepLog
	byKey map[string]*stepLog
	cur   *stepLog
	notes []annotation // job-level annotations
}

type stepLog struct {
	rec     *timelineRecord
	lines   []string
	feed    []string
	feedAt  int64 // line number of feed[0], 1-based
	notes   []annotation
	started time.Time
}

func newReporter(a *assignment) *reporter {
	r := &reporter{a: a, res: newResults(a), wake: make(chan struct{}, 1), stopped: make(chan struct{}), byKey: map[string]*stepLog{}}
	r.ctx, r.abandon = context.WithCancel(context.Background())
	r.job = &timelineRecord{ID: a.msg.JobID, Type: "Job", Name: a.msg.JobDisplayName, State: "Pending"}
	return r
}

func (r *reporter) run() {
	go r.send()
	go r.tick()
}

// push queues a call for the sender.
func (r *reporter) push(op func(context.Context) error) {
	if r.closed {
		return
	}
	r.ops = append(r.ops, op)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) send() {
	defer close(r.stopped)
	ctx := r.ctx
	for {
		r.mu.Lock()
		if len(r.ops) == 0 {
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return
			}
			<-r.wake
			continue
		}
		op := r.ops[0]
		r.ops = r.ops[1:]
		r.mu.Unlock()
		if ctx.Err() != nil {
			continue // given up: drain without sending
		}
		if err := retry(ctx, 5, func() error { return op(ctx) }); err != nil {
			r.a.s.p.logf("job %s: report to the server: %v", r.a.msg.JobID, err)
		}
	}
}

// tick flushes live lines twice a second, like the runner's web console.
func (r *reporter) tick() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stopped:
			return
		case <-t.C:
			r.mu.Lock()
			if r.closed {
				r.mu.Unlock()
				return
			}
			r.flushFeed()
			r.mu.Unlock()
		}
	}
}

// flushLimit bounds how long a finished job's reports may take to go out
// when the server is slow or gone; the job's completion comes after.
var flushLimit = 2 * time.Minute

// close flushes everything queued and waits for it (bounded by ctx and
// flushLimit; what is left then is dropped).
func (r *reporter) close(ctx context.Context) {
	r.mu.Lock()
	if !r.closed {
		r.flushFeed()
		if r.job.State != "Completed" && r.cur != nil {
			// A step the executor never finished (it died): close it.
			r.finishStep(r.cur, "failed", time.Now())
		}
		if r.res != nil {
			var all []string
			for _, s := range r.steps {
				all = append(all, s.lines...)
			}
			if len(all) > 0 {
				content := []byte(strings.Join(all, "\n") + "\n")
				r.push(func(ctx context.Context) error { r.res.jobLog(ctx, content, len(all)); return nil })
			}
		}
		r.closed = true
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
	t := time.NewTimer(flushLimit)
	defer t.Stop()
	select {
	case <-r.stopped:
		r.abandon()
		return
	case <-ctx.Done():
	case <-t.C:
	}
	r.a.s.p.logf("job %s: the server did not take the job's reports in time; dropping the rest", r.a.msg.JobID)
	r.abandon()
	<-r.stopped
}

func (r *reporter) plan() (string, string, string, string) {
	m := r.a.msg
	tl := ""
	if m.Timeline != nil {
		tl = m.Timeline.ID
	}
	if m.Plan == nil {
		return "", "", "", tl
	}
	return m.Plan.ScopeIdentifier, m.Plan.PlanType, m.Plan.PlanID, tl
}

func (r *reporter) urlFor(ctx context.Context, svc string, extra map[string]string) (string, error) {
	scope, hub, plan, tl := r.plan()
	params := map[string]string{"scopeIdentifier": scope, "hubName": hub, "planId": plan, "timelineId": tl}
	for k, v := range extra {
		params[k] = v
	}
	return r.a.s.c.locate(ctx, r.a.sysURL, r.a.sys, svc, params)
}

// patch queues an update of records (copies, so later changes do not race).
func (r *reporter) patch(recs ...*timelineRecord) {
	if r.a.msg.Plan == nil || r.a.msg.Timeline == nil {
		return
	}
	cp := make([]*timelineRecord, len(recs))
	for i, rec := range recs {
		c := *rec
		c.Issues = append([]issue(nil), rec.Issues...)
		c.LastModified = stamp(time.Now())
		cp[i] = &c
	}
	r.push(func(ctx context.Context) error {
		u, err := r.urlFor(ctx, svcTimelineRecords, nil)
		if err != nil {
			return err
		}
		return r.a.s.c.call(ctx, "PATCH", u, "5.1-preview", r.a.sys, recordsWrapper{Count: len(cp), Value: cp}, nil)
	})
	if r.res != nil {
		r.push(func(ctx context.Context) error { r.res.steps(ctx, cp); return nil })
	}
}

func (r *reporter) flushFeed() {
	for _, s := range r.steps {
		if len(s.feed) == 0 || r.a.msg.Timeline == nil {
			continue
		}
		body := feedLines{Count: len(s.feed), Value: s.feed, StepID: s.rec.ID, StartLine: s.feedAt}
		s.feedAt += int64(len(s.feed))
		s.feed = nil
		r.push(func(ctx context.Context) error {
			u, err := r.urlFor(ctx, svcFeed, map[string]string{"recordId": r.a.msg.JobID})
			if err != nil {
				return err
			}
			return r.a.s.c.call(ctx, "POST", u, "5.1-preview", r.a.sys, body, nil)
		})
	}
}

func stepKey(s report.Step) string { return fmt.Sprintf("%s/%d/%s", s.Stage, s.Index, s.ID) }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (r *reporter) Started(info report.JobInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.job.State, r.job.StartTime = "InProgress", stamp(info.Started)
	r.patch(r.job)
}

func (r *reporter) StepStarted(s report.Step, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushFeed()
	id := ""
	// A main step's record is the one the server made for it.
	if s.Stage == report.Main && s.Index >= 0 && s.Index < len(r.a.msg.Steps) && guidRE.MatchString(r.a.msg.Steps[s.Index].ID) {
		id = r.a.msg.Steps[s.Index].ID
	}
	if id == "" {
		id = newUUID()
	}
	r.order++
	sl := &stepLog{started: at, feedAt: 1, rec: &timelineRecord{
		ID: id, ParentID: r.a.msg.JobID, Type: "Task", Name: s.Name, RefName: s.ID, Order: r.order,
		State: "InProgress", StartTime: stamp(at), WorkerName: r.a.s.st.AgentName,
	}}
	r.steps = append(r.steps, sl)
	r.byKey[stepKey(s)] = sl
	r.cur = sl
	r.patch(sl.rec)
}

func (r *reporter) line(text string) {
	if r.cur == nil {
		// A runner line outside any step: before the first step it goes
		// to a "Set up job" record, after one to a "Complete job" record
		// (made once each).
		st := report.Step{Index: -1, ID: "__setup", Name: "Set up job", Stage: report.Setup}
		if len(r.steps) > 0 {
			st = report.Step{Index: -1, ID: "__complete", Name: "Complete job", Stage: report.Teardown}
		}
		if sl := r.byKey[stepKey(st)]; sl != nil && sl.rec.State != "Completed" {
			r.cur = sl
		} else {
			r.mu.Unlock()
			r.StepStarted(st, time.Now())
			r.mu.Lock()
		}
	}
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		l = strings.TrimSuffix(l, "\r")
		r.cur.lines = append(r.cur.lines, l)
		r.cur.feed = append(r.cur.feed, l)
	}
	if len(r.cur.feed) >= 100 {
		r.flushFeed()
	}
}

func (r *reporter) Line(kind report.LineKind, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch kind {
	case report.Warn:
		text = "##[warning]" + text
	case report.Error:
		text = "##[error]" + text
	case report.Command:
		text = "[command]" + text
	}
	r.line(text)
}

func (r *reporter) Group(title string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line("##[group]" + title)
}

func (r *reporter) EndGroup() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line("##[endgroup]")
}

func (r *reporter) StepFinished(s report.Step, e report.StepEnd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := r.byKey[stepKey(s)]
	if sl == nil {
		// A skipped step is never started; it still gets its record.
		prev := r.cur
		r.mu.Unlock()
		r.StepStarted(s, e.Ended)
		r.mu.Lock()
		sl, r.cur = r.byKey[stepKey(s)], prev
	}
	if e.Err != "" && e.Conclusion != report.Success {
		r.cur = sl
		r.line("##[error]" + e.Err)
	}
	res := e.Conclusion
	if res == "" {
		res = e.Outcome
	}
	r.finishStep(sl, conclusion(res), e.Ended)
	if r.cur == sl {
		r.cur = nil
	}
}

func (r *reporter) finishStep(sl *stepLog, result string, at time.Time) {
	r.flushFeed()
	sl.rec.State, sl.rec.Result, sl.rec.FinishTime = "Completed", result, stamp(at)
	content := []byte(strings.Join(sl.lines, "\n") + "\n")
	rec := sl.rec
	lines := len(sl.lines)
	if r.a.msg.Plan != nil && lines > 0 {
		r.push(func(ctx context.Context) error {
			u, err := r.urlFor(ctx, svcLogs, nil)
			if err != nil {
				return err
			}
			var created taskLog
			if err := r.a.s.c.call(ctx, "POST", u, "5.1-preview", r.a.sys, taskLog{Path: `logs\` + rec.ID, CreatedOn: stamp(time.Now())}, &created); err != nil {
				return err
			}
			lu, err := r.urlFor(ctx, svcLogs, map[string]string{"logId": fmt.Sprint(created.ID)})
			if err != nil {
				return err
			}
			if err := r.a.s.c.call(ctx, "POST", lu, "5.1-preview", r.a.sys, content, nil); err != nil {
				return err
			}
			r.mu.Lock()
			rec.Log = &logReference{ID: created.ID}
			r.mu.Unlock()
			return nil
		})
		if r.res != nil {
			r.push(func(ctx context.Context) error { r.res.stepLog(ctx, rec.ID, content, lines); return nil })
		}
	}
	// The record's final state goes after its log, so it can name it.
	r.push(func(ctx context.Context) error {
		r.mu.Lock()
		c := *rec
		c.Issues = append([]issue(nil), rec.Issues...)
		r.mu.Unlock()
		u, err := r.urlFor(ctx, svcTimelineRecords, nil)
		if err != nil {
			return err
		}
		if err := r.a.s.c.call(ctx, "PATCH", u, "5.1-preview", r.a.sys, recordsWrapper{Count: 1, Value: []*timelineRecord{&c}}, nil); err != nil {
			return err
		}
		if r.res != nil {
			r.res.steps(ctx, []*timelineRecord{&c})
		}
		return nil
	})
}

func annotationLevel(l string) string {
	switch strings.ToLower(l) {
	case "error":
		return "FAILURE"
	case "warning":
		return "WARNING"
	}
	return "NOTICE"
}

func (r *reporter) Annotate(an report.Annotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	level := strings.ToLower(an.Level)
	if level != "error" && level != "warning" {
		level = "notice"
	}
	data := map[string]string{"type": level}
	set := func(k string, v int) {
		if v > 0 {
			data[k] = fmt.Sprint(v)
		}
	}
	if an.File != "" {
		data["file"] = an.File
	}
	if an.Title != "" {
		data["title"] = an.Title
	}
	set("line", an.Line)
	set("endLine", an.EndLine)
	set("col", an.Col)
	set("endColumn", an.EndCol)
	is := issue{Type: level, Message: an.Message, Data: data}
	note := annotation{Level: annotationLevel(level), Message: an.Message, Path: an.File,
		StartLine: an.Line, EndLine: max(an.EndLine, an.Line), StartColumn: an.Col, EndColumn: max(an.EndCol, an.Col)}
	if an.Title != "" {
		note.RawDetails = an.Title
	}
	target := r.job
	if r.cur != nil {
		target = r.cur.rec
		note.StepNumber = r.cur.rec.Order
		r.cur.notes = append(r.cur.notes, note)
	} else {
		r.notes = append(r.notes, note)
	}
	target.Issues = append(target.Issues, is)
	switch level {
	case "error":
		target.ErrorCount++
	case "warning":
		target.WarningCount++
	}
	r.patch(target)
}

func (r *reporter) Summary(s report.Step, markdown string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := r.byKey[stepKey(s)]
	for i := len(r.steps) - 1; sl == nil && i >= 0; i-- {
		// The engine names a summary's step by id alone.
		if r.steps[i].rec.RefName == s.ID {
			sl = r.steps[i]
		}
	}
	if sl == nil {
		sl = r.cur
	}
	if sl == nil || r.a.msg.Plan == nil || r.a.msg.Timeline == nil {
		return
	}
	name := sl.rec.ID
	content := []byte(markdown)
	r.push(func(ctx context.Context) error {
		u, err := r.urlFor(ctx, svcAttachments, map[string]string{"recordId": r.a.msg.JobID, "type": "Checks.Step.Summary", "name": name})
		if err != nil {
			return err
		}
		return r.a.s.c.call(ctx, "PUT", u, "5.1-preview", r.a.sys, content, nil)
	})
	if r.res != nil {
		r.push(func(ctx context.Context) error { r.res.summary(ctx, name, content); return nil })
	}
}

func (r *reporter) Finished(e report.JobEnd) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushFeed()
	r.job.State, r.job.Result, r.job.FinishTime = "Completed", conclusion(e.Result), stamp(e.Ended)
	r.patch(r.job)
}

// failure records a job that could not run: a failed "Set up job" step
// holding the reason as its log line and an error annotation.
func (r *reporter) failure(reason error) {
	msg := "the job could not run"
	if reason != nil {
		msg = reason.Error()
	}
	r.mu.Lock()
	started := r.cur != nil || len(r.steps) > 0
	r.mu.Unlock()
	if !started {
		r.StepStarted(report.Step{Index: -1, ID: "__setup", Name: "Set up job", Stage: report.Setup}, time.Now())
	}
	r.Line(report.Error, msg)
	r.Annotate(report.Annotation{Level: "error", Message: msg})
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if cur != nil {
		r.mu.Lock()
		r.finishStep(cur, "failed", time.Now())
		r.cur = nil
		r.mu.Unlock()
	}
	r.Finished(report.JobEnd{Result: report.Failure, Ended: time.Now()})
}

// results are the step results and job annotations for completejob.
func (r *reporter) results() ([]stepResult, []annotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []stepResult
	notes := append([]annotation(nil), r.notes...)
	for _, s := range r.steps {
		res := s.rec.Result
		if res == "" {
			res = "failed"
		}
		out = append(out, stepResult{ExternalID: s.rec.ID, Number: s.rec.Order, Name: s.rec.Name,
			Status: "completed", Conclusion: res, StartedAt: s.rec.StartTime, CompletedAt: s.rec.FinishTime, Annotations: s.notes})
		notes = append(notes, s.notes...)
	}
	return out, notes
}
