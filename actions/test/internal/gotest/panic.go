package gotest

import (
	"regexp"
	"strconv"
	"strings"
)

// Panic is a panic in a test binary's output: the runtime's message and the
// frame to show a developer.
type Panic struct {
	Message string // "panic: runtime error: index out of range [2] with length 2"
	// File and Line are the test's own frame (the TestX function or a closure
	// of it), or else the innermost frame in the package under test. File is
	// absolute, or relative to the package's folder under -trimpath.
	File string
	Line int
	// Func and At name the innermost frame of the package when it is not the
	// test's own, e.g. "fields.Field" at "fields.go:9".
	Func, At string
}

var frameFile = regexp.MustCompile(`^\t(.+\.go):(\d+)(?: \+0x[0-9a-f]+)?$`)

// FindPanic reads a panic and its goroutine trace out of output; test is
// the test's name ("" for a panic outside any test), pkg its import path.
func FindPanic(output, pkg, test string) (*Panic, bool) {
	lines := strings.Split(output, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, false
	}
	msg := lines[start]
	if i := strings.Index(msg, " [recovered"); i > 0 {
		msg = msg[:i]
	}
	p := &Panic{Message: msg}
	top, _, _ := strings.Cut(test, "/")
	var inner struct {
		fn, file string
		line     int
	}
	for i := start + 1; i+1 < len(lines); i++ {
		fn := lines[i]
		m := frameFile.FindStringSubmatch(lines[i+1])
		if m == nil || strings.HasPrefix(fn, "\t") {
			continue
		}
		i++
		name := fn
		if j := strings.LastIndex(name, "("); j > 0 {
			name = name[:j]
		}
		fpkg, rest := splitFunc(name)
		if fpkg != pkg && fpkg != pkg+"_test" {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		file := localFile(m[1], pkg)
		short := fpkg[strings.LastIndex(fpkg, "/")+1:] + "." + rest
		if inner.file == "" {
			inner.fn, inner.file, inner.line = short, file, n
		}
		if top != "" && (rest == top || strings.HasPrefix(rest, top+".")) {
			p.File, p.Line = file, n
			break
		}
	}
	if p.File == "" {
		p.File, p.Line = inner.file, inner.line
	} else if inner.file != "" && (inner.file != p.File || inner.line != p.Line) {
		p.Func, p.At = inner.fn, baseName(inner.file)+":"+strconv.Itoa(inner.line)
	}
	return p, true
}

// Text is the panic as a one- or two-line message.
func (p *Panic) Text() string {
	if p.Func != "" {
		return p.Message + "\nin " + p.Func + " at " + p.At
	}
	return p.Message
}

// splitFunc splits "example.com/m/pkg.(*T).Method.func1" into the package
// path and the rest.
func splitFunc(name string) (string, string) {
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return "", name
	}
	return name[:slash+1+dot], name[slash+2+dot:]
}

// localFile turns a -trimpath frame ("example.com/m/pkg/x_test.go") into a
// file of the package's folder; absolute paths stay.
func localFile(file, pkg string) string {
	if rest, ok := strings.CutPrefix(file, pkg+"/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return file
}

func baseName(file string) string { return file[strings.LastIndex(file, "/")+1:] }
