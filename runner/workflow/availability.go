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

// exprs checks every ${{ }} in a value: syntax, contexts and functions.
func (p *parser) exprs(n *yaml.Node, value string, a *availability) {
	if !strings.Contains(value, "${{") {
		return
	}
	t, err := expr.ParseTemplate(value)
	if err != nil {
		p.exprError(n, value, err)
		return
	}
	for _, e := range t.Exprs() {
		p.checkAvailable(n, e, a)
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
	e, err := expr.Parse(v)
	if err != nil {
		p.exprError(n, value, err)
		return
	}
	p.checkAvailable(n, e, a)
}

func (p *parser) checkAvailable(n *yaml.Node, e *expr.Expr, a *availability) {
	for _, c := range e.Contexts() {
		if !contains(a.contexts, c) {
			p.errorf(n, "context %q is not available in %s; available there: %s", c, a.key, strings.Join(a.contexts, ", "))
		}
	}
	for _, f := range e.Functions() {
		if baseFuncs[f] {
			continue
		}
		ok := false
		for _, g := range a.funcs {
			if strings.EqualFold(g, f) {
				ok = true
			}
		}
		if !ok {
			switch f {
			case "success", "failure", "always", "cancelled":
				p.errorf(n, "%s() can only be used in if: conditions", f)
			case "hashfiles":
				p.errorf(n, "hashFiles() is only available in step-level keys (run, with, env, if, ...), not in %s", a.key)
			default:
				p.errorf(n, "function %s() is not available in %s", f, a.key)
			}
		}
	}
}

// exprError reports a syntax error at the column inside the value where it is.
func (p *parser) exprError(n *yaml.Node, value string, err error) {
	pos := p.pos(n)
	var ee *expr.Error
	msg := err.Error()
	if errors.As(err, &ee) {
		msg = ee.Msg
		off := ee.Offset
		if off > len(value) {
			off = len(value)
		}
		before := value[:off]
		if lines := strings.Count(before, "\n"); lines > 0 || n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			// Block scalars start on the line after the indicator.
			if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				lines++
			}
			pos.Line += lines
			pos.Col = len(before) - strings.LastIndexByte(before, '\n')
			if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				pos.Col += n.Column + 1
			}
		} else {
			pos.Col += off
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				pos.Col++
			}
		}
	}
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf("invalid expression in %q: %s", shorten(value), msg)})
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}
