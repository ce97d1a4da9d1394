// Package recorder is a reporter that keeps every event, for tests that
// assert what a job did rather than how a console printed it.
package recorder

import (
	"strings"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/report"
)

// Event is one recorded call.
type Event struct {
	Kind       string // started, step-started, line, group, endgroup, step-finished, annotation, summary, finished
	Step       report.Step
	StepEnd    report.StepEnd
	LineKind   report.LineKind
	Text       string
	Annotation report.Annotation
	JobEnd     report.JobEnd
	At         time.Time
}

// Recorder records the events of every job it made.
type Recorder struct {
	mu   sync.Mutex
	jobs []*Job
}

// Job returns a new recorded job.
func (r *Recorder) Job(info report.JobInfo) report.Job {
	j := &Job{Info: info}
	r.mu.Lock()
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	return j
}

// Jobs returns the recorded jobs in the order they were made.
func (r *Recorder) Jobs() []*Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Job(nil), r.jobs...)
}

// Find returns the first job with this display name or job id, or nil.
func (r *Recorder) Find(name string) *Job {
	for _, j := range r.Jobs() {
		if j.Info.Name == name || j.Info.JobID == name {
			return j
		}
	}
	return nil
}

// Job is one job's recorded events.
type Job struct {
	mu     sync.Mutex
	Info   report.JobInfo
	events []Event
}

func (j *Job) add(e Event) {
	e.At = time.Now()
	j.mu.Lock()
	j.events = append(j.events, e)
	j.mu.Unlock()
}

// Events returns a copy of the recorded events.
func (j *Job) Events() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Event(nil), j.events...)
}

// Lines returns the text of every line of the given kinds (all kinds when none given).
func (j *Job) Lines(kinds ...report.LineKind) []string {
	var out []string
	for _, e := range j.Events() {
		if e.Kind != "line" {
			continue
		}
		if len(kinds) == 0 {
			out = append(out, e.Text)
			continue
		}
		for _, k := range kinds {
			if e.LineKind == k {
				out = append(out, e.Text)
			}
		}
	}
	return out
}

// Text is every line joined by newlines.
func (j *Job) Text() string { return strings.Join(j.Lines(), "\n") }

// Steps returns the finished steps in order with how they ended.
func (j *Job) Steps() []Event {
	var out []Event
	for _, e := range j.Events() {
		if e.Kind == "step-finished" {
			out = append(out, e)
		}
	}
	return out
}

// End returns the job's end, and false if it has not finished.
func (j *Job) End() (report.JobEnd, bool) {
	for _, e := range j.Events() {
		if e.Kind == "finished" {
			return e.JobEnd, true
		}
	}
	return report.JobEnd{}, false
}

// Started records the job's start.
func (j *Job) Started(info report.JobInfo) { j.add(Event{Kind: "started"}) }

// StepStarted records a step's start.
func (j *Job) StepStarted(s report.Step, _ time.Time) { j.add(Event{Kind: "step-started", Step: s}) }

// Line records a line.
func (j *Job) Line(k report.LineKind, text string) {
	j.add(Event{Kind: "line", LineKind: k, Text: text})
}

// Group records a fold's start.
func (j *Job) Group(title string) { j.add(Event{Kind: "group", Text: title}) }

// EndGroup records a fold's end.
func (j *Job) EndGroup() { j.add(Event{Kind: "endgroup"}) }

// StepFinished records a step's end.
func (j *Job) StepFinished(s report.Step, end report.StepEnd) {
	j.add(Event{Kind: "step-finished", Step: s, StepEnd: end})
}

// Annotate records an annotation.
func (j *Job) Annotate(a report.Annotation) { j.add(Event{Kind: "annotation", Annotation: a}) }

// Summary records a step summary.
func (j *Job) Summary(s report.Step, md string) { j.add(Event{Kind: "summary", Step: s, Text: md}) }

// Finished records the job's end.
func (j *Job) Finished(end report.JobEnd) { j.add(Event{Kind: "finished", JobEnd: end}) }
