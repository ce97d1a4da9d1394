package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/runner/trigger"
	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/internal/suggest"
)

// parser collects every problem of one file.
type parser struct {
	file string
	errs Errors
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: p.pos(n), Msg: fmt.Sprintf(format, args...)})
}

// ParseFile reads and parses a workflow file.
func ParseFile(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{Pos: Pos{File: path}, Msg: fmt.Sprintf("cannot read workflow: %v", err)}}
	}
	return Parse(path, data)
}

// Load parses a workflow file, or every *.yml and *.yaml file of a directory.
// The error is Errors with the problems of all files.
func Load(path string) ([]*Workflow, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, Errors{{Pos: Pos{File: path}, Msg: fmt.Sprintf("no workflows here: %v", err)}}
	}
	files := []string{path}
	if fi.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, Errors{{Pos: Pos{File: path}, Msg: err.Error()}}
		}
		for _, e := range entries {
			if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yml") || strings.HasSuffix(e.Name(), ".yaml")) {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, Errors{{Pos: Pos{File: path}, Msg: "no *.yml or *.yaml workflow files in this folder"}}
		}
	}
	var all Errors
	var out []*Workflow
	for _, f := range files {
		wf, err := ParseFile(f)
		if err != nil {
			var es Errors
			if errors.As(err, &es) {
				all = append(all, es...)
				continue
			}
			return nil, err
		}
		out = append(out, wf)
	}
	if len(all) > 0 {
		return out, all
	}
	return out, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses and validates a workflow. The error is Errors.
func Parse(path string, data []byte) (*Workflow, error) {
	p := &parser{file: path}
	if e := checkUTF8(path, data); e != nil {
		return nil, Errors{e}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		msg := err.Error()
		line := 1
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		if err.Error() == "EOF" {
			msg = "the file is empty; a workflow needs `on:` and `jobs:`"
		}
		return nil, Errors{{Pos: Pos{File: path, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}}
	}
	wf := &Workflow{Path: path}
	if len(doc.Content) == 0 {
		return nil, Errors{{Pos: Pos{File: path, Line: 1, Col: 1}, Msg: "the file is empty; a workflow needs `on:` and `jobs:`"}}
	}
	if e := CheckAliases(path, &doc); e != nil {
		return nil, Errors{e}
	}
	root := doc.Content[0]
	resolveAliases(root)
	p.checkTags(root)
	p.checkDepth(root)
	wf.Pos = p.pos(root)
	p.workflow(root, wf)
	p.secure(root)
	if len(p.errs) > 0 {
		p.errs.sort()
		return wf, p.errs
	}
	return wf, nil
}

// mapping walks a mapping node, reporting unknown and duplicate keys; fn gets
// each known key with its value.
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return false
		}
		p.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolveAlias(n.Content[i+1])
		key := k.Value
		if k.Tag == "!!null" {
			key = ""
		}
		if seen[key] {
			p.errorf(k, "'%s' is already defined in %s; remove one", key, what)
			continue
		}
		seen[key] = true
		if known != nil && !contains(known, key) {
			hint := ""
			if s := closest(key, known); s != "" {
				hint = fmt.Sprintf("; did you mean %q?", s)
			}
			p.errorf(k, "Unexpected value '%s': unknown key in %s%s (expected one of: %s)", key, what, hint, strings.Join(known, ", "))
			continue
		}
		fn(key, k, v)
	}
	return true
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	}
	return "a value"
}

// scalar returns a scalar's text, reporting anything else.
func (p *parser) scalar(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: %s must be a string, not %s", notExpected(n), what, kindName(n))
		return ""
	}
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// stringList accepts a string or a sequence of strings.
func (p *parser) stringList(n *yaml.Node, what string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, e := range n.Content {
			out = append(out, p.scalar(resolveAlias(e), what+" entries"))
		}
		return out
	}
	p.errorf(n, "%s must be a string or a list of strings, not %s", what, kindName(n))
	return nil
}

