package workflow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"gopkg.in/yaml.v3"
)

// availability is one row of GitHub's "context availability" table: which
// contexts and special functions a key's expressions may use.
type availability struct {
	key      string
	contexts []string
	funcs    []string // beyond the functions allowed everywhere
}

func avail(key, contexts, funcs string) *availability {
	a := &availability{key: key, contexts: strings.Fields(contexts)}
	if funcs != "" {
		a.funcs = strings.Fields(funcs)
	}
	return a
}

const stepContexts = "github needs strategy matrix job runner env vars secrets steps inputs"

var (
	ctxRunName              = avail("run-name", "github inputs vars", "")
	ctxWorkflowEnv          = avail("env", "github secrets inputs vars", "")
	ctxWorkflowDefaults     = avail("defaults.run", "github inputs vars", "")
	ctxWorkflowConcurrency  = avail("concurrency", "github inputs vars", "")
	ctxCallInputDefault     = avail("on.workflow_call.inputs.<id>.default", "github inputs vars", "")
	ctxCallOutput           = avail("on.workflow_call.outputs.<id>.value", "github jobs vars inputs", "")
	ctxJobName              = avail("jobs.<id>.name", "github needs strategy matrix vars inputs", "")
	ctxJobIf                = avail("jobs.<id>.if", "github needs vars inputs", "always cancelled success failure")
	ctxJobRunsOn            = avail("jobs.<id>.runs-on", "github needs strategy matrix vars inputs", "")
	ctxJobEnvironment       = avail("jobs.<id>.environment", "github needs strategy matrix vars inputs", "")
	ctxJobEnvironmentURL    = avail("jobs.<id>.environment.url", "github needs strategy matrix job runner env vars steps inputs", "")
	ctxJobConcurrency       = avail("jobs.<id>.concurrency", "github needs strategy matrix inputs vars", "")
	ctxJobOutputs           = avail("jobs.<id>.outputs", "github needs strategy matrix job runner env vars secrets steps inputs", "")
	ctxJobEnv               = avail("jobs.<id>.env", "github needs strategy matrix vars secrets inputs", "")
	ctxJobDefaults          = avail("jobs.<id>.defaults.run", "github needs strategy matrix env vars inputs", "")
	ctxJobTimeout           = avail("jobs.<id>.timeout-minutes", "github needs strategy matrix vars inputs", "")
	ctxJobContinueOnError   = avail("jobs.<id>.continue-on-error", "github needs strategy vars matrix inputs", "")
	ctxJobContainer         = avail("jobs.<id>.container", "github needs strategy matrix vars inputs", "")
	ctxJobServices          = avail("jobs.<id>.services", "github needs strategy matrix vars inputs", "")
	ctxContainerCredentials = avail("container.credentials", "github needs strategy matrix env vars secrets inputs", "")
	ctxContainerEnv         = avail("container.env", "github needs strategy matrix job runner env vars secrets inputs", "")
	ctxStrategy             = avail("jobs.<id>.strategy", "github needs vars inputs", "")
	ctxJobWith              = avail("jobs.<id>.with", "github needs strategy matrix inputs vars", "")
	ctxJobSecrets           = avail("jobs.<id>.secrets", "github needs strategy matrix secrets inputs vars", "")
	ctxStepIf               = avail("jobs.<id>.steps.if", "github needs strategy matrix job runner env vars steps inputs", "always cancelled success failure hashFiles")
	ctxStep                 = avail("jobs.<id>.steps", stepContexts, "hashFiles")
)

// Functions every expression may call.
var baseFuncs = map[string]bool{"contains": true, "startswith": true, "endswith": true, "format": true, "join": true,
	"tojson": true, "fromjson": true, "case": true}

// exprs checks every ${{ }} in a value: syntax, contexts and functions,
// with GitHub's messages, at the value as GitHub points.
func (p *parser) exprs(n *yaml.Node, value string, a *availability) {
	if !strings.Contains(value, "${{") {
		return
	}
	if p.exprTooLong(n, value) || p.embeddedDirective(n, value) {
		return
	}
	if _, err := expr.ParseTemplateWith(value, a.contexts, a.allowedFuncs()); err != nil {
		p.exprError(n, err, a)
	}
}

func (p *parser) exprsMap(m Map, a *availability) {
	for _, kv := range m {
		if strings.Contains(kv.Value, "${{") {
			n := &yaml.Node{Line: kv.Pos.Line, Column: kv.Pos.Col}
			p.exprs(n, kv.Value, a)
		}
	}
}

// condition checks an if: which may be written without ${{ }}.
func (p *parser) condition(n *yaml.Node, value string, a *availability) {
	v := strings.TrimSpace(value)
	if v == "" {
		return
	}
	if strings.Contains(v, "${{") {
		p.exprs(n, value, a)
		return
	}
	if _, err := expr.ParseWith(v, a.contexts, a.allowedFuncs()); err != nil {
		p.exprError(n, err, a)
	}
}

// allowedFuncs lists the functions a key's expressions may call.
func (a *availability) allowedFuncs() []string {
	out := make([]string, 0, len(baseFuncs)+len(a.funcs))
	for f := range baseFuncs {
		out = append(out, f)
	}
	return append(out, a.funcs...)
}

// exprError reports an expression error with GitHub's text, adding which
// names the key allows when one was not recognized.
func (p *parser) exprError(n *yaml.Node, err error, a *availability) {
	msg := err.Error()
	var ee *expr.Error
	if errors.As(err, &ee) {
		switch {
		case strings.HasPrefix(ee.Msg, "Unrecognized named-value"):
			msg += fmt.Sprintf(" (contexts available in %s: %s)", a.key, strings.Join(a.contexts, ", "))
		case strings.HasPrefix(ee.Msg, "Unrecognized function"):
			if extra := statusOrHashFiles(ee.Msg); extra != "" {
				msg += " (" + extra + ")"
			}
		}
	}
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Msg: msg})
}

func statusOrHashFiles(msg string) string {
	m := strings.ToLower(msg)
	for _, f := range []string{"'success'", "'failure'", "'always'", "'cancelled'"} {
		if strings.Contains(m, f) {
			return "status functions can only be used in if: conditions"
		}
	}
	if strings.Contains(m, "'hashfiles'") {
		return "hashFiles() is only available in step-level keys (run, with, env, if, ...)"
	}
	return ""
}
