// Package expr implements GitHub Actions' ${{ }} expression language:
// literals, operators, property access and filters, functions, templates and
// if: conditions. Messages and limits follow GitHub's own expression engine
// (its test vectors are in testdata/github).
package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Error is a lexing, parsing or evaluation error. Offset is a byte offset
// into Expr, the expression source (or into the template for templates).
type Error struct {
	Kind   string // "lexing", "parsing" or "evaluation"
	Offset int
	Msg    string
	// Expr is the expression the error is in; when set, Error() says where
	// as GitHub does: "... Located at position N within expression: EXPR".
	Expr string
	// exprOff is where Expr starts within the string Offset counts in.
	exprOff int
	// noPos leaves the position out of Error() (GitHub prints none for
	// some errors, e.g. the depth limit).
	noPos bool
}

func (e *Error) Error() string {
	if e.Kind == "evaluation" || e.noPos {
		return e.Msg
	}
	if e.Expr == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s. Located at position %d within expression: %s", e.Msg, e.Position(), e.Expr)
}

// Position is GitHub's 1-based position of the error within the expression,
// counted in UTF-16 code units as GitHub counts characters.
func (e *Error) Position() int {
	off := e.Offset - e.exprOff
	if off < 0 {
		off = 0
	}
	if off > len(e.Expr) {
		off = len(e.Expr)
	}
	n := 0
	for _, r := range e.Expr[:off] {
		n += utf16.RuneLen(r)
	}
	return n + 1
}

func lexErr(src string, off int, text string) *Error {
	return &Error{Kind: "lexing", Offset: off, Expr: src, Msg: fmt.Sprintf("Unexpected symbol: '%s'", text)}
}

func parseErr(off int, format string, args ...any) *Error {
	return &Error{Kind: "parsing", Offset: off, Msg: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tEOF tokKind = iota
	tNull
	tBool
	tNumber
	tString
	tIdent
	tLParen
	tRParen
	tLBracket
	tRBracket
	tDot
	tComma
	tStar
	tNot
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tAnd
	tOr
)

type token struct {
	kind tokKind
	off  int
	text string
	num  float64
	str  string
	b    bool
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '-'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// isDelimiter ends a number or an unknown run of characters. Keywords also
// end at '.', numbers do not (1.5).
func isDelimiter(c byte) bool {
	switch c {
	case '(', ')', '[', ']', ',', '!', '<', '>', '=', '&', '|', '*', '\'':
		return true
	}
	return isSpace(c)
}

// run returns the end of a run of characters starting at i that is ended by
// a delimiter (and by '.' when dot is set). The first character is always
// taken, so that an unknown symbol is reported whole, e.g. '=2' or '@abc'.
func run(src string, i int, dot bool) int {
	_, w := utf8.DecodeRuneInString(src[i:])
	j := i + w
	for j < len(src) && !isDelimiter(src[j]) && !(dot && src[j] == '.') {
		r, w := utf8.DecodeRuneInString(src[j:])
		if unicode.IsSpace(r) {
			break
		}
		j += w
	}
	return j
}

// lex splits an expression into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		if c >= utf8.RuneSelf {
			// Any Unicode white space (e.g. a non-breaking space) separates
			// tokens, as in GitHub's lexer.
			if r, w := utf8.DecodeRuneInString(src[i:]); unicode.IsSpace(r) {
				i += w
				continue
			}
		}
		switch {
		case isSpace(c):
			i++
			continue
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, lexErr(src, i, src[i:])
			}
			toks = append(toks, token{kind: tString, off: i, text: src[i:j], str: b.String()})
			i = j
			continue
		case c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' && numberAllowed(toks):
			j := run(src, i, false)
			text := src[i:j]
			n, err := parseNumber(text)
			if err != nil {
				return nil, lexErr(src, i, text)
			}
			toks = append(toks, token{kind: tNumber, off: i, text: text, num: n})
			i = j
			continue
		case isIdentStart(c):
			j := run(src, i, true)
			text := src[i:j]
			for k := 0; k < len(text); k++ {
				if !isIdentChar(text[k]) {
					return nil, lexErr(src, i, text)
				}
			}
			t := token{kind: tIdent, off: i, text: text}
			// After '.', a keyword is a property name.
			if len(toks) == 0 || toks[len(toks)-1].kind != tDot {
				switch text {
				case "null":
					t.kind = tNull
				case "true":
					t.kind, t.b = tBool, true
				case "false":
					t.kind = tBool
				case "NaN":
					t.kind, t.num = tNumber, nan()
				case "Infinity":
					t.kind, t.num = tNumber, inf(1)
				}
			}
			toks = append(toks, t)
			i = j
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		var k tokKind = -1
		switch two {
		case "==":
			k = tEq
		case "!=":
			k = tNe
		case "<=":
			k = tLe
		case ">=":
			k = tGe
		case "&&":
			k = tAnd
		case "||":
			k = tOr
		}
		if k >= 0 {
			toks = append(toks, token{kind: k, off: i, text: two})
			i += 2
			continue
		}
		switch c {
		case '(':
			k = tLParen
		case ')':
			k = tRParen
		case '[':
			k = tLBracket
		case ']':
			k = tRBracket
		case '.':
			k = tDot
		case ',':
			k = tComma
		case '*':
			k = tStar
		case '!':
			k = tNot
		case '<':
			k = tLt
		case '>':
			k = tGt
		default:
			j := run(src, i, true)
			return nil, lexErr(src, i, src[i:j])
		}
		toks = append(toks, token{kind: k, off: i, text: string(c)})
		i++
	}
	toks = append(toks, token{kind: tEOF, off: len(src)})
	return toks, nil
}

// numberAllowed: a dot starts a number only where an operand may begin, so
// that a.b is a property access and .5 a number.
func numberAllowed(toks []token) bool {
	if len(toks) == 0 {
		return true
	}
	switch toks[len(toks)-1].kind {
	case tIdent, tNumber, tString, tNull, tBool, tRParen, tRBracket, tStar:
		return false
	}
	return true
}

// parseNumber reads a number literal as GitHub does: decimal with an
// optional sign, fraction and exponent; 0x hexadecimal and 0o octal without
// a sign; Infinity with an optional sign.
func parseNumber(text string) (float64, error) {
	s := text
	neg, signed := false, false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg, signed = s[0] == '-', true
		s = s[1:]
	}
	var f float64
	switch {
	case s == "Infinity":
		f = inf(1)
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		if signed {
			return 0, fmt.Errorf("invalid")
		}
		n, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil || strings.ContainsAny(s[2:], "+-_") {
			return 0, fmt.Errorf("invalid")
		}
		f = float64(n)
	case len(s) > 2 && (s[:2] == "0o" || s[:2] == "0O"):
		if signed {
			return 0, fmt.Errorf("invalid")
		}
		n, err := strconv.ParseUint(s[2:], 8, 64)
		if err != nil || strings.ContainsAny(s[2:], "+-_") {
			return 0, fmt.Errorf("invalid")
		}
		f = float64(n)
	default:
		if s == "" || strings.ContainsAny(s, "_xXpPiInN") {
			return 0, fmt.Errorf("invalid")
		}
		var err error
		f, err = strconv.ParseFloat(s, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return 0, err
			}
		}
	}
	if neg {
		f = -f
	}
	return f, nil
}