// kvMap reads a mapping of scalars (env:, with:, outputs:).
func (p *parser) kvMap(n *yaml.Node, what string) Map {
	var out Map
	p.mapping(n, what, nil, func(key string, k, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode {
			p.errorf(v, "%s.%s must be a string, number or boolean, not %s", what, key, kindName(v))
			return
		}
		val := v.Value
		if v.Tag == "!!null" {
			val = ""
		}
		out = append(out, KV{Key: key, Value: val, Pos: p.pos(v)})
	})
	return out
}

// numberOrExpr checks a value that must be a number or an expression.
func (p *parser) numberOrExpr(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a number or an expression, not %s", what, kindName(n))
		return ""
	}
	if n.Tag == "!!int" || n.Tag == "!!float" || isExprOnly(n.Value) || numberText.MatchString(n.Value) {
		return n.Value
	}
	p.errorf(n, "%s must be a number or an expression, not %q", what, n.Value)
	return ""
}

// boolOrExpr checks a value that must be a boolean or an expression.
func (p *parser) boolOrExpr(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a boolean or an expression, not %s", what, kindName(n))
		return ""
	}
	if n.Tag == "!!bool" || isExprOnly(n.Value) {
		return n.Value
	}
	p.errorf(n, "%s must be true, false or an expression, not %q", what, n.Value)
	return ""
}

func isExprOnly(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "${{") && strings.HasSuffix(s, "}}")
}

// ToValue converts a YAML node to a plain value (nil, bool, float64, string,
// []any, map[string]any).
func ToValue(n *yaml.Node) any {
	n = resolveAlias(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			return ToValue(n.Content[0])
		}
		return nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			out = append(out, ToValue(e))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			out[n.Content[i].Value] = ToValue(n.Content[i+1])
		}
		return out
	}
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	}
	return n.Value
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// closest suggests the known key nearest to a misspelt one.
func closest(s string, known []string) string { return suggest.Closest(s, known) }

var workflowKeys = []string{"name", "run-name", "description", "on", "permissions", "env", "defaults", "concurrency", "jobs"}

func (p *parser) workflow(root *yaml.Node, wf *Workflow) {
	var onNode, jobsNode *yaml.Node
	ok := p.mapping(root, "the workflow", workflowKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			wf.Name = p.scalar(v, "name")
			p.noExpr(v, wf.Name)
		case "description":
			wf.Description = p.scalar(v, "description")
		case "run-name":
			wf.RunName = p.scalar(v, "run-name")
			p.exprs(v, wf.RunName, ctxRunName)
		case "on":
			onNode = v
		case "permissions":
			wf.Permissions = p.permissions(v)
		case "env":
			wf.Env, wf.EnvExpr = p.envMap(v, "env", ctxWorkflowEnv)
		case "defaults":
			wf.Defaults = p.defaults(v, ctxWorkflowDefaults)
		case "concurrency":
			wf.Concurrency = p.concurrency(v, ctxWorkflowConcurrency)
		case "jobs":
			jobsNode = v
		}
	})
	if !ok {
		return
	}
	if onNode == nil {
		p.errorf(root, "Required property is missing: on; add the events that trigger the workflow, e.g. `on: push`")
	} else {
		wf.OnNode = onNode
		on, errs := trigger.ParseOn(p.file, onNode)
		wf.On = on
		for _, e := range errs {
			p.errs = append(p.errs, p.wrapTriggerError(onNode, e))
		}
		if on != nil {
			for _, w := range on.Warnings {
				wf.Warnings = append(wf.Warnings, p.wrapTriggerError(onNode, w))
			}
		}
		if on != nil {
			for _, d := range on.InputDefaults() {
				p.exprs(d.Node, d.Value, ctxCallInputDefault)
			}
			for _, o := range on.CallOutputs() {
				if o.Node != nil {
					p.exprs(o.Node, o.Value, ctxCallOutput)
				}
			}
		}
	}
	if jobsNode == nil {
		p.errorf(root, "Required property is missing: jobs; add at least one job")
		return
	}
	p.jobs(jobsNode, wf)
}

