package expr

import (
	"sort"
	"strconv"
	"strings"
)

type nodeKind int

const (
	nLiteral  nodeKind = iota
	nContext           // a named context: github, env, ...
	nProperty          // x.name or x['name']
	nIndex             // x[expr]
	nFilter            // x.* or x[*]
	nNot
	nBinary
	nAnd
	nOr
	nCall
)

type node struct {
	kind  nodeKind
	off   int
	value any    // literal
	name  string // context, property or function name (lower case for contexts and functions)
	op    tokKind
	args  []*node // operands / call arguments / [target, index]
}

// Expr is a parsed expression.
type Expr struct {
	src      string
	root     *node
	contexts []string
	funcs    []string
}

// knownContexts are the named values an expression may start with.
var knownContexts = map[string]bool{"github": true, "env": true, "vars": true, "secrets": true, "job": true, "jobs": true,
	"steps": true, "runner": true, "matrix": true, "strategy": true, "needs": true, "inputs": true}

const defaultContexts = "github, env, vars, secrets, job, jobs, steps, runner, matrix, strategy, needs, inputs"

type funcSpec struct {
	min, max int // max -1: unbounded
}

var functions = map[string]funcSpec{
	"contains": {2, 2}, "startswith": {2, 2}, "endswith": {2, 2}, "format": {1, -1}, "join": {1, 2},
	"tojson": {1, 1}, "fromjson": {1, 1}, "hashfiles": {1, -1}, "case": {3, -1},
	"success": {0, 0}, "failure": {0, 0}, "always": {0, 0}, "cancelled": {0, 0},
}

// MaxLength is GitHub's limit on the length of one expression.
const MaxLength = 21000

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 100

type parser struct {
	toks  []token
	pos   int
	depth int
	ctxs  map[string]int // name -> offset of first use
	funcs map[string]int
	known func(name string) bool // allowed named contexts
	names string                 // the allowed contexts, for messages
}

// Parse parses one expression (the text inside ${{ }}, or a bare if: condition).
// Named contexts must be among GitHub's (github, env, vars, secrets, job, jobs,
// steps, runner, matrix, strategy, needs, inputs).
func Parse(src string) (*Expr, error) {
	return ParseWith(src, nil, nil)
}

// ParseWith parses like Parse but allows only the named contexts and
// functions listed (case-insensitive); a nil list means Parse's defaults.
// allowedContexts may also name contexts GitHub does not know. A disallowed
// name is a parsing error at its position.
func ParseWith(src string, allowedContexts, allowedFuncs []string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, parseErr(0, "expression is %d characters long; the limit is %d", len(src), MaxLength)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, ctxs: map[string]int{}, funcs: map[string]int{}}
	p.known = func(name string) bool { return knownContexts[name] }
	p.names = defaultContexts
	if allowedContexts != nil {
		p.known = func(name string) bool { return containsFold(allowedContexts, name) }
		p.names = strings.Join(allowedContexts, ", ")
	}
	if toks[0].kind == tEOF {
		return nil, parseErr(0, "expected an expression")
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, parseErr(t.off, "unexpected %q", t.text)
	}
	e := &Expr{src: src, root: root}
	for c := range p.ctxs {
		e.contexts = append(e.contexts, c)
	}
	for f := range p.funcs {
		e.funcs = append(e.funcs, f)
	}
	sort.Strings(e.contexts)
	sort.Strings(e.funcs)
	if allowedFuncs != nil {
		for _, f := range e.funcs {
			if !containsFold(allowedFuncs, f) {
				return nil, parseErr(p.funcs[f], "function %s() is not allowed here; allowed: %s", f, strings.Join(allowedFuncs, ", "))
			}
		}
	}
	return e, nil
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

// String returns the source.
func (e *Expr) String() string { return e.src }

// Contexts lists the named contexts the expression reads, lower case.
func (e *Expr) Contexts() []string { return e.contexts }

// Functions lists the functions the expression calls, lower case.
func (e *Expr) Functions() []string { return e.funcs }

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) enter(off int) error {
	p.depth++
	if p.depth > maxDepth {
		return parseErr(off, "expression is nested too deeply")
	}
	return nil
}

func (p *parser) or() (*node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		t := p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &node{kind: nOr, off: t.off, args: []*node{left, right}}
	}
	return left, nil
}

func (p *parser) and() (*node, error) {
	left, err := p.equality()
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		t := p.next()
		right, err := p.equality()
		if err != nil {
			return nil, err
		}
		left = &node{kind: nAnd, off: t.off, args: []*node{left, right}}
	}
	return left, nil
}

func (p *parser) equality() (*node, error) {
	left, err := p.comparison()
	if err != nil {
		return nil, err
	}
	for k := p.peek().kind; k == tEq || k == tNe; k = p.peek().kind {
		t := p.next()
		right, err := p.comparison()
		if err != nil {
			return nil, err
		}
		left = &node{kind: nBinary, off: t.off, op: t.kind, args: []*node{left, right}}
	}
	return left, nil
}

func (p *parser) comparison() (*node, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for k := p.peek().kind; k == tLt || k == tLe || k == tGt || k == tGe; k = p.peek().kind {
		t := p.next()
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &node{kind: nBinary, off: t.off, op: t.kind, args: []*node{left, right}}
	}
	return left, nil
}

