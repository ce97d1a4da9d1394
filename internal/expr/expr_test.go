package expr

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testContexts = map[string]any{
	"github": map[string]any{
		"event_name": "push",
		"ref":        "refs/heads/main",
		"event": map[string]any{
			"issue": map[string]any{"labels": []any{
				map[string]any{"name": "bug"}, map[string]any{"name": "Help Wanted"},
			}},
			"commits": []any{
				map[string]any{"message": "one", "author": map[string]any{"name": "ann"}},
				map[string]any{"message": "two", "author": map[string]any{"name": "bob"}},
			},
		},
	},
	"matrix": map[string]any{"os": "linux", "node": 20.0, "Mixed-Case": "yes"},
	"env":    map[string]any{"EMPTY": "", "NUM": "42"},
	"steps":  map[string]any{"build": map[string]any{"outputs": map[string]any{"json": `{"a":[1,2],"b":"x"}`}}},
}

func TestEval(t *testing.T) {
	tests := []struct{ src, want string }{
		// literals
		{"null", `{"kind":"Null","value":null}`},
		{"true", `{"kind":"Boolean","value":true}`},
		{"42", `{"kind":"Number","value":42}`},
		{"-9.2", `{"kind":"Number","value":-9.2}`},
		{"0xff", `{"kind":"Number","value":255}`},
		{"1e3", `{"kind":"Number","value":1000}`},
		{"2.5E-1", `{"kind":"Number","value":0.25}`},
		{"'it''s'", `{"kind":"String","value":"it's"}`},
		{"''", `{"kind":"String","value":""}`},
		// operators and precedence
		{"!true", `{"kind":"Boolean","value":false}`},
		{"!!'x'", `{"kind":"Boolean","value":true}`},
		{"true || false && false", `{"kind":"Boolean","value":true}`},
		{"(true || false) && false", `{"kind":"Boolean","value":false}`},
		{"1 < 2 == true", `{"kind":"Boolean","value":true}`},
		{"'a' && 'b'", `{"kind":"String","value":"b"}`},
		{"'' || 'fallback'", `{"kind":"String","value":"fallback"}`},
		{"null && 'x'", `{"kind":"Null","value":null}`},
		{"0 || null", `{"kind":"Null","value":null}`},
		// loose equality and coercion
		{"'ABC' == 'abc'", `{"kind":"Boolean","value":true}`},
		{"1 == '1'", `{"kind":"Boolean","value":true}`},
		{"'' == 0", `{"kind":"Boolean","value":true}`},
		{"null == 0", `{"kind":"Boolean","value":true}`},
		{"true == 1", `{"kind":"Boolean","value":true}`},
		{"'abc' == 0", `{"kind":"Boolean","value":false}`},
		{"'abc' != 0", `{"kind":"Boolean","value":true}`},
		{"' 0x10 ' == 16", `{"kind":"Boolean","value":true}`},
		{"github == github", `{"kind":"Boolean","value":true}`},
		{"github == matrix", `{"kind":"Boolean","value":false}`},
		{"fromJSON('[1]') == fromJSON('[1]')", `{"kind":"Boolean","value":false}`},
		{"'b' > 'A'", `{"kind":"Boolean","value":true}`},
		{"'abc' < 1", `{"kind":"Boolean","value":false}`},
		{"2 >= 2", `{"kind":"Boolean","value":true}`},
		// property and index access
		{"github.event_name", `{"kind":"String","value":"push"}`},
		{"GITHUB.EVENT_NAME", `{"kind":"String","value":"push"}`},
		{"github['ref']", `{"kind":"String","value":"refs/heads/main"}`},
		{"matrix.mixed-case", `{"kind":"String","value":"yes"}`},
		{"github.nope.deeper", `{"kind":"Null","value":null}`},
		{"github.event.commits[1].message", `{"kind":"String","value":"two"}`},
		{"github.event.commits[5]", `{"kind":"Null","value":null}`},
		{"github.event.issue.labels.*.name", `{"kind":"Array","value":["bug","Help Wanted"]}`},
		{"github.event.commits.*.author.name", `{"kind":"Array","value":["ann","bob"]}`},
		{"github.event.commits[*].message", `{"kind":"Array","value":["one","two"]}`},
		{"contains(github.event.issue.labels.*.name, 'help wanted')", `{"kind":"Boolean","value":true}`},
		{"env.NUM == 42", `{"kind":"Boolean","value":true}`},
		{"matrix.node", `{"kind":"Number","value":20}`},
		// functions
		{"contains('Hello World', 'WORLD')", `{"kind":"Boolean","value":true}`},
		{"contains(fromJSON('[\"a\",\"b\"]'), 'B')", `{"kind":"Boolean","value":true}`},
		{"contains(fromJSON('[1,2]'), '2')", `{"kind":"Boolean","value":true}`},
		{"startsWith('Hello', 'he')", `{"kind":"Boolean","value":true}`},
		{"endsWith('Hello', 'LO')", `{"kind":"Boolean","value":true}`},
		{"format('{0} {1}', 'a', 3)", `{"kind":"String","value":"a 3"}`},
		{"format('{{0}} {0}', 'x')", `{"kind":"String","value":"{0} x"}`},
		{"format('{0}}}', 'x')", `{"kind":"String","value":"x}"}`},
		{"join(fromJSON('[1,\"b\",true]'))", `{"kind":"String","value":"1,b,true"}`},
		{"join(fromJSON('[\"a\",\"b\"]'), ' | ')", `{"kind":"String","value":"a | b"}`},
		{"join('solo')", `{"kind":"String","value":"solo"}`},
		{"toJSON(matrix.os)", `{"kind":"String","value":"\"linux\""}`},
		{"toJSON(fromJSON('{\"a\":1}'))", `{"kind":"String","value":"{\n  \"a\": 1\n}"}`},
		{"fromJSON(steps.build.outputs.json).a[1]", `{"kind":"Number","value":2}`},
		{"fromJSON('true')", `{"kind":"Boolean","value":true}`},
		{"case(matrix.os == 'mac', 'm', matrix.os == 'linux', 'l', 'other')", `{"kind":"String","value":"l"}`},
		{"case(false, 'a', 'default')", `{"kind":"String","value":"default"}`},
		{"success()", `{"kind":"Boolean","value":true}`},
		{"always()", `{"kind":"Boolean","value":true}`},
		{"failure()", `{"kind":"Boolean","value":false}`},
		{"1.5", `{"kind":"Number","value":1.5}`},
		// errors
		{"format('{1}', 'a')", `{"error":{"kind":"evaluation","message":"The following format string references more arguments than were supplied: {1}"}}`},
		{"format(env.EMPTY, 'a')", `{"kind":"String","value":""}`},
		{"format(format('{0}', '{1}'), 'a')", `{"error":{"kind":"evaluation","message":"The following format string references more arguments than were supplied: {1}"}}`},
		{"fromJSON('{bad')", `{"error":{"kind":"evaluation","message":"Error parsing fromJson: invalid character 'b'"}}`},
		{"case(1, 'a', 'b')", `{"error":{"kind":"evaluation","message":"case predicate must evaluate to a boolean value"}}`},
		{"contains('a')", `{"error":{"kind":"parsing","message":"Too few parameters supplied: 'contains'. Located at position 1 within expression: contains('a')"}}`},
		{"nosuch(1)", `{"error":{"kind":"parsing","message":"Unrecognized function: 'nosuch'. Located at position 1 within expression: nosuch(1)"}}`},
		{"case(true, 'a')", `{"error":{"kind":"parsing","message":"Too few parameters supplied: 'case'. Located at position 1 within expression: case(true, 'a')"}}`},
		{"foo.bar", `{"error":{"kind":"parsing","message":"Unrecognized named-value: 'foo'. Located at position 1 within expression: foo.bar"}}`},
		{"1 ==", `{"error":{"kind":"parsing","message":"Unexpected end of expression: '=='. Located at position 3 within expression: 1 =="}}`},
		{"'open", `{"error":{"kind":"lexing","message":"Unexpected symbol: ''open'. Located at position 1 within expression: 'open"}}`},
		{"(1", `{"error":{"kind":"parsing","message":"Unexpected end of expression: '1'. Located at position 2 within expression: (1"}}`},
		{"github == = b", `{"error":{"kind":"lexing","message":"Unexpected symbol: '='. Located at position 11 within expression: github == = b"}}`},
		{"1 # 2", `{"error":{"kind":"lexing","message":"Unexpected symbol: '#'. Located at position 3 within expression: 1 # 2"}}`},
		{"'é' == x", `{"error":{"kind":"parsing","message":"Unrecognized named-value: 'x'. Located at position 8 within expression: 'é' == x"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			var v any
			e, err := Parse(tt.src)
			if err == nil {
				v, err = e.Eval(&Env{Contexts: testContexts})
			}
			if got := string(Result(v, err)); got != tt.want {
				t.Errorf("%s\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

func TestToString(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, ""}, {true, "true"}, {false, "false"}, {3.0, "3"}, {math.Copysign(0, -1), "0"}, {1.5, "1.5"},
		{1e21, "1E+21"}, {"s", "s"}, {[]any{1.0}, "Array"}, {map[string]any{}, "Object"},
	}
	for _, tt := range tests {
		if got := ToString(tt.v); got != tt.want {
			t.Errorf("ToString(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestTemplates(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		{"plain text", "plain text"},
		{"${{ matrix.node }}", 20.0},
		{"node-${{ matrix.node }}-${{ matrix.os }}", "node-20-linux"},
		{"${{ format('{0}}}', 'x') }} done", "x} done"},
		{"${{ '}}' }}", "}}"},
		{"a ${{ github.event.issue.labels.*.name }}", "a Array"},
	}
	for _, tt := range tests {
		tp, err := ParseTemplate(tt.src)
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		got, err := tp.Eval(&Env{Contexts: testContexts})
		if err != nil || got != tt.want {
			t.Errorf("%q = %#v, %v; want %#v", tt.src, got, err, tt.want)
		}
	}
	if _, err := ParseTemplate("x ${{ 1 == }}"); err == nil || err.(*Error).Offset != 8 || err.(*Error).Position() != 3 {
		t.Errorf("template error offset: %v", err)
	}
	if _, err := ParseTemplate("x ${{ unclosed"); err == nil {
		t.Errorf("unclosed template accepted")
	}
}

func TestEvalCondition(t *testing.T) {
	failed := func(fn string) bool { return fn == "failure" }
	ok := func(fn string) bool { return fn == "success" }
	tests := []struct {
		src    string
		status func(string) bool
		want   bool
	}{
		{"matrix.os == 'linux'", ok, true},
		{"${{ matrix.os == 'linux' }}", ok, true},
		{"matrix.os == 'linux'", failed, false}, // success() && implied
		{"failure()", failed, true},
		{"always() && matrix.os == 'mac'", failed, false},
		{"${{ always() }}", failed, true},
		{"cancelled()", ok, false},
		{"${{ false }} text", ok, true}, // a non-empty string is truthy
		{"${{ '' }}", ok, false},
	}
	for _, tt := range tests {
		got, err := EvalCondition(tt.src, &Env{Contexts: testContexts, Status: tt.status})
		if err != nil || got != tt.want {
			t.Errorf("EvalCondition(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
}

func TestContextsAndFunctions(t *testing.T) {
	e, err := Parse("contains(github.ref, matrix.os) && success() || ENV.x")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Contexts(), ","); got != "env,github,matrix" {
		t.Errorf("contexts %s", got)
	}
	if got := strings.Join(e.Functions(), ","); got != "contains,success" {
		t.Errorf("functions %s", got)
	}
	if _, err := ParseWith("secrets.x", []string{"github"}, nil); err == nil {
		t.Errorf("ParseWith allowed secrets")
	}
}

func TestHashFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.sum", "a")
	write("sub/go.sum", "b")
	write("sub/other.txt", "c")
	all, err := HashFiles(dir, []string{"**/go.sum"})
	if err != nil || len(all) != 64 {
		t.Fatalf("hash %q %v", all, err)
	}
	top, _ := HashFiles(dir, []string{"go.sum"})
	if top == all || top == "" {
		t.Errorf("top-level only should differ from all: %s %s", top, all)
	}
	excl, _ := HashFiles(dir, []string{"**/go.sum", "!sub/**"})
	if excl != top {
		t.Errorf("exclusion: got %s want %s", excl, top)
	}
	none, _ := HashFiles(dir, []string{"*.nothing"})
	if none != "" {
		t.Errorf("no match should give empty, got %s", none)
	}
	write("go.sum", "changed")
	if again, _ := HashFiles(dir, []string{"**/go.sum"}); again == all {
		t.Errorf("hash did not change with content")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a.b", "github.event.issue.labels.*.name", "format('{0}', 1)", "!(x || y) && z[0]['k']",
		"0x1f == 31", "'it''s'", "case(a, b, c)", "${{ x }}", "a ${{ format('{0}}}', matrix.os) }} b ${{ '}}' }}",
		"-Infinity < .5e3", "fromJSON('[1,{\"a\":2}]')[1].A", "hashFiles('**')", "github.event.*[*]"} {
		f.Add(s)
	}
	env := &Env{Contexts: testContexts, HashFiles: func([]string) (string, error) { return "h", nil }}
	check := func(t *testing.T, s string, err error, kind string) {
		e, ok := err.(*Error)
		if !ok || e.Kind != kind && !(kind == "parsing" && e.Kind == "lexing") || e.Offset < 0 || e.Offset > len(s) {
			t.Fatalf("%q: bad error %#v", s, err)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			check(t, s, err, "parsing")
		} else {
			v, err := e.Eval(env)
			if err != nil {
				check(t, e.String(), err, "evaluation")
			}
			if !json.Valid(Result(v, err)) {
				t.Fatalf("%q: Result is not JSON: %s", s, Result(v, err))
			}
		}
		tp, err := ParseTemplate(s)
		if err != nil {
			check(t, s, err, "parsing")
			return
		}
		if !strings.Contains(s, "${{") && (!tp.IsLiteral() || len(tp.Exprs()) != 0) {
			t.Fatalf("%q: text without ${{ is not a literal template", s)
		}
		v, err := tp.Eval(env)
		if err == nil && tp.IsLiteral() && v != s {
			t.Fatalf("%q: literal template evaluated to %q", s, v)
		}
		_, _ = EvalCondition(s, env)
	})
}

func BenchmarkCondition(b *testing.B) {
	e, err := Parse("github.event_name == 'push' && contains(matrix.os, 'lin')")
	if err != nil {
		b.Fatal(err)
	}
	env := &Env{Contexts: testContexts}
	for i := 0; i < b.N; i++ {
		if _, err := e.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConditionAndTemplateEdges(t *testing.T) {
	failed := func(fn string) bool { return fn == "failure" }
	for _, tt := range []struct {
		src    string
		status func(string) bool
		want   bool
	}{
		{"", nil, true},
		{"  ", failed, false},
		{"success() || failure()", failed, true},
		{"contains(github.ref, 'MAIN')", nil, true},
		{"!cancelled()", failed, true}, // a status function disables the implied success()
		{"${{ github.event_name }}", nil, true},
		{"${{ env.EMPTY }}", nil, false},
		{"${{ env.EMPTY }}${{ env.EMPTY }}", nil, false},
		{"${{ 0 }}", nil, false},
		{"${{ 0 }} ", nil, false}, // surrounding space is trimmed
	} {
		got, err := EvalCondition(tt.src, &Env{Contexts: testContexts, Status: tt.status})
		if err != nil || got != tt.want {
			t.Errorf("EvalCondition(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	for src, off := range map[string]int{"github.ref ==": 11, "${{ 1 == }}": 6, "x ${{ fromJSON('') }}": -1} {
		_, err := EvalCondition(src, nil)
		e, ok := err.(*Error)
		if !ok || off >= 0 && (e.Kind != "parsing" || e.Offset != off) || off < 0 && e.Kind != "evaluation" {
			t.Errorf("EvalCondition(%q) error = %#v, want offset %d", src, err, off)
		}
	}

	_, err := ParseTemplateWith("run ${{ github.ref }} ${{ secrets.X }}", []string{"github"}, nil)
	if e, ok := err.(*Error); !ok || e.Offset != 26 || !strings.Contains(e.Msg, `Unrecognized named-value: 'secrets'`) {
		t.Errorf("ParseTemplateWith error = %v", err)
	}
	_, err = ParseWith("contains('a', 'b') && hashFiles('x')", nil, []string{"contains"})
	if e, ok := err.(*Error); !ok || e.Offset != 22 || !strings.Contains(e.Msg, "Unrecognized function: 'hashFiles'") {
		t.Errorf("ParseWith function error = %v", err)
	}
	e, err := ParseWith("Foo.bar", []string{"foo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.Eval(&Env{Contexts: map[string]any{"FOO": map[string]any{"BAR": "x"}}}); v != "x" || err != nil {
		t.Errorf("custom context = %v, %v", v, err)
	}
	if got := strings.Join(e.Contexts(), ","); got != "foo" {
		t.Errorf("Contexts() = %s", got)
	}

	tp, err := ParseTemplate("a ${{ github.ref }} b ${{ matrix.os }}")
	if err != nil {
		t.Fatal(err)
	}
	if tp.IsLiteral() || len(tp.Exprs()) != 2 || tp.Exprs()[1].String() != "matrix.os" {
		t.Errorf("Exprs() = %v", tp.Exprs())
	}
	if v, err := tp.Eval(nil); v != "a  b " || err != nil {
		t.Errorf("template with missing contexts = %q, %v", v, err)
	}
	if tp, err := ParseTemplate(""); err != nil || !tp.IsLiteral() {
		t.Errorf("empty template: %v", err)
	} else if v, _ := tp.Eval(nil); v != "" {
		t.Errorf("empty template = %#v", v)
	}
	if _, err := ParseTemplate("${{ }}"); err == nil {
		t.Errorf("empty expression accepted")
	}
}
