// Package gotest runs `go test -json` and turns its event stream into results.
package gotest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Test is one test's result.
type Test struct {
	Package  string
	Name     string
	Status   string // pass, fail, skip
	Duration time.Duration
	Output   string
	Flaky    bool // failed, then passed on a retry
	// File and Line, when a report gives them (JUnit), win over the output.
	File string
	Line int
}

// Package is one package's result.
type Package struct {
	Name     string
	Status   string // pass, fail, skip (no tests)
	Duration time.Duration
	Coverage float64 // -1 when unknown
	Output   string  // package-level output, with the compiler's for build failures
	// BuildFailed is set when the package's test binary did not compile.
	BuildFailed bool
	// Aborted says why the test binary stopped part-way (a panic, a
	// timeout, an os.Exit): the tests after that point have no result.
	Aborted string
}

// Report is a whole run.
type Report struct {
	Tests    []*Test
	Packages []*Package
}

type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
	// Since Go 1.24 compiler output comes as build-output events keyed by
	// ImportPath, and the package's fail event names it in FailedBuild.
	ImportPath  string
	FailedBuild string
}

var coverageLine = regexp.MustCompile(`coverage: ([0-9.]+)% of statements`)

// Parse reads a `go test -json` stream.
func Parse(r io.Reader) (*Report, error) {
	rep := &Report{}
	tests := map[string]*Test{}
	pkgs := map[string]*Package{}
	pkg := func(name string) *Package {
		p := pkgs[name]
		if p == nil {
			p = &Package{Name: name, Coverage: -1}
			pkgs[name] = p
			rep.Packages = append(rep.Packages, p)
		}
		return p
	}
	buildOutput := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // build output not wrapped in JSON
		}
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, fmt.Errorf("parse go test -json: line %d: %w", n, err)
		}
		if ev.Package == "" {
			if ev.Action == "build-output" && ev.ImportPath != "" {
				buildOutput[ev.ImportPath] += ev.Output
			}
			continue
		}
		p := pkg(ev.Package)
		if ev.Test == "" {
			switch ev.Action {
			case "output":
				p.Output += ev.Output
				if m := coverageLine.FindStringSubmatch(ev.Output); m != nil {
					p.Coverage, _ = strconv.ParseFloat(m[1], 64)
				}
			case "pass", "fail", "skip":
				p.Status = ev.Action
				p.Duration = seconds(ev.Elapsed)
				if ev.FailedBuild != "" {
					p.BuildFailed = true
					p.Output = buildOutput[ev.FailedBuild] + p.Output
				}
			}
			continue
		}
		key := ev.Package + "\x00" + ev.Test
		t := tests[key]
		if t == nil {
			t = &Test{Package: ev.Package, Name: ev.Test}
			tests[key] = t
			rep.Tests = append(rep.Tests, t)
		}
		switch ev.Action {
		case "output":
			t.Output += ev.Output
		case "pass", "fail", "skip":
			t.Status = ev.Action
			t.Duration = seconds(ev.Elapsed)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, p := range rep.Packages {
		p.Aborted = aborted(p, rep.Tests)
	}
	return rep, nil
}