func (p *parser) unary() (*node, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		if err := p.enter(t.off); err != nil {
			return nil, err
		}
		operand, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &node{kind: nNot, off: t.off, args: []*node{operand}}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (*node, error) {
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch t.kind {
		case tDot:
			if n.kind == nLiteral {
				return nil, parseErr(t.off, "unexpected '.' after a literal")
			}
			p.next()
			nt := p.next()
			switch {
			case nt.kind == tStar:
				n = &node{kind: nFilter, off: nt.off, args: []*node{n}}
			case nt.kind == tIdent || nt.kind == tNull || nt.kind == tBool || nt.kind == tNumber && isIdentStart(nt.text[0]):
				n = &node{kind: nProperty, off: nt.off, name: nt.text, args: []*node{n}}
			default:
				return nil, parseErr(nt.off, "expected a property name after '.'")
			}
		case tLBracket:
			if n.kind == nLiteral {
				return nil, parseErr(t.off, "unexpected '[' after a literal")
			}
			p.next()
			if p.peek().kind == tStar {
				p.next()
				if p.peek().kind != tRBracket {
					return nil, parseErr(p.peek().off, "expected ']' after '[*'")
				}
				p.next()
				n = &node{kind: nFilter, off: t.off, args: []*node{n}}
				continue
			}
			if err := p.enter(t.off); err != nil {
				return nil, err
			}
			idx, err := p.or()
			p.depth--
			if err != nil {
				return nil, err
			}
			if p.peek().kind != tRBracket {
				return nil, parseErr(p.peek().off, "expected ']'")
			}
			p.next()
			n = &node{kind: nIndex, off: t.off, args: []*node{n, idx}}
		default:
			return n, nil
		}
	}
}

func (p *parser) primary() (*node, error) {
	t := p.next()
	switch t.kind {
	case tNull:
		return &node{kind: nLiteral, off: t.off, value: nil}, nil
	case tBool:
		return &node{kind: nLiteral, off: t.off, value: t.b}, nil
	case tNumber:
		return &node{kind: nLiteral, off: t.off, value: t.num}, nil
	case tString:
		return &node{kind: nLiteral, off: t.off, value: t.str}, nil
	case tLParen:
		if err := p.enter(t.off); err != nil {
			return nil, err
		}
		n, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if p.peek().kind != tRParen {
			return nil, parseErr(p.peek().off, "expected ')'")
		}
		p.next()
		return n, nil
	case tIdent:
		if p.peek().kind == tLParen {
			return p.call(t)
		}
		name := strings.ToLower(t.text)
		if !p.known(name) {
			if knownContexts[name] {
				return nil, parseErr(t.off, "context %q is not available here; available: %s", t.text, p.names)
			}
			return nil, parseErr(t.off, "unrecognized named-value: %q; available: %s", t.text, p.names)
		}
		if _, seen := p.ctxs[name]; !seen {
			p.ctxs[name] = t.off
		}
		return &node{kind: nContext, off: t.off, name: name}, nil
	case tEOF:
		return nil, parseErr(t.off, "unexpected end of expression")
	}
	return nil, parseErr(t.off, "unexpected %q", t.text)
}

func (p *parser) call(name token) (*node, error) {
	fn := strings.ToLower(name.text)
	spec, ok := functions[fn]
	if !ok {
		return nil, parseErr(name.off, "unrecognized function: %q", name.text)
	}
	p.next() // (
	if err := p.enter(name.off); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{kind: nCall, off: name.off, name: fn}
	if p.peek().kind != tRParen {
		for {
			arg, err := p.or()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, arg)
			if p.peek().kind == tComma {
				p.next()
				continue
			}
			break
		}
	}
	if p.peek().kind != tRParen {
		return nil, parseErr(p.peek().off, "expected ')' or ',' in call of %s", name.text)
	}
	p.next()
	if len(n.args) < spec.min || spec.max >= 0 && len(n.args) > spec.max {
		want := ""
		switch {
		case spec.min == spec.max:
			want = plural(spec.min)
		case spec.max < 0:
			want = "at least " + plural(spec.min)
		default:
			want = strconv.Itoa(spec.min) + " to " + plural(spec.max)
		}
		return nil, parseErr(name.off, "%s() takes %s, got %d", name.text, want, len(n.args))
	}
	if fn == "case" && len(n.args)%2 == 0 {
		return nil, parseErr(name.off, "case() takes pairs of predicate and value and a default: an odd number of arguments, got %d", len(n.args))
	}
	// GitHub checks a literal format string when parsing.
	if fn == "format" && n.args[0].kind == nLiteral {
		if f, ok := n.args[0].value.(string); ok {
			if _, err := format(f, make([]any, len(n.args)-1)); err != nil {
				return nil, parseErr(n.args[0].off, "%s", err.Error())
			}
		}
	}
	if _, seen := p.funcs[fn]; !seen {
		p.funcs[fn] = name.off
	}
	return n, nil
}

func plural(n int) string {
	if n == 1 {
		return "1 argument"
	}
	return strconv.Itoa(n) + " arguments"
}
