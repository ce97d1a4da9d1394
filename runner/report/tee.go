package report

import "time"

// Tee sends every job's events to each of reporters, in order: a forge
// runner shows a job on its console and sends it to the server.
func Tee(reporters ...Reporter) Reporter { return tee(reporters) }

type tee []Reporter

func (t tee) Job(info JobInfo) Job {
	jobs := make(teeJob, len(t))
	for i, r := range t {
		jobs[i] = r.Job(info)
	}
	return jobs
}

type teeJob []Job

func (t teeJob) Started(i JobInfo) {
	for _, j := range t {
		j.Started(i)
	}
}

func (t teeJob) StepStarted(s Step, at time.Time) {
	for _, j := range t {
		j.StepStarted(s, at)
	}
}

func (t teeJob) Line(k LineKind, text string) {
	for _, j := range t {
		j.Line(k, text)
	}
}

func (t teeJob) Group(title string) {
	for _, j := range t {
		j.Group(title)
	}
}

func (t teeJob) EndGroup() {
	for _, j := range t {
		j.EndGroup()
	}
}

func (t teeJob) StepFinished(s Step, e StepEnd) {
	for _, j := range t {
		j.StepFinished(s, e)
	}
}

func (t teeJob) Annotate(a Annotation) {
	for _, j := range t {
		j.Annotate(a)
	}
}

func (t teeJob) Summary(s Step, md string) {
	for _, j := range t {
		j.Summary(s, md)
	}
}

func (t teeJob) Finished(e JobEnd) {
	for _, j := range t {
		j.Finished(e)
	}
}
