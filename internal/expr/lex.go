// Package expr implements GitHub Actions' ${{ }} expression language:
// literals, operators, property access and filters, functions, templates and
// if: conditions.
package expr

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a parsing or evaluation error. Offset is a byte offset into the
// expression (or template) source.
type Error struct {
	Kind   string // "parsing" or "evaluation"
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	if e.Kind == "parsing" {
		return fmt.Sprintf("%s (col %d)", e.Msg, e.Offset+1)
	}
	return e.Msg
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

// lex splits an expression into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
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
				return nil, parseErr(i, "unterminated string literal")
			}
			toks = append(toks, token{kind: tString, off: i, text: src[i:j], str: b.String()})
			i = j
			continue
		case c >= '0' && c <= '9' || (c == '-' || c == '+' || c == '.') && i+1 < len(src) && (src[i+1] >= '0' && src[i+1] <= '9' || src[i+1] == '.' || c != '.' && strings.HasPrefix(src[i+1:], "Infinity")) && numberAllowed(toks):
			j := i + 1
			for j < len(src) && (isIdentChar(src[j]) || src[j] == '.' || (src[j] == '+' || src[j] == '-') && (src[j-1] == 'e' || src[j-1] == 'E')) {
				j++
			}
			text := src[i:j]
			n, err := parseNumber(text)
			if err != nil {
				return nil, parseErr(i, "invalid number %q", text)
			}
			toks = append(toks, token{kind: tNumber, off: i, text: text, num: n})
			i = j
			continue
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			text := src[i:j]
			t := token{kind: tIdent, off: i, text: text}
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
			toks = append(toks, t)
			i = j
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		switch two {
		case "==":
			toks = append(toks, token{kind: tEq, off: i, text: two})
			i += 2
			continue
		case "!=":
			toks = append(toks, token{kind: tNe, off: i, text: two})
			i += 2
			continue
		case "<=":
			toks = append(toks, token{kind: tLe, off: i, text: two})
			i += 2
			continue
		case ">=":
			toks = append(toks, token{kind: tGe, off: i, text: two})
			i += 2
			continue
		case "&&":
			toks = append(toks, token{kind: tAnd, off: i, text: two})
			i += 2
			continue
		case "||":
			toks = append(toks, token{kind: tOr, off: i, text: two})
			i += 2
			continue
		}
		var k tokKind
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
			return nil, parseErr(i, "unexpected character %q", string(c))
		}
		toks = append(toks, token{kind: k, off: i, text: string(c)})
		i++
	}
	toks = append(toks, token{kind: tEOF, off: len(src)})
	return toks, nil
}

// numberAllowed: a sign or dot starts a number only where an operand may
// begin, so that a.b and x-1 style input is not misread.
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

func parseNumber(text string) (float64, error) {
	s := text
	neg := false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg = s[0] == '-'
		s = s[1:]
	}
	var f float64
	if s == "Infinity" {
		f = inf(1)
	} else if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		n, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil {
			return 0, err
		}
		f = float64(n)
	} else if len(s) > 2 && (s[:2] == "0o" || s[:2] == "0O") {
		n, err := strconv.ParseUint(s[2:], 8, 64)
		if err != nil {
			return 0, err
		}
		f = float64(n)
	} else {
		if strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "inf") || strings.EqualFold(s, "infinity") || strings.EqualFold(s, "nan") {
			return 0, fmt.Errorf("invalid")
		}
		var err error
		f, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, err
		}
	}
	if neg {
		f = -f
	}
	return f, nil
}
