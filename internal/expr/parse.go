package expr

import (
	"fmt"
	"sort"
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
	"contains": {2, 2}, "startswith": {2, 2}, "endswith": {2, 2}, "format": {1, 255}, "join": {1, 2},
	"tojson": {1, 1}, "fromjson": {1, 1}, "hashfiles": {1, -1}, "case": {3, -1},
	// success() and failure() take job ids in a job's if: (success('build')).
	"success": {0, -1}, "failure": {0, -1}, "always": {0, 0}, "cancelled": {0, 0},
}

// MaxLength is GitHub's limit on the length of one expression.
const MaxLength = 21000

// MaxDepth is GitHub's limit on the depth of an expression's tree.
const MaxDepth = 50

// maxNesting bounds the parser's recursion (parentheses make no tree node,
// so they are counted separately) so hostile input cannot exhaust the stack.
const maxNesting = 1000

type parser struct {
	toks  []token
	pos   int
	depth int
	ctxs  map[string]int // name -> offset of first use
	funcs map[string]int
	// funcNames keeps the spelling of each function's first call.
	funcNames map[string]string
	known     func(name string) bool // allowed named contexts
	names     string                 // the allowed contexts, for messages
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
	e, err := parseWith(src, allowedContexts, allowedFuncs)
	if err != nil {
		if pe, ok := err.(*Error); ok && pe.Expr == "" {
			pe.Expr = src
		}
		return nil, err
	}
	return e, nil
}

func parseWith(src string, allowedContexts, allowedFuncs []string) (*Expr, error) {
	if len(src) > MaxLength {
		return nil, &Error{Kind: "parsing", Msg: fmt.Sprintf("Exceeded max expression length %d", MaxLength), noPos: true}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, ctxs: map[string]int{}, funcs: map[string]int{}, funcNames: map[string]string{}}
	p.known = func(name string) bool { return knownContexts[name] }
	p.names = defaultContexts
	if allowedContexts != nil {
		p.known = func(name string) bool { return containsFold(allowedContexts, name) }
		p.names = strings.Join(allowedContexts, ", ")
	}
	if toks[0].kind == tEOF {
		return nil, &Error{Kind: "parsing", Msg: "An expression was expected", noPos: true}
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, parseErr(t.off, "Unexpected symbol: '%s'", t.text)
	}
	if depth(root) > MaxDepth {
		return nil, &Error{Kind: "parsing", Msg: fmt.Sprintf("Exceeded max expression depth %d", MaxDepth), noPos: true}
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
				return nil, parseErr(p.funcs[f], "Unrecognized function: '%s'", p.funcNames[f])
			}
		}
	}
	return e, nil
}

// depth is the depth of the tree, counted as GitHub counts it: every node
// is a level, and a chain of && or || is one node.
func depth(n *node) int {
	d := 0
	for _, a := range n.args {
		if x := depth(a); x > d {
			d = x
		}
	}
	return d + 1
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
	if p.depth > maxNesting {
		return &Error{Kind: "parsing", Msg: fmt.Sprintf("Exceeded max expression depth %d", MaxDepth), noPos: true}
	}
	return nil
}

func (p *parser) or() (*node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tOr {
		return left, nil
	}
	n := &node{kind: nOr, off: p.peek().off, args: []*node{left}}
	for p.peek().kind == tOr {
		p.next()
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, right)
	}
	return n, nil
}

func (p *parser) and() (*node, error) {
	left, err := p.equality()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tAnd {
		return left, nil
	}
	n := &node{kind: nAnd, off: p.peek().off, args: []*node{left}}
	for p.peek().kind == tAnd {
		p.next()
		right, err := p.equality()
		if err != nil {
			return nil, err
		}
		n.args = append(n.args, right)
	}
	return n, nil
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

// unexpected reports token t where something else was needed: at the end
// of the input GitHub names the last token instead.
func (p *parser) unexpected(t token) error {
	if t.kind == tEOF {
		prev := t
		if len(p.toks) >= 2 {
			prev = p.toks[len(p.toks)-2]
		}
		return parseErr(prev.off, "Unexpected end of expression: '%s'", prev.text)
	}
	return parseErr(t.off, "Unexpected symbol: '%s'", t.text)
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
				return nil, p.unexpected(t)
			}
			p.next()
			nt := p.next()
			switch nt.kind {
			case tStar:
				n = &node{kind: nFilter, off: nt.off, args: []*node{n}}
			case tIdent:
				n = &node{kind: nProperty, off: nt.off, name: nt.text, args: []*node{n}}
			default:
				return nil, p.unexpected(nt)
			}
		case tLBracket:
			if n.kind == nLiteral {
				return nil, p.unexpected(t)
			}
			p.next()
			if p.peek().kind == tStar {
				p.next()
				if p.peek().kind != tRBracket {
					return nil, p.unexpected(p.peek())
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
				return nil, p.unexpected(p.peek())
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
			return nil, p.unexpected(p.peek())
		}
		p.next()
		return n, nil
	case tIdent:
		if p.peek().kind == tLParen {
			return p.call(t)
		}
		name := strings.ToLower(t.text)
		if !p.known(name) {
			return nil, parseErr(t.off, "Unrecognized named-value: '%s'", t.text)
		}
		if _, seen := p.ctxs[name]; !seen {
			p.ctxs[name] = t.off
		}
		return &node{kind: nContext, off: t.off, name: name}, nil
	}
	return nil, p.unexpected(t)
}

func (p *parser) call(name token) (*node, error) {
	fn := strings.ToLower(name.text)
	spec, ok := functions[fn]
	if !ok {
		return nil, parseErr(name.off, "Unrecognized function: '%s'", name.text)
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
		return nil, p.unexpected(p.peek())
	}
	p.next()
	switch {
	case len(n.args) < spec.min:
		return nil, parseErr(name.off, "Too few parameters supplied: '%s'", name.text)
	case spec.max >= 0 && len(n.args) > spec.max:
		return nil, parseErr(name.off, "Too many parameters supplied: '%s'", name.text)
	case fn == "case" && len(n.args)%2 == 0:
		return nil, parseErr(name.off, "Even number of parameters supplied, requires an odd number of parameters: '%s'", name.text)
	}
	if _, seen := p.funcs[fn]; !seen {
		p.funcs[fn] = name.off
		p.funcNames[fn] = name.text
	}
	return n, nil
}
