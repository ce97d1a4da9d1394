// Package report is where a running job's events go out: the console of
// `gantry run`, a recording reporter in tests, and each forge's log and
// timeline API. Everything handed to a reporter is already masked.
package report

import "time"

// Result is a job's or a step's conclusion, as GitHub names them.
type Result string

// Results.
const (
	Success   Result = "success"
	Failure   Result = "failure"
	Cancelled Result = "cancelled"
	Skipped   Result = "skipped"
)

// Stage says which phase of a job a step belongs to.
type Stage string

// Stages. Setup and Teardown are runner-made steps (set up job, complete job).
const (
	Setup    Stage = "setup"
	Pre      Stage = "pre"
	Main     Stage = "main"
	Post     Stage = "post"
	Teardown Stage = "teardown"
)

// JobInfo names one job (one matrix cell) of a run.
type JobInfo struct {
	RunID   string
	JobID   string         // the key under jobs:
	Name    string         // the display name (matrix values filled in)
	Matrix  map[string]any // nil outside a matrix
	Started time.Time
}

// Step names one step of a job. Index is the step's position in the job's
// steps: (0-based) for Main steps and for the Pre/Post steps of the action
// that step uses; -1 for runner-made steps.
type Step struct {
	Index int
	ID    string // the step's id: or a generated one
	Name  string
	Stage Stage
}

// StepEnd is how a step ended.
type StepEnd struct {
	Outcome    Result // before continue-on-error
	Conclusion Result // after continue-on-error
	ExitCode   int
	Ended      time.Time
	Err        string // the runner's reason for a failure, when it has one
}

// LineKind tells step output from the runner's own messages.
type LineKind int

// Line kinds.
const (
	Output  LineKind = iota // a line the step printed
	Info                    // a runner message
	Warn                    // a runner warning
	Error                   // a runner error
	Command                 // an echoed workflow command or group marker
)

// Annotation is an error, warning or notice raised by a step.
type Annotation struct {
	Level                      string // error, warning, notice
	Title, Message, File       string
	Line, EndLine, Col, EndCol int
	Step                       string
}

// JobEnd is how a job ended.
type JobEnd struct {
	Result  Result
	Outputs map[string]string
	Ended   time.Time
}

// Job receives the events of one running job, in order. Implementations
// must be safe for use by one job's goroutine; a reporter handed to several
// jobs gives each its own Job.
type Job interface {
	Started(JobInfo)
	StepStarted(Step, time.Time)
	Line(kind LineKind, text string)
	Group(title string) // opens a fold (::group::); EndGroup closes it
	EndGroup()
	StepFinished(Step, StepEnd)
	Annotate(Annotation)
	Summary(step Step, markdown string)
	Finished(JobEnd)
}

// Reporter makes the Job reporter of each job of a run.
type Reporter interface {
	Job(JobInfo) Job
}
