package wfcmd

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want Command
		ok   bool
	}{
		{"::warning::hello", Command{Name: "warning", Message: "hello"}, true},
		{"  ::error file=a.go,line=3,col=1,title=T%3A x::bad%0Aline%25", Command{Name: "error", Properties: map[string]string{"file": "a.go", "line": "3", "col": "1", "title": "T: x"}, Message: "bad\nline%"}, true},
		{"::set-output name=a%2Cb::v", Command{Name: "set-output", Properties: map[string]string{"name": "a,b"}, Message: "v"}, true},
		{"##[group]Title", Command{Name: "group", Message: "Title"}, true},
		{"##[error file=x;line=2]msg", Command{Name: "error", Properties: map[string]string{"file": "x", "line": "2"}, Message: "msg"}, true},
		{"plain", Command{}, false},
		{"::no-terminator", Command{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.line)
		if ok != tt.ok || ok && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.line, got, ok, tt.want)
		}
	}
}

func process(lines []string, unsecure bool) []Event {
	var evs []Event
	p := NewProcessor(func(e Event) { evs = append(evs, e) })
	p.AllowUnsecure = unsecure
	for _, l := range lines {
		p.Line(l)
	}
	return evs
}

func TestProcessor(t *testing.T) {
	evs := process([]string{
		"::add-mask::s3cret",
		"::group::G",
		"::endgroup::",
		"::notice title=N::note",
		"::stop-commands::tok",
		"::warning::ignored",
		"::tok::",
		"::debug::dbg",
		"::set-output name=x::1",
		"::save-state name=s::2",
		"::set-env name=E::v",
		"::unknown::printed",
		"::echo::on",
		"::debug::echoed",
	}, false)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, map[EventKind]string{EventLine: "line", EventMask: "mask", EventGroup: "group", EventEndGroup: "endgroup",
			EventDebug: "debug", EventAnnotation: "annotation", EventSetOutput: "output", EventSaveState: "state", EventSetEnv: "env",
			EventAddPath: "path", EventWarning: "warning", EventEcho: "echo"}[e.Kind])
	}
	want := "mask group endgroup annotation line debug warning output warning state annotation line echo debug"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events\n got %s\nwant %s", got, want)
	}
	if evs[4].Line != "::warning::ignored" {
		t.Errorf("stop-commands line %q", evs[4].Line)
	}
	if a := evs[3].Annotation; a.Level != "notice" || a.Title != "N" {
		t.Errorf("annotation %+v", a)
	}
	if !strings.Contains(evs[10].Annotation.Message, "disabled") {
		t.Errorf("set-env should be refused: %+v", evs[10].Annotation)
	}
	unsecure := process([]string{"::set-env name=E::v", "::add-path::/x"}, true)
	if unsecure[0].Kind != EventSetEnv || unsecure[1].Kind != EventAddPath {
		t.Errorf("unsecure commands %+v", unsecure)
	}
}

func TestAnnotationString(t *testing.T) {
	a := Annotation{Level: "error", File: "a.go", Line: 3, Col: 2, Title: "T", Message: "m"}
	if got := a.String(); got != "a.go:3:2: error: T: m" {
		t.Errorf("got %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("::error file=a,line=1::m")
	f.Add("##[group]x")
	f.Fuzz(func(t *testing.T, s string) {
		Parse(s)
		NewProcessor(func(Event) {}).Line(s)
	})
}