// wrapTriggerError keeps the trigger package's positioned message.
func (p *parser) wrapTriggerError(on *yaml.Node, err error) *Error {
	var te *trigger.Error
	if errors.As(err, &te) {
		return &Error{Pos: Pos{File: p.file, Line: te.Line, Col: te.Col}, Msg: te.Msg}
	}
	return &Error{Pos: p.pos(on), Msg: err.Error()}
}

var jobKeys = []string{"name", "permissions", "needs", "if", "runs-on", "snapshot", "environment", "concurrency", "outputs",
	"env", "defaults", "steps", "timeout-minutes", "cancel-timeout-minutes", "strategy", "continue-on-error", "container", "services"}

var callJobKeys = []string{"name", "uses", "with", "secrets", "needs", "if", "permissions", "concurrency", "strategy"}

func (p *parser) jobs(n *yaml.Node, wf *Workflow) {
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && p.noExpr(n, n.Value) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: jobs must be a mapping of job ids to jobs, not %s", notExpected(n), kindName(n))
		return
	}
	if len(n.Content) == 0 {
		p.errorf(n, "The workflow must contain at least one job with no dependencies. (jobs is empty; add a job)")
		return
	}
	seen := map[string]bool{}
	p.mapping(n, "jobs", nil, func(id string, k, v *yaml.Node) {
		p.checkID(k, id)
		if seen[strings.ToLower(id)] {
			p.errorf(k, "'%s' is already defined (job ids are compared ignoring case)", id)
		}
		seen[strings.ToLower(id)] = true
		wf.Jobs = append(wf.Jobs, p.job(id, k, v))
	})
	p.checkNeeds(wf)
}

func (p *parser) job(id string, k, n *yaml.Node) *Job {
	j := &Job{ID: id, Pos: p.pos(k)}
	what := fmt.Sprintf("job %q", id)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping, not %s", what, kindName(n))
		return j
	}
	// Like GitHub, the first of uses: or runs-on:/steps: decides whether
	// this calls a reusable workflow; the other keys are then unexpected.
	isCall := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "uses" || k == "runs-on" || k == "steps" {
			isCall = k == "uses"
			break
		}
	}
	keys := jobKeys
	if isCall {
		keys = callJobKeys
	}
	var stepsNode *yaml.Node
	hasRunsOn := false
	p.mapping(n, what, keys, func(key string, kn, v *yaml.Node) {
		switch key {
		case "name":
			j.Name = p.scalar(v, "name")
			p.exprs(v, j.Name, ctxJobName)
		case "permissions":
			j.Permissions = p.permissions(v)
		case "needs":
			j.Needs = p.stringList(v, "needs")
			j.NeedsPos = p.listPos(v)
		case "if":
			j.If = p.ifValue(v)
			j.IfPos = p.pos(v)
			p.condition(v, j.If, ctxJobIf)
		case "runs-on":
			hasRunsOn = true
			j.RunsOn = p.runsOn(v)
		case "snapshot":
		case "environment":
			j.Environment = p.environment(v)
		case "concurrency":
			j.Concurrency = p.concurrency(v, ctxJobConcurrency)
		case "outputs":
			j.Outputs = p.kvMap(v, "outputs")
			p.exprsMap(j.Outputs, ctxJobOutputs)
		case "env":
			j.Env, j.EnvExpr = p.envMap(v, "env", ctxJobEnv)
		case "defaults":
			j.Defaults = p.defaults(v, ctxJobDefaults)
		case "steps":
			stepsNode = v
		case "timeout-minutes":
			j.TimeoutMinutes = p.numberOrExpr(v, "timeout-minutes")
			p.exprs(v, j.TimeoutMinutes, ctxJobTimeout)
		case "cancel-timeout-minutes":
			j.CancelTimeout = p.numberOrExpr(v, "cancel-timeout-minutes")
			p.exprs(v, j.CancelTimeout, ctxJobTimeout)
		case "strategy":
			j.Strategy = p.strategy(v)
		case "continue-on-error":
			j.ContinueOnError = p.boolOrExpr(v, "continue-on-error")
			p.exprs(v, j.ContinueOnError, ctxJobContinueOnError)
		case "container":
			j.Container = p.container(v, "container", ctxJobContainer)
		case "services":
			p.mapping(v, "services", nil, func(sid string, sk, sv *yaml.Node) {
				c := p.container(sv, "services."+sid, ctxJobServices)
				if c != nil {
					j.Services = append(j.Services, &Service{ID: sid, Container: *c})
				}
			})
		case "uses":
			j.Uses = p.scalar(v, "uses")
			if j.Uses != "" && !strings.HasPrefix(j.Uses, "./") && !strings.Contains(j.Uses, "@") {
				p.errorf(v, "reusable workflow %q needs a ref: owner/repo/.github/workflows/file.yml@ref, or a local ./.github/workflows/file.yml", j.Uses)
			}
		case "with":
			j.With = p.kvMap(v, "with")
			p.exprsMap(j.With, ctxJobWith)
		case "secrets":
			if v.Kind == yaml.ScalarNode && v.Value == "inherit" {
				j.SecretsInherit = true
				return
			}
			j.Secrets = p.kvMap(v, "secrets")
			p.exprsMap(j.Secrets, ctxJobSecrets)
		}
	})
	if isCall {
		return j
	}
	if !hasRunsOn {
		p.errorf(n, "Required property is missing: runs-on (%s; add e.g. `runs-on: ubuntu-latest`)", what)
	}
	if stepsNode == nil {
		return j // GitHub accepts a job without steps
	}
	j.Steps = p.steps(stepsNode, false)
	return j
}

