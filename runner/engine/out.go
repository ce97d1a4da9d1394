package engine

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/report"
)

// jobOut masks everything on its way to the job's reporter; reporters only
// ever see masked text.
type jobOut struct {
	mu  sync.Mutex // steps of a job may report from several goroutines (output pumps)
	rep report.Job
	m   *mask.Masker
}

func (o *jobOut) Started(info report.JobInfo) {
	info.Name = o.m.Replace(info.Name)
	o.do(func() { o.rep.Started(info) })
}

func (o *jobOut) StepStarted(s report.Step, t time.Time) {
	s.Name = o.m.Replace(s.Name)
	o.do(func() { o.rep.StepStarted(s, t) })
}

func (o *jobOut) StepFinished(s report.Step, e report.StepEnd) {
	s.Name = o.m.Replace(s.Name)
	e.Err = o.m.Replace(e.Err)
	o.do(func() { o.rep.StepFinished(s, e) })
}

func (o *jobOut) Line(k report.LineKind, text string) {
	text = o.m.Replace(text)
	o.do(func() { o.rep.Line(k, text) })
}

func (o *jobOut) Group(title string) {
	title = o.m.Replace(title)
	o.do(func() { o.rep.Group(title) })
}

func (o *jobOut) EndGroup() { o.do(o.rep.EndGroup) }

func (o *jobOut) Annotate(a report.Annotation) {
	a.Title, a.Message, a.File = o.m.Replace(a.Title), o.m.Replace(a.Message), o.m.Replace(a.File)
	o.do(func() { o.rep.Annotate(a) })
}

func (o *jobOut) Summary(s report.Step, md string) {
	md = o.m.Replace(md)
	o.do(func() { o.rep.Summary(s, md) })
}

func (o *jobOut) Finished(e report.JobEnd) {
	for k, v := range e.Outputs {
		e.Outputs[k] = o.m.Replace(v)
	}
	o.do(func() { o.rep.Finished(e) })
}

func (o *jobOut) do(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f()
}

func (o *jobOut) infof(format string, args ...any) {
	o.Line(report.Info, fmt.Sprintf(format, args...))
}

func (o *jobOut) warnf(format string, args ...any) {
	o.Line(report.Warn, "Warning: "+fmt.Sprintf(format, args...))
}

func (o *jobOut) errorf(format string, args ...any) {
	o.Line(report.Error, "Error: "+fmt.Sprintf(format, args...))
}

// maxLine is how much of a line without a newline is held before a flush.
const maxLine = 64 << 10

// lineWriter turns a byte stream into calls of fn per line; Close flushes a
// final unterminated line.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
	m   *mask.Masker // secrets never to cut in half at a flush
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Only the new bytes can hold a newline: scanning the whole buffer on
	// every write is quadratic for output written a byte at a time.
	from := len(w.buf)
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf[from:], '\n')
		if i < 0 {
			break
		}
		i += from
		line := w.buf[:i]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		w.fn(string(line))
		w.buf = w.buf[i+1:]
		from = 0
	}
	// Bound memory for output that never ends a line, keeping back a tail
	// that may be the start of a secret, and never cutting one in two.
	if len(w.buf) > maxLine {
		if cut := w.m.SafeCut(w.buf, len(w.buf)-max(0, w.m.MaxLen()-1)); cut > 0 {
			w.fn(string(w.buf[:cut]))
			w.buf = append(w.buf[:0], w.buf[cut:]...)
		}
	}
	return len(p), nil
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = nil
	}
	return nil
}