// aborted explains a failed package whose test binary did not run to the
// end, or is "".
func aborted(p *Package, tests []*Test) string {
	if p.Status != "fail" || p.BuildFailed {
		return ""
	}
	ran := 0
	var culprit *Test
	for _, t := range tests {
		if t.Package != p.Name {
			continue
		}
		ran++
		if culprit == nil && t.Status == "fail" && strings.Contains(t.Output, "panic: ") {
			culprit = t
		}
	}
	after := fmt.Sprintf("the test binary stopped after %d tests; the tests it had not reached have no result", ran)
	switch {
	case culprit != nil:
		pn, _ := FindPanic(culprit.Output, culprit.Package, culprit.Name)
		if strings.HasPrefix(pn.Message, "panic: test timed out") {
			return culprit.Name + " " + strings.TrimPrefix(pn.Message, "panic: ") + ": " + after
		}
		return culprit.Name + " panicked (" + strings.TrimPrefix(pn.Message, "panic: ") + "): " + after
	case strings.Contains(p.Output, "panic: "):
		pn, _ := FindPanic(p.Output, p.Name, "")
		return "panic outside a test (" + strings.TrimPrefix(pn.Message, "panic: ") + "): " + after
	}
	for _, t := range tests {
		if t.Package == p.Name && t.Status == "" {
			return t.Name + " never finished (the binary exited: os.Exit or a crash): " + after
		}
	}
	return ""
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// Append adds the results of another go test invocation.
func (r *Report) Append(o *Report) {
	r.Tests = append(r.Tests, o.Tests...)
	r.Packages = append(r.Packages, o.Packages...)
}

// Counts are the totals of a report; subtests count as tests.
type Counts struct{ Passed, Failed, Skipped, Flaky int }

// Count totals the tests.
func (r *Report) Count() Counts {
	var c Counts
	for _, t := range r.Tests {
		switch t.Status {
		case "pass":
			c.Passed++
			if t.Flaky {
				c.Flaky++
			}
		case "fail":
			c.Failed++
		case "skip":
			c.Skipped++
		}
	}
	return c
}

// FailedTopLevel lists, per package, the top-level tests that failed (what
// -run can select for a retry).
func (r *Report) FailedTopLevel() map[string][]string {
	out := map[string][]string{}
	seen := map[string]bool{}
	for _, t := range r.Tests {
		if t.Status != "fail" {
			continue
		}
		top, _, _ := strings.Cut(t.Name, "/")
		if !seen[t.Package+"\x00"+top] {
			seen[t.Package+"\x00"+top] = true
			out[t.Package] = append(out[t.Package], top)
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// FailedPackages lists packages that failed without a failing test (build
// errors, panics in TestMain).
func (r *Report) FailedPackages() []*Package {
	failing := map[string]bool{}
	for _, t := range r.Tests {
		if t.Status == "fail" {
			failing[t.Package] = true
		}
	}
	var out []*Package
	for _, p := range r.Packages {
		if p.Status == "fail" && !failing[p.Name] {
			out = append(out, p)
		}
	}
	return out
}

// Merge applies a retry's results: a test that failed before and passes now
// is flaky; one that fails again stays failed. A package that failed only
// through tests that have all passed on retry passes.
func (r *Report) Merge(retry *Report) {
	hadFailures := map[string]bool{}
	byKey := map[string]*Test{}
	for _, t := range r.Tests {
		byKey[t.Package+"\x00"+t.Name] = t
		if t.Status == "fail" {
			hadFailures[t.Package] = true
		}
	}
	for _, nt := range retry.Tests {
		t := byKey[nt.Package+"\x00"+nt.Name]
		if t == nil || t == nt {
			continue
		}
		if t.Status == "fail" && nt.Status == "pass" {
			t.Status, t.Flaky = "pass", true
			t.Output += "\n--- passed on retry ---\n" + nt.Output
		}
	}
	stillFailing := map[string]bool{}
	for _, t := range r.Tests {
		if t.Status == "fail" {
			stillFailing[t.Package] = true
		}
	}
	for _, p := range r.Packages {
		if p.Status == "fail" && !p.BuildFailed && hadFailures[p.Name] && !stillFailing[p.Name] {
			p.Status = "pass"
		}
	}
}

var location = regexp.MustCompile(`^\s+([^\s:]+\.go):(\d+): (.*)$`)

// Failure finds where a failed test reported its failure: the first
// "file.go:line: message" line of its output.
func (t *Test) Failure() (file string, line int, msg string) {
	if t.File != "" {
		return t.File, t.Line, strings.TrimSpace(t.Output)
	}
	// A panic's last lines are runtime frames: report the panic and the
	// test's own frame instead.
	if p, ok := FindPanic(t.Output, t.Package, t.Name); ok {
		return p.File, p.Line, p.Text()
	}
	lines := strings.Split(t.Output, "\n")
	for i, l := range lines {
		m := location.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		msg := m[3]
		// Continuation lines of a multi-line message are indented further.
		for _, more := range lines[i+1:] {
			if !strings.HasPrefix(more, "        ") || location.MatchString(more) {
				break
			}
			msg += "\n" + strings.TrimSpace(more)
		}
		return m[1], n, msg
	}
	return "", 0, strings.TrimSpace(lastLines(t.Output, 5))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Problem is a compiler or vet message at a position.
type Problem struct {
	File      string // as the go command printed it: relative to its working directory
	Line, Col int
	Msg       string
}

var problemLine = regexp.MustCompile(`^(?:\./)?([^\s:][^:]*\.go):(\d+)(?::(\d+))?: (.+)$`)

// Problems lists the positioned messages in a package's output (the
// compiler's errors when its build failed).
func (p *Package) Problems() []Problem {
	var out []Problem
	for _, l := range strings.Split(p.Output, "\n") {
		m := problemLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		out = append(out, Problem{File: m[1], Line: line, Col: col, Msg: m[4]})
	}
	return out
}