func (p *parser) ifValue(v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "if must be a string, not %s", kindName(v))
		return ""
	}
	return v.Value
}

func (p *parser) runsOn(v *yaml.Node) any {
	switch v.Kind {
	case yaml.ScalarNode, yaml.SequenceNode:
		labels := p.stringList(v, "runs-on")
		for _, l := range labels {
			p.exprs(v, l, ctxJobRunsOn)
		}
		return ToValue(v)
	case yaml.MappingNode:
		p.mapping(v, "runs-on", []string{"group", "labels"}, func(key string, k, e *yaml.Node) {
			if key == "group" {
				p.runsOnGroup(e, p.scalar(e, "runs-on.group"))
			} else {
				p.stringList(e, "runs-on.labels")
			}
		})
		return ToValue(v)
	}
	p.errorf(v, "runs-on must be a label, a list of labels or {group, labels}")
	return nil
}

func (p *parser) environment(v *yaml.Node) any {
	if v.Kind == yaml.ScalarNode {
		p.exprs(v, v.Value, ctxJobEnvironment)
		return v.Value
	}
	hasName := false
	p.mapping(v, "environment", []string{"name", "url", "deployment"}, func(key string, k, e *yaml.Node) {
		switch key {
		case "name":
			hasName = true
			p.exprs(e, p.scalar(e, "environment.name"), ctxJobEnvironment)
		case "url":
			p.exprs(e, p.scalar(e, "environment.url"), ctxJobEnvironmentURL)
		case "deployment":
			p.boolOrExpr(e, "environment.deployment")
		}
	})
	if v.Kind == yaml.MappingNode && !hasName {
		p.errorf(v, "Required property is missing: name (environment needs a name)")
	}
	return ToValue(v)
}

func (p *parser) concurrency(v *yaml.Node, ctx *availability) *Concurrency {
	c := &Concurrency{Pos: p.pos(v)}
	if v.Kind == yaml.ScalarNode {
		c.Group = v.Value
		p.exprs(v, c.Group, ctx)
		return c
	}
	p.mapping(v, "concurrency", []string{"group", "cancel-in-progress", "queue"}, func(key string, k, e *yaml.Node) {
		switch key {
		case "queue":
			c.Queue = p.scalar(e, "concurrency.queue")
			p.exprs(e, c.Queue, ctx)
		case "group":
			c.Group = p.scalar(e, "concurrency.group")
			p.exprs(e, c.Group, ctx)
		case "cancel-in-progress":
			c.CancelInProgress = p.boolOrExpr(e, "cancel-in-progress")
			p.exprs(e, c.CancelInProgress, ctx)
		}
	})
	if c.Group == "" {
		p.errorf(v, "Required property is missing: group (concurrency needs a group name)")
	}
	return c
}

