// Package workflow is the model of a GitHub Actions workflow file, with the
// position of every key, and its parser and validator.
package workflow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/runner/trigger"
	"gopkg.in/yaml.v3"
)

// Pos is a position in a workflow file.
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is one problem in a workflow file.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors are all the problems found, sorted by position.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// KV is one entry of an ordered mapping. Value is the scalar's text, which may
// hold ${{ }}; non-string scalars keep their YAML text ("true", "3").
type KV struct {
	Key   string
	Value string
	Pos   Pos
}

// Map is an ordered mapping as written.
type Map []KV

// Get returns the value of key and whether it is present.
func (m Map) Get(key string) (string, bool) {
	for _, kv := range m {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// Workflow is one workflow file.
type Workflow struct {
	Path    string
	Name    string
	RunName string
	Pos     Pos
	OnNode  *yaml.Node
	On      *trigger.On
	Env     Map
	// EnvExpr is a whole-value env: ${{ ... }} (a mapping at run time).
	EnvExpr     string
	Defaults    Defaults
	Concurrency *Concurrency
	Permissions any
	Jobs        []*Job // file order
	Description string
	// Warnings are problems GitHub ignores (e.g. unknown keys under an
	// event of on:); the workflow is still valid.
	Warnings Errors
}

// Job returns the job with the id, or nil.
func (w *Workflow) Job(id string) *Job {
	for _, j := range w.Jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// Job is one entry of jobs:.
type Job struct {
	ID              string
	Name            string
	Pos             Pos
	Needs           []string
	NeedsPos        []Pos // where each needs entry is written
	If              string
	IfPos           Pos
	RunsOn          any // string, []any or map[string]any; may hold ${{ }}
	Environment     any
	Concurrency     *Concurrency
	Permissions     any
	Outputs         Map
	Env             Map
	EnvExpr         string // a whole-value env: ${{ ... }}
	Defaults        Defaults
	TimeoutMinutes  string
	CancelTimeout   string // cancel-timeout-minutes
	ContinueOnError string
	Strategy        *Strategy
	Container       *Container
	Services        []*Service
	Steps           []*Step
	Uses            string // a reusable workflow
	With            Map
	Secrets         Map
	SecretsInherit  bool
}

// Strategy is jobs.<id>.strategy.
type Strategy struct {
	Matrix      any // map[string]any, or an expression string
	MatrixNode  *yaml.Node
	MatrixPos   Pos
	FailFast    string
	MaxParallel string
}

// Container is a job container or a service.
type Container struct {
	Image       string
	Credentials Map
	Env         Map
	Ports       []string
	Volumes     []string
	Options     string
	Pos         Pos
	// EnvExpr and CredentialsExpr are whole-value ${{ }} forms of env and
	// credentials; Entrypoint and Command are services' overrides.
	EnvExpr         string
	CredentialsExpr string
	Entrypoint      string
	Command         string
}

// Service is one entry of jobs.<id>.services.
type Service struct {
	ID string
	Container
}

// Step is one step of a job or of a composite action.
type Step struct {
	Index            int
	ID               string
	Name             string
	If               string
	Uses             string
	Run              string
	Shell            string
	WorkingDirectory string
	With             Map
	Env              Map
	EnvExpr          string // a whole-value env: ${{ ... }}
	ContinueOnError  string
	TimeoutMinutes   string
	Pos              Pos
	Node             *yaml.Node
}

// Concurrency is a concurrency group.
type Concurrency struct {
	Group            string
	CancelInProgress string
	Queue            string // concurrency.queue (e.g. max)
	Pos              Pos
}

// Defaults is defaults.run.
type Defaults struct {
	Shell            string
	WorkingDirectory string
}
