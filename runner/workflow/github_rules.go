package workflow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file holds the rules that make validation agree with GitHub's
// workflow parser (proven on its reader tests in testdata/github).

// resolveAliases replaces every alias in the tree by the node it names, so
// that anchors and aliases work everywhere (on: filters included) without
// each reader resolving them. Nodes are shared, not copied; each node is
// visited once.
func resolveAliases(root *yaml.Node) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		for i, c := range n.Content {
			for c != nil && c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			n.Content[i] = c
			walk(c)
		}
	}
	walk(root)
}

const yamlTag = "tag:yaml.org,2002:"

var (
	yamlBool  = regexp.MustCompile(`^(true|True|TRUE|false|False|FALSE)$`)
	yamlNull  = regexp.MustCompile(`^(~|null|Null|NULL|)$`)
	yamlInt   = regexp.MustCompile(`^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$`)
	yamlFloat = regexp.MustCompile(`^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$`)
	// numberText is a number GitHub reads even when YAML cannot hold it
	// (it rounds to ±Infinity).
	numberText = regexp.MustCompile(`^[-+]?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$`)
)

// checkTags rejects explicit YAML tags GitHub rejects: tags outside the
// core schema (e.g. !!timestamp), values invalid for their tag (!!bool
// test) and quoted scalars tagged as non-strings.
func (p *parser) checkTags(root *yaml.Node) {
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.Style&yaml.TaggedStyle != 0 && n.Kind == yaml.ScalarNode {
			p.checkTag(n)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
}

func (p *parser) checkTag(n *yaml.Node) {
	tag := n.Tag
	if strings.HasPrefix(tag, "!!") {
		tag = yamlTag + tag[2:]
	}
	var valid *regexp.Regexp
	switch tag {
	case yamlTag + "str":
		return
	case yamlTag + "bool":
		valid = yamlBool
	case yamlTag + "null":
		valid = yamlNull
	case yamlTag + "int":
		valid = yamlInt
	case yamlTag + "float":
		valid = yamlFloat
	default:
		p.errorf(n, "Unexpected tag '%s'; remove the explicit tag", tag)
		return
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		style := "DoubleQuoted"
		switch {
		case n.Style&yaml.SingleQuotedStyle != 0:
			style = "SingleQuoted"
		case n.Style&yaml.LiteralStyle != 0:
			style = "Literal"
		case n.Style&yaml.FoldedStyle != 0:
			style = "Folded"
		}
		p.errorf(n, "The scalar style '%s' on line %d and column %d is not valid with the tag '%s'", style, n.Line, n.Column, tag)
		return
	}
	if !valid.MatchString(n.Value) && !(tag == yamlTag+"float" && yamlInt.MatchString(n.Value)) {
		p.errorf(n, "The value '%s' on line %d and column %d is invalid for the type '%s'", n.Value, n.Line, n.Column, tag)
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// checkID applies GitHub's rules for job and step ids.
func (p *parser) checkID(n *yaml.Node, id string) {
	switch {
	case id == "":
		p.errorf(n, "Unexpected value '': an id cannot be empty")
	case p.noExpr(n, id):
	case !idPattern.MatchString(id) || len(id) >= 100:
		p.errorf(n, "The identifier '%s' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and and must be less than 100 characters.", id)
	case strings.HasPrefix(id, "__"):
		p.errorf(n, "The identifier '%s' is invalid. IDs starting with '__' are reserved.", id)
	}
}

// listPos is the position of each entry of a string or list of strings.
func (p *parser) listPos(n *yaml.Node) []Pos {
	if n.Kind == yaml.SequenceNode {
		out := make([]Pos, len(n.Content))
		for i, e := range n.Content {
			out[i] = p.pos(e)
		}
		return out
	}
	return []Pos{p.pos(n)}
}

// needsPos is where needs entry i is written (the job's key if unknown).
func (j *Job) needsPos(i int) Pos {
	if i < len(j.NeedsPos) {
		return j.NeedsPos[i]
	}
	return j.Pos
}

// envMap reads an env: mapping, or a whole-value expression such as
// env: ${{ matrix.env }} (returned as expr).
func (p *parser) envMap(v *yaml.Node, what string, ctx *availability) (m Map, expr string) {
	if v.Kind == yaml.ScalarNode && isExprOnly(v.Value) {
		p.exprs(v, v.Value, ctx)
		return nil, v.Value
	}
	m = p.kvMap(v, what)
	p.exprsMap(m, ctx)
	return m, ""
}

// runsOnGroup checks a runner group name: an optional organization/ or
// enterprise/ prefix and a name.
func (p *parser) runsOnGroup(n *yaml.Node, group string) {
	if strings.Contains(group, "${{") || !strings.Contains(group, "/") {
		return
	}
	i := strings.IndexByte(group, '/')
	prefix, name := group[:i], group[i+1:]
	if name == "" {
		p.errorf(n, "Invalid runs-on group name '%s'.", group)
		return
	}
	switch prefix {
	case "org", "organization", "ent", "enterprise":
	default:
		name = "/"
	}
	if strings.Contains(name, "/") {
		p.errorf(n, "Invalid runs-on group name '%s'. Please use 'organization/' or 'enterprise/' prefix to target a single runner group.", group)
	}
}

// maxObjectDepth is how deeply GitHub lets mappings and sequences nest in
// a workflow (matrix values included).
const maxObjectDepth = 50

// checkDepth rejects a document nested deeper than GitHub allows.
func (p *parser) checkDepth(root *yaml.Node) {
	var deepest *yaml.Node
	var walk func(n *yaml.Node, d int) bool
	walk = func(n *yaml.Node, d int) bool {
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			d++
			if d > maxObjectDepth {
				deepest = n
				return true
			}
		}
		for _, c := range n.Content {
			if walk(c, d) {
				return true
			}
		}
		return false
	}
	if walk(root, 0) {
		p.errorf(deepest, "Maximum object depth exceeded (GitHub allows %d levels of mappings and sequences)", maxObjectDepth)
	}
}

// checkCycles reports dependency cycles as GitHub does: at each needs entry
// that closes a cycle, or, when every job needs another, once.
func (p *parser) checkCycles(wf *Workflow, byID map[string]*Job) {
	if len(wf.Jobs) == 0 {
		return
	}
	start := false
	for _, j := range wf.Jobs {
		if len(j.Needs) == 0 {
			start = true
		}
	}
	if !start {
		p.errs = append(p.errs, &Error{Pos: wf.Jobs[0].Pos, Msg: "The workflow must contain at least one job with no dependencies."})
		return
	}
	// reaches reports whether from depends, directly or not, on to.
	var reaches func(from, to string, seen map[string]bool) bool
	reaches = func(from, to string, seen map[string]bool) bool {
		if seen[from] {
			return false
		}
		seen[from] = true
		if j := byID[from]; j != nil {
			for _, n := range j.Needs {
				if n == to || reaches(n, to, seen) {
					return true
				}
			}
		}
		return false
	}
	for _, j := range wf.Jobs {
		for i, n := range j.Needs {
			if _, ok := byID[n]; !ok {
				continue
			}
			if n == j.ID || reaches(n, j.ID, map[string]bool{}) {
				p.errs = append(p.errs, &Error{Pos: j.needsPos(i), Msg: fmt.Sprintf("Job '%s' depends on job '%s' which creates a cycle in the dependency graph.", j.ID, n)})
			}
		}
	}
}

// exprTooLong reports a value with expressions longer than GitHub allows.
func (p *parser) exprTooLong(n *yaml.Node, value string) bool {
	if len(value) > maxExprValue {
		p.errorf(n, "Exceeded max expression length %s", strconv.Itoa(maxExprValue))
		return true
	}
	return false
}

// maxExprValue is GitHub's limit on a value holding expressions.
const maxExprValue = 21000

// notExpected is GitHub's text for a value of the wrong shape.
func notExpected(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "A mapping was not expected"
	case yaml.SequenceNode:
		return "A sequence was not expected"
	}
	return fmt.Sprintf("Unexpected value '%s'", n.Value)
}

// missingStepKind is GitHub's text for a step without run: or uses:, which
// depends on the keys it has.
func missingStepKind(step *yaml.Node) string {
	has := map[string]bool{}
	for i := 0; i+1 < len(step.Content); i += 2 {
		has[step.Content[i].Value] = true
	}
	switch {
	case has["shell"] || has["working-directory"]:
		return "Required property is missing: run"
	case has["with"]:
		return "Required property is missing: uses"
	}
	return "There's not enough info to determine what you meant. Add one of these properties: parallel, run, shell, uses, with, working-directory"
}

// noExpr reports an expression where GitHub allows none (the workflow's
// name, mapping keys such as job ids and events).
func (p *parser) noExpr(n *yaml.Node, value string) bool {
	if strings.Contains(value, "${{") {
		p.errorf(n, "A template expression is not allowed in this context")
		return true
	}
	return false
}

var insertDirective = regexp.MustCompile(`\$\{\{\s*insert\s*\}\}`)

// embeddedDirective reports ${{ insert }} inside a longer string: GitHub
// allows its directives only as a whole value (a mapping key).
func (p *parser) embeddedDirective(n *yaml.Node, value string) bool {
	if !insertDirective.MatchString(value) || strings.TrimSpace(insertDirective.ReplaceAllString(value, "")) == "" {
		return false
	}
	p.errorf(n, "The directive 'insert' is not allowed in this context. Directives are not supported for expressions that are embedded within a string. Directives are only supported when the entire value is an expression.")
	return true
}
