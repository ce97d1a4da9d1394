package expr

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestSemantics checks GitHub's documented behaviour, each case with its own
// contexts given as JSON.
func TestSemantics(t *testing.T) {
	tests := []struct {
		src, ctx, want string
	}{
		// coercion table (docs: "Operators" notes)
		{"null == 0", "", "true"},
		{"null == false", "", "true"},
		{"null == ''", "", "true"},
		{"null == null", "", "true"},
		{"true == 1", "", "true"},
		{"false == 0", "", "true"},
		{"true == 'true'", "", "false"}, // 'true' is NaN as a number
		{"true == '1'", "", "true"},
		{"' 123456.789 ' == 123456.789", "", "true"},
		{"' +1 ' == 1", "", "true"},
		{"' 0o10 ' == 8", "", "true"},
		{"' Infinity ' == Infinity", "", "true"},
		{"' -Infinity ' == -Infinity", "", "true"},
		{"NaN == NaN", "", "false"},
		{"NaN != NaN", "", "true"},
		{"'NaN' == NaN", "", "false"},
		{"'abc' == 'ABC'", "", "true"},
		{"a == a", `{"a":[]}`, "true"},
		{"a == b", `{"a":{},"b":{}}`, "false"},
		{"a == b", `{"a":[1],"b":[1]}`, "false"},
		{"a == a", `{"a":{}}`, "true"},
		{"a == 0", `{"a":[]}`, "false"},
		{"a == null", `{"a":{}}`, "false"},
		{"a == 'Object'", `{"a":{}}`, "false"},
		// ordering
		{"false < true", "", "true"},
		{"true > false", "", "true"},
		{"true >= true", "", "true"},
		{"1.001 < 1.002", "", "true"},
		{"'abc' < 'DEF'", "", "true"},
		{"'b' <= 'B'", "", "true"},
		{"false < 1", "", "true"},
		{"null < 1", "", "true"},
		{"null >= null", "", "true"},
		{"'10' > 9", "", "true"},
		{"'x' > 1", "", "false"},
		{"'x' <= 1", "", "false"},
		{"NaN <= NaN", "", "false"},
		{"a < a", `{"a":[]}`, "false"},
		{"a <= a", `{"a":[]}`, "true"}, // equal by identity
		{"a > 0", `{"a":{}}`, "false"},
		// precedence: ! > comparison > equality > && > ||
		{"!false == true", "", "true"},
		{"1 < 2 == 2 < 3", "", "true"},
		{"false && false || true", "", "true"},
		{"true || false && false", "", "true"},
		{"!(1 == 1) || 'x'", "", `"x"`},
		{"1 == 1 && 2", "", "2"},
		{"0 && x.y", `{"x":{}}`, "0"},
		{"'' || 0 || null", "", "null"},
		// literals
		{"-Infinity", "", `"-Infinity"`},
		{"+5", "", "5"},
		{".5", "", "0.5"},
		{"-.5", "", "-0.5"},
		{"0xFF", "", "255"},
		{"0o10", "", "8"},
		{"1.2E+2", "", "120"},
		{"-2.99e-2", "", "-0.0299"},
		{"'It''s open source!'", "", `"It's open source!"`},
		{"'a''''b'", "", `"a''b"`},
		{"-0", "", "0"},
		// property access and filters
		{"foo.true", `{"foo":{"true":1}}`, "1"},
		{"foo.NaN", `{"foo":{"NaN":1}}`, "1"},
		{"foo.null", `{"foo":{"null":1}}`, "1"},
		{"foo.format", `{"foo":{"format":1}}`, "1"},
		{"foo.b-ar", `{"foo":{"b-ar":1}}`, "1"},
		{"foo.missing", `{"foo":{}}`, "null"},
		{"foo.missing.deeper", `{"foo":{}}`, "null"},
		{"foo.x", `{"foo":"str"}`, "null"},
		{"foo[1]", `{"foo":[1,2]}`, "2"},
		{"foo[1.9]", `{"foo":[1,2]}`, "2"},
		{"foo['1']", `{"foo":[1,2]}`, "2"},
		{"foo[true]", `{"foo":[1,2]}`, "2"},
		{"foo[2]", `{"foo":[1,2]}`, "null"},
		{"foo[-1]", `{"foo":[1,2]}`, "null"},
		{"foo[Infinity]", `{"foo":[1,2]}`, "null"},
		{"foo[NaN]", `{"foo":[1,2]}`, "null"},
		{"foo[1]", `{"foo":{"1":"one"}}`, `"one"`},
		{"foo[bar]", `{"foo":{"Array":1},"bar":[]}`, "null"},
		{"foo['K']", `{"foo":{"k":1}}`, "1"},
		{"foo[*]", `{"foo":{"a":1,"b":2}}`, "[1,2]"},
		{"foo.*", `{"foo":[1,2]}`, "[1,2]"},
		{"foo.*", `{"foo":"s"}`, "[]"},
		{"foo.*.x", `{"foo":[{"x":1},{"y":2},{"x":null},3]}`, "[1,null]"},
		{"foo.*.x", `{"foo":[]}`, "[]"},
		{"foo.*.*", `{"foo":[[1,2],{"a":3}]}`, "[1,2,3]"},
		{"foo.*[0]", `{"foo":[[1,2],[3],[]]}`, "[1,3]"},
		{"foo.*['a']", `{"foo":[{"a":1},{"A":2}]}`, "[1,2]"},
		{"foo.*.a.b", `{"foo":[{"a":{"b":1}},{"a":{"c":2}}]}`, "[1]"},
		{"foo.*.x == foo.*.x", `{"foo":[{"x":1}]}`, "false"},
		{"contains(foo.*.x, 2)", `{"foo":[{"x":1},{"x":"2"}]}`, "true"},
		// contains, startsWith, endsWith
		{"contains('abc', 'B')", "", "true"},
		{"contains('abc', 'x')", "", "false"},
		{"contains(123, 2)", "", "true"},
		{"contains('true', true)", "", "true"},
		{"contains('Array', a)", `{"a":[]}`, "false"},
		{"contains(a, 'Object')", `{"a":{}}`, "false"},
		{"contains(a, 'X')", `{"a":["x","y"]}`, "true"},
		{"contains(a, 1)", `{"a":["1"]}`, "true"},
		{"contains(a, null)", `{"a":[0]}`, "true"},
		{"contains(a, 'z')", `{"a":[]}`, "false"},
		{"contains(a, a[0])", `{"a":[[1]]}`, "true"},
		{"startsWith('Hello', '')", "", "true"},
		{"startsWith(null, '')", "", "true"},
		{"startsWith(123, 1)", "", "true"},
		{"startsWith(a, 'A')", `{"a":[]}`, "false"},
		{"endsWith('refs/tags/V1', 'v1')", "", "true"},
		{"endsWith('x', 'xx')", "", "false"},
		// format
		{"format('{0}', null)", "", `""`},
		{"format(null)", "", `""`},
		{"format('{{{{0}}}}', 'abc')", "", `"{{0}}"`},
		{"format('}}{{', 'abc')", "", `"}{"`},
		{"format('{0}{0}-{1}', 'a', 1.5)", "", `"aa-1.5"`},
		{"format('{0}', a)", `{"a":[1]}`, `"Array"`},
		{"format('{0}', a)", `{"a":{}}`, `"Object"`},
		{"format('{0}', 0.84551240822557006)", "", `"0.84551240822557"`},
		{"format('{0}', 1e-7)", "", `"1E-07"`},
		{"format('{0}', 1e21)", "", `"1E+21"`},
		{"format('{0}', 123456789012345)", "", `"123456789012345"`},
		// join
		{"join(a)", `{"a":["x",1,true,null,[],{}]}`, `"x,1,true,,Array,Object"`},
		{"join(a, '')", `{"a":["x","y"]}`, `"xy"`},
		{"join(a, b)", `{"a":["x","y"],"b":[]}`, `"x,y"`},
		{"join(a, 0)", `{"a":["x","y"]}`, `"x0y"`},
		{"join(a)", `{"a":[]}`, `""`},
		{"join(a)", `{"a":{"k":1}}`, `""`},
		{"join(1.5)", "", `"1.5"`},
		{"join(null)", "", `""`},
		{"join(a.*.n, '; ')", `{"a":[{"n":"p"},{"n":"q"}]}`, `"p; q"`},
		// toJSON / fromJSON
		{"toJSON(null)", "", `"null"`},
		{"toJSON(-0)", "", `"0"`},
		{"toJSON(1234.5)", "", `"1234.5"`},
		{"toJSON('a<b>&\"')", "", `"\"a<b>&\\\"\""`},
		{"toJSON(a)", `{"a":[]}`, `"[]"`},
		{"toJSON(a)", `{"a":[1,[true,null,{}]]}`, `"[\n  1,\n  [\n    true,\n    null,\n    {}\n  ]\n]"`},
		{"toJSON(a.*.x)", `{"a":[{"x":1}]}`, `"[\n  1\n]"`},
		{"fromJSON('{\"A\":{\"b\":[1,2]}}').a.B[1]", "", "2"},
		{"fromJSON(' 12 ')", "", "12"},
		{"fromJSON('null')", "", "null"},
		{"fromJSON('\"s\"')", "", `"s"`},
		{"fromJSON(toJSON(a)).k", `{"a":{"k":"v"}}`, `"v"`},
		// case
		{"case(true, 1, 2)", "", "1"},
		{"case(false, 1, false, 2, 3)", "", "3"},
		{"case(false, 1, true, 2, 3)", "", "2"},
		{"case(1 == 1, a, 'd')", `{"a":[5]}`, "[5]"},
		{"case(true, 'x', fromJSON('{'))", "", `"x"`}, // later arguments are not evaluated
		// ordinal ignore-case: every string operation agrees
		{"'ı' == 'I'", "", "false"},
		{"'ı' == 'ı'", "", "true"},
		{"'é' == 'É'", "", "true"},
		{"startsWith('ıx', 'I')", "", "false"},
		{"endsWith('xı', 'I')", "", "false"},
		{"contains('aıb', 'I')", "", "false"},
		{"contains('aéb', 'É')", "", "true"},
		{"'ı' < 'I' || 'ı' > 'I'", "", "true"},
		{"'ä' <= 'Ä' && 'ä' >= 'Ä'", "", "true"},
		// arrays and objects compare by reference
		{"fromJSON('[]') == fromJSON('[]')", "", "false"},
		{"fromJSON('{}') != fromJSON('{}')", "", "true"},
		// objects keep insertion order
		{"toJSON(fromJSON('{\"b\":1,\"a\":2,\"c\":3}'))", "", `"{\n  \"b\": 1,\n  \"a\": 2,\n  \"c\": 3\n}"`},
		{"fromJSON('{\"b\":1,\"a\":2,\"c\":3}').*", "", "[1,2,3]"},
		{"fromJSON('{\"z\":{\"n\":1},\"y\":{\"n\":2}}')[*].n", "", "[1,2]"},
		// status functions without Status
		{"cancelled()", "", "false"},
		{"SUCCESS()", "", "true"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			ctx := map[string]any{}
			if tt.ctx != "" {
				if err := json.Unmarshal([]byte(tt.ctx), &ctx); err != nil {
					t.Fatal(err)
				}
			}
			names := []string{}
			for k := range ctx {
				names = append(names, k)
			}
			e, err := ParseWith(tt.src, names, nil)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			v, err := e.Eval(&Env{Contexts: ctx})
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			var got string
			if r := Result(v, nil); true {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(r, &m); err != nil {
					t.Fatal(err)
				}
				got = string(m["value"])
			}
			if got != tt.want {
				t.Errorf("%s = %s, want %s", tt.src, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src  string
		kind string
		col  int
		want string // part of the message
	}{
		{"", "parsing", 1, "An expression was expected"},
		{"TRUE", "parsing", 1, "Unrecognized named-value: 'TRUE'"}, // keywords are case-sensitive
		{"github.", "parsing", 7, "Unexpected end of expression: '.'"},
		{"github.1", "parsing", 8, "Unexpected symbol: '1'"},
		{"github..x", "lexing", 8, "Unexpected symbol: '.x'"},
		{"github[0", "parsing", 8, "Unexpected end of expression: '0'"},
		{"github[*", "parsing", 8, "Unexpected end of expression: '*'"},
		{"'a'.b", "parsing", 4, "Unexpected symbol: '.'"},
		{"1[0]", "parsing", 2, "Unexpected symbol: '['"},
		{"\"double\"", "lexing", 1, `Unexpected symbol: '"double"'`},
		{"a = b", "lexing", 3, "Unexpected symbol: '='"},
		{"github & 1", "lexing", 8, "Unexpected symbol: '&'"},
		{"github | 1", "lexing", 8, "Unexpected symbol: '|'"},
		{"1 2", "parsing", 3, "Unexpected symbol: '2'"},
		{"contains(1, 2, 3)", "parsing", 1, "Too many parameters supplied: 'contains'"},
		{"join()", "parsing", 1, "Too few parameters supplied: 'join'"},
		{"toJSON()", "parsing", 1, "Too few parameters supplied: 'toJSON'"},
		{"always(1)", "parsing", 1, "Too many parameters supplied: 'always'"},
		{"hashFiles()", "parsing", 1, "Too few parameters supplied: 'hashFiles'"},
		{"case(true, 1, false, 2)", "parsing", 1, "requires an odd number of parameters: 'case'"},
		{"format()", "parsing", 1, "Too few parameters supplied: 'format'"},
		{"contains(1,)", "parsing", 12, "Unexpected symbol: ')'"},
		{"contains(1 2)", "parsing", 12, "Unexpected symbol: '2'"},
		{"fn(1)", "parsing", 1, "Unrecognized function: 'fn'"},
		{"1 == 0x", "lexing", 6, "Unexpected symbol: '0x'"},
		{"1.2.3", "lexing", 1, "Unexpected symbol: '1.2.3'"},
		{"-", "lexing", 1, "Unexpected symbol: '-'"},
		{"-0xFF", "lexing", 1, "Unexpected symbol: '-0xFF'"},
		{"!", "parsing", 1, "Unexpected end of expression: '!'"},
		{"'ı' == 'I' == ", "parsing", 12, "Unexpected end of expression: '=='"},
		{strings.Repeat("(", 2000) + "1" + strings.Repeat(")", 2000), "parsing", 1, "Exceeded max expression depth 50"},
		{strings.Repeat("!", 200) + "true", "parsing", 1, "Exceeded max expression depth 50"},
		{"'" + strings.Repeat("x", MaxLength) + "'", "parsing", 1, "Exceeded max expression length 21000"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		e, ok := err.(*Error)
		if !ok || e.Kind != tt.kind {
			t.Errorf("Parse(%.40q) = %#v, want a %s error", tt.src, err, tt.kind)
			continue
		}
		if e.Position() != tt.col || !strings.Contains(e.Msg, tt.want) {
			t.Errorf("Parse(%.40q) = position %d %q; want position %d containing %q", tt.src, e.Position(), e.Msg, tt.col, tt.want)
		}
		if e.Msg != e.Error() && !strings.Contains(e.Error(), "within expression: ") {
			t.Errorf("Error() lacks the position: %s", e.Error())
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"fromJSON('')", "empty"},
		{"fromJSON('{')", "Error parsing fromJson"},
		{"fromJSON('1 2')", "text after"},
		{"case('x', 1, 2)", "case predicate must evaluate to a boolean value"},
		{"case(false, 1, 0, 1, 2)", "case predicate must evaluate to a boolean value"},
		{"format(format('{0}', '{'), 1)", "The following format string is invalid: {"},
		{"format('{0}')", "The following format string references more arguments than were supplied: {0}"},
		{"format('{0:x}', 1)", "The following format string is invalid: {0:x}"},
		{"format('{x}', 1)", "The following format string is invalid: {x}"},
		{"hashFiles('**')", "not available"},
		{"true && toJSON(fromJSON('['))", "Error parsing fromJson"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.src, err)
			continue
		}
		_, err = e.Eval(nil)
		ee, ok := err.(*Error)
		if !ok || ee.Kind != "evaluation" || !strings.Contains(ee.Msg, tt.want) {
			t.Errorf("Eval(%q) = %v, want evaluation error containing %q", tt.src, err, tt.want)
		}
	}
	// Short-circuit: the failing right side is never evaluated.
	e, _ := Parse("false && fromJSON('')")
	if v, err := e.Eval(nil); err != nil || v != false {
		t.Errorf("&& did not short-circuit: %v %v", v, err)
	}
	e, _ = Parse("'x' || fromJSON('')")
	if v, err := e.Eval(nil); err != nil || v != "x" {
		t.Errorf("|| did not short-circuit: %v %v", v, err)
	}
}

func TestGoValues(t *testing.T) {
	env := &Env{Contexts: map[string]any{
		"matrix": map[string]any{"n": 3, "big": int64(1 << 40), "f": float32(0.5), "list": []string{"a", "b"}},
		"env":    map[string]string{"Home": "/root"},
	}}
	for src, want := range map[string]any{
		"matrix.n == 3":          true,
		"matrix.n":               3.0,
		"matrix.big > 1000":      true,
		"matrix.f":               0.5,
		"matrix.list[1]":         "b",
		"join(matrix.list, '+')": "a+b",
		"env.HOME":               "/root",
		"env['home']":            "/root",
		"env.*[0]":               nil, // strings cannot be indexed
	} {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Eval(env)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if arr, ok := got.([]any); ok && want == nil && len(arr) == 0 {
			continue
		}
		if got != want {
			t.Errorf("%s = %#v, want %#v", src, got, want)
		}
	}
}

func TestKindTruthy(t *testing.T) {
	tests := []struct {
		v      any
		kind   string
		truthy bool
	}{
		{nil, "Null", false}, {false, "Boolean", false}, {true, "Boolean", true},
		{0.0, "Number", false}, {math.Copysign(0, -1), "Number", false}, {math.NaN(), "Number", false},
		{-1.0, "Number", true}, {math.Inf(1), "Number", true}, {"", "String", false}, {"0", "String", true},
		{"false", "String", true}, {[]any{}, "Array", true}, {map[string]any{}, "Object", true},
	}
	for _, tt := range tests {
		if k := Kind(tt.v); k != tt.kind {
			t.Errorf("Kind(%#v) = %s, want %s", tt.v, k, tt.kind)
		}
		if b := Truthy(tt.v); b != tt.truthy {
			t.Errorf("Truthy(%#v) = %v, want %v", tt.v, b, tt.truthy)
		}
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		v    any
		err  error
		want string
	}{
		{math.NaN(), nil, `{"kind":"Number","value":"NaN"}`},
		{[]any{1.0, "a"}, nil, `{"kind":"Array","value":[1,"a"]}`},
		{map[string]any{"k": nil}, nil, `{"kind":"Object","value":{"k":null}}`},
		{nil, &Error{Kind: "parsing", Offset: 2, Msg: "bad"}, `{"error":{"kind":"parsing","message":"bad"}}`},
		{nil, errString("boom"), `{"error":{"kind":"evaluation","message":"boom"}}`},
	}
	for _, tt := range tests {
		if got := string(Result(tt.v, tt.err)); got != tt.want {
			t.Errorf("Result = %s, want %s", got, tt.want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestPublicConversionsOfGoValues(t *testing.T) {
	if Truthy(0) || !Truthy(int64(2)) || ToString(int64(7)) != "7" || ToString(float32(0.5)) != "0.5" || Kind([]string{}) != "Array" {
		t.Errorf("Go integer/float/slice values are not converted like numbers and arrays")
	}
}
