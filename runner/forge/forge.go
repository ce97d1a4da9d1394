// Package forge is the seam between a forge's runner protocol (Gitea and
// Forgejo, GitHub) and gantry's engine. A protocol client turns the server's
// job into a Job, hands it to an Executor, and sends what the Executor
// reports (through report.Job) back to the server. Protocol packages know
// nothing of steps; the engine knows nothing of protocols.
package forge

import (
	"context"
	"time"

	"github.com/gantry-ci/gantry/runner/report"
)

// Job is one job handed out by a forge, already planned by the server.
type Job struct {
	// ServerID is the server's id for the job (task id, request id), for logs.
	ServerID string
	// Workflow is a workflow YAML that holds the job under JobID. Gitea
	// sends exactly this; the GitHub client builds it from the job message.
	Workflow     []byte
	WorkflowPath string // for error messages, e.g. .github/workflows/ci.yml
	JobID        string
	// Event and Payload are the triggering event; GitHub holds the github
	// context as the server gave it (it wins over what gantry derives).
	Event   string
	Payload map[string]any
	GitHub  map[string]any
	Secrets map[string]string
	Vars    map[string]string
	Inputs  map[string]any
	Matrix  map[string]any    // the cell's values, nil outside a matrix
	Needs   map[string]Need   // results and outputs of the jobs it needs
	Env     map[string]string // extra environment: ACTIONS_RUNTIME_URL, ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_URL, ACTIONS_RESULTS_URL, ...
	// Masks are extra values to mask (the task token among them).
	Masks []string
	// Labels are the runner labels the job was matched on; RunsOn maps one
	// to "host" or a docker image (from the runner's registration).
	Labels []string
	RunsOn map[string]string
	// ActionsURL is where the forge says actions come from (Gitea's
	// DEFAULT_ACTIONS_URL, https://github.com on GitHub); the runner clones
	// actions missing from its cache from there unless --action-mirror says
	// otherwise.
	ActionsURL string
	// Queued is when the server queued the job, when the protocol knows it
	// (for the queue-wait histogram); zero otherwise.
	Queued time.Time
}

// Need is the result and outputs of a job this one needs.
type Need struct {
	Result  report.Result
	Outputs map[string]string
}

// Outcome is how a job ended.
type Outcome struct {
	Result  report.Result
	Outputs map[string]string // job outputs, never one that holds a secret
}

// Executor runs one job, reporting its steps, lines, annotations and
// summaries to rep as they happen. A returned error means the job could not
// be run at all (bad payload, unknown label, unresolvable action); the
// caller reports it as that job's failure with the reason.
type Executor interface {
	Execute(ctx context.Context, job *Job, rep report.Job) (*Outcome, error)
}

// Registration is what a runner is registered with.
type Registration struct {
	URL       string   // the forge (or GHES) URL the user gave
	Token     string   // registration token (never logged, never saved)
	JITConfig string   // GitHub: an encoded JIT config instead of URL+Token
	Name      string   // runner name; the host name when empty
	Labels    []string // names only ("ubuntu-latest", "self-hosted"); the :host / :docker:// part stays local
	Ephemeral bool
	Version   string // gantry's version, sent where the protocol declares one
}

// Credentials are what a forge hands back on registration; the daemon keeps
// them in the runner's folder (mode 0600) as Data, opaque to it.
type Credentials struct {
	Forge string // "gitea" or "github"
	Name  string
	Data  []byte // protocol-specific (JSON): ids, tokens, keys
}

// Protocol is one forge's runner protocol. The daemon (runner/selfhosted)
// drives it: Register once, then Connect and Next in a loop; each
// Assignment is run through an Executor and completed.
type Protocol interface {
	Register(ctx context.Context, reg Registration) (*Credentials, error)
	// Connect opens a session (GitHub) or declares the runner (Gitea).
	Connect(ctx context.Context, creds *Credentials, labels []string) (Session, error)
	// Remove unregisters the runner from the server.
	Remove(ctx context.Context, creds *Credentials) error
}

// Session hands out jobs. Next long-polls and returns (nil, nil) when the
// poll ended with no job; it backs off by itself on server errors and
// returns an error only when the session cannot go on (bad credentials).
type Session interface {
	Next(ctx context.Context) (Assignment, error)
	Close(ctx context.Context) error
}

// Assignment is one job taken from the server.
type Assignment interface {
	// Job is the job to run; an error means the payload could not be
	// turned into a job, and is reported with Fail.
	Job() (*Job, error)
	// Reporter sends the job's events to the server (logs, step states,
	// annotations, summaries); it masks nothing itself.
	Reporter() report.Job
	// Cancelled is closed when the server cancels the job.
	Cancelled() <-chan struct{}
	// Complete reports how the job ended and releases it.
	Complete(ctx context.Context, out *Outcome) error
	// Fail reports the job as failed for reason, when it could not run.
	Fail(ctx context.Context, reason error) error
}