func (p *parser) defaults(v *yaml.Node, ctx *availability) Defaults {
	var d Defaults
	p.mapping(v, "defaults", []string{"run"}, func(key string, k, e *yaml.Node) {
		p.mapping(e, "defaults.run", []string{"shell", "working-directory"}, func(key string, k, e *yaml.Node) {
			switch key {
			case "shell":
				d.Shell = p.scalar(e, "defaults.run.shell")
				p.exprs(e, d.Shell, ctx)
			case "working-directory":
				d.WorkingDirectory = p.scalar(e, "defaults.run.working-directory")
				p.exprs(e, d.WorkingDirectory, ctx)
			}
		})
	})
	return d
}

func (p *parser) strategy(v *yaml.Node) *Strategy {
	s := &Strategy{}
	p.mapping(v, "strategy", []string{"matrix", "fail-fast", "max-parallel"}, func(key string, k, e *yaml.Node) {
		switch key {
		case "matrix":
			s.MatrixPos = p.pos(e)
			switch e.Kind {
			case yaml.ScalarNode:
				if !isExprOnly(e.Value) {
					p.errorf(e, "strategy.matrix must be a mapping or an expression such as ${{ fromJSON(needs.setup.outputs.matrix) }}")
				}
				s.Matrix = e.Value
				p.exprs(e, e.Value, ctxStrategy)
			case yaml.MappingNode:
				s.MatrixNode = e
				s.Matrix = ToValue(e)
				p.matrix(e)
			default:
				p.errorf(e, "strategy.matrix must be a mapping, not %s", kindName(e))
			}
		case "fail-fast":
			s.FailFast = p.boolOrExpr(e, "fail-fast")
			p.exprs(e, s.FailFast, ctxStrategy)
		case "max-parallel":
			s.MaxParallel = p.numberOrExpr(e, "max-parallel")
			p.exprs(e, s.MaxParallel, ctxStrategy)
		}
	})
	return s
}

func (p *parser) matrix(n *yaml.Node) {
	p.mapping(n, "strategy.matrix", nil, func(key string, k, v *yaml.Node) {
		switch key {
		case "include", "exclude":
			if v.Kind == yaml.ScalarNode && isExprOnly(v.Value) {
				p.exprs(v, v.Value, ctxStrategy)
				return
			}
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "matrix %s must be a list of mappings", key)
				return
			}
			for _, e := range v.Content {
				if resolveAlias(e).Kind != yaml.MappingNode && !(e.Kind == yaml.ScalarNode && isExprOnly(e.Value)) {
					p.errorf(e, "each matrix %s entry must be a mapping", key)
				}
			}
		default:
			switch v.Kind {
			case yaml.SequenceNode:
				if len(v.Content) == 0 {
					p.errorf(v, "Matrix vector '%s' does not contain any values; a matrix dimension needs at least one value", key)
				}
			case yaml.ScalarNode:
				if !isExprOnly(v.Value) {
					p.errorf(v, "matrix value %q must be a list, e.g. %s: [a, b]", key, key)
				}
				p.exprs(v, v.Value, ctxStrategy)
			default:
				p.errorf(v, "matrix value %q must be a list, not %s", key, kindName(v))
			}
		}
	})
}

var containerKeys = []string{"image", "credentials", "env", "ports", "volumes", "options"}

func (p *parser) container(v *yaml.Node, what string, ctx *availability) *Container {
	c := &Container{Pos: p.pos(v)}
	if v.Kind == yaml.ScalarNode {
		c.Image = v.Value
		p.exprs(v, c.Image, ctx)
		return c
	}
	hasImage := false
	keys := containerKeys
	if strings.HasPrefix(what, "services.") {
		keys = serviceKeys
	}
	p.mapping(v, what, keys, func(key string, k, e *yaml.Node) {
		switch key {
		case "image":
			hasImage = true
			if e.Kind == yaml.ScalarNode && e.Tag == "!!null" {
				p.errorf(e, "Unexpected value '': %s.image is empty", what)
			}
			c.Image = p.scalar(e, what+".image")
			p.exprs(e, c.Image, ctx)
		case "entrypoint":
			c.Entrypoint = p.scalar(e, what+".entrypoint")
			p.exprs(e, c.Entrypoint, ctx)
		case "command":
			c.Command = p.scalar(e, what+".command")
			p.exprs(e, c.Command, ctx)
		case "credentials":
			if e.Kind == yaml.ScalarNode && isExprOnly(e.Value) {
				c.CredentialsExpr = e.Value
				p.exprs(e, e.Value, ctxContainerCredentials)
				return
			}
			c.Credentials = p.kvMap(e, what+".credentials")
			if e.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(e.Content); i += 2 {
					if key := e.Content[i].Value; key != "username" && key != "password" {
						p.errorf(e.Content[i], "Unexpected value '%s': %s.credentials accepts username and password", key, what)
					}
				}
			}
			p.exprsMap(c.Credentials, ctxContainerCredentials)
		case "env":
			c.Env, c.EnvExpr = p.envMap(e, what+".env", ctxContainerEnv)
		case "ports":
			c.Ports = append(c.Ports, p.stringList(e, what+".ports")...)
		case "volumes":
			c.Volumes = p.stringList(e, what+".volumes")
		case "options":
			c.Options = p.scalar(e, what+".options")
			p.exprs(e, c.Options, ctx)
		}
	})
	if v.Kind == yaml.MappingNode && !hasImage {
		p.errorf(v, "Container image cannot be empty (%s needs image:)", what)
	}
	return c
}

var serviceKeys = []string{"image", "credentials", "env", "ports", "volumes", "options", "entrypoint", "command"}

var permissionScopes = []string{"actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token",
	"issues", "models", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses"}

func (p *parser) permissions(v *yaml.Node) any {
	if v.Kind == yaml.ScalarNode {
		switch v.Value {
		case "read-all", "write-all", "":
		default:
			p.errorf(v, "permissions must be read-all, write-all, {} or a mapping of scopes, not %q", v.Value)
		}
		return v.Value
	}
	p.mapping(v, "permissions", permissionScopes, func(key string, k, e *yaml.Node) {
		val := p.scalar(e, "permissions."+key)
		switch val {
		case "read", "write", "none":
			if key == "id-token" && val == "read" {
				p.errorf(e, "permissions.id-token can be write or none, not read")
			}
		default:
			p.errorf(e, "Unexpected value '%s': permissions.%s must be read, write or none", val, key)
		}
	})
	return ToValue(v)
}

var stepKeys = []string{"id", "if", "name", "uses", "run", "shell", "with", "env", "continue-on-error", "timeout-minutes", "working-directory"}
var compositeStepKeys = []string{"id", "if", "name", "uses", "run", "shell", "with", "env", "continue-on-error", "working-directory"}

// ParseSteps parses a list of steps: a job's, or with composite the runs.steps
// of a composite action (where run: needs shell:).
func ParseSteps(file string, n *yaml.Node, composite bool) ([]*Step, Errors) {
	p := &parser{file: file}
	steps := p.steps(n, composite)
	p.secureSteps(n)
	p.errs.sort()
	return steps, p.errs
}

func (p *parser) steps(n *yaml.Node, composite bool) []*Step {
	n = resolveAlias(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s: steps must be a list of steps, not %s", notExpected(n), kindName(n))
		return nil
	}
	var out []*Step
	ids := map[string]bool{}
	keys := stepKeys
	if composite {
		keys = compositeStepKeys
	}
	for i, sn := range n.Content {
		sn = resolveAlias(sn)
		s := &Step{Index: i, Pos: p.pos(sn), Node: sn}
		if sn.Kind != yaml.MappingNode {
			p.errorf(sn, "step %d must be a mapping with run: or uses:, not %s", i+1, kindName(sn))
			continue
		}
		var runNode, usesNode *yaml.Node
		p.mapping(sn, fmt.Sprintf("step %d", i+1), keys, func(key string, k, v *yaml.Node) {
			switch key {
			case "id":
				s.ID = p.scalar(v, "id")
				if s.ID != "" {
					p.checkID(v, s.ID)
					if ids[strings.ToLower(s.ID)] {
						p.errorf(v, "The identifier '%s' may not be used more than once within the same scope.", s.ID)
					}
					ids[strings.ToLower(s.ID)] = true
				}
			case "if":
				s.If = p.ifValue(v)
				p.condition(v, s.If, ctxStepIf)
			case "name":
				s.Name = p.scalar(v, "name")
				p.exprs(v, s.Name, ctxStep)
			case "uses":
				usesNode = v
				s.Uses = p.scalar(v, "uses")
			case "run":
				runNode = v
				s.Run = p.scalar(v, "run")
				p.exprs(v, s.Run, ctxStep)
			case "shell":
				s.Shell = p.scalar(v, "shell")
			case "with":
				s.With = p.kvMap(v, "with")
				p.exprsMap(s.With, ctxStep)
			case "env":
				s.Env, s.EnvExpr = p.envMap(v, "env", ctxStep)
			case "continue-on-error":
				s.ContinueOnError = p.boolOrExpr(v, "continue-on-error")
				p.exprs(v, s.ContinueOnError, ctxStep)
			case "timeout-minutes":
				s.TimeoutMinutes = p.numberOrExpr(v, "timeout-minutes")
				p.exprs(v, s.TimeoutMinutes, ctxStep)
			case "working-directory":
				s.WorkingDirectory = p.scalar(v, "working-directory")
				p.exprs(v, s.WorkingDirectory, ctxStep)
			}
		})
		switch {
		case runNode == nil && usesNode == nil:
			p.errorf(sn, "%s (step %d needs either run: or uses:)", missingStepKind(sn), i+1)
		case runNode != nil && usesNode != nil:
			p.errorf(usesNode, "step %d has both run: and uses:; a step does one of them", i+1)
		case usesNode != nil:
			p.checkUses(usesNode, s.Uses)
			if s.Shell != "" || s.WorkingDirectory != "" {
				p.errorf(usesNode, "step %d: shell and working-directory only apply to run: steps", i+1)
			}
		case composite && s.Shell == "":
			p.errorf(runNode, "step %d: run: steps of a composite action need shell: (e.g. shell: bash)", i+1)
		}
		if usesNode == nil && len(s.With) > 0 {
			p.errorf(sn, "step %d: with: only applies to uses: steps", i+1)
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) checkUses(n *yaml.Node, uses string) {
	switch {
	case uses == "":
		p.errorf(n, "uses is empty")
	case strings.HasPrefix(uses, "./"), strings.HasPrefix(uses, "docker://"):
	case !strings.Contains(uses, "@"):
		p.errorf(n, "Expected format {org}/{repo}[/path]@ref. Actual '%s' (add a version: a tag, branch or commit SHA)", uses)
	case strings.Count(strings.SplitN(uses, "@", 2)[0], "/") < 1:
		p.errorf(n, "Expected format {org}/{repo}[/path]@ref. Actual '%s' (or ./local/path or docker://image)", uses)
	}
}

// checkNeeds reports unknown needs and dependency cycles.
func (p *parser) checkNeeds(wf *Workflow) {
	byID := map[string]*Job{}
	for _, j := range wf.Jobs {
		byID[j.ID] = j
	}
	for _, j := range wf.Jobs {
		for i, n := range j.Needs {
			if _, ok := byID[n]; !ok {
				ids := make([]string, 0, len(byID))
				for id := range byID {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				hint := ""
				if c := closest(n, ids); c != "" {
					hint = fmt.Sprintf(" Did you mean '%s'?", c)
				}
				p.errs = append(p.errs, &Error{Pos: j.needsPos(i), Msg: fmt.Sprintf("Job '%s' depends on unknown job '%s'.%s", j.ID, n, hint)})
			}
		}
	}
	p.checkCycles(wf, byID)
}
