// Package console is the terminal reporter of `gantry run`: the lines of
// concurrently running jobs serialised onto one writer, each prefixed by its
// job, with step headers and footers (or ::group:: folds when gantry itself
// runs inside a runner that folds them).
package console

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/runner/report"
)

// Console writes every job's events to one writer, a whole line at a time.
type Console struct {
	mu     sync.Mutex
	out    io.Writer
	color  bool
	groups bool
	next   int
}

// New returns a console writing to out. color adds ANSI styles; groups
// renders steps as ::group:: blocks.
func New(out io.Writer, color, groups bool) *Console {
	return &Console{out: out, color: color, groups: groups}
}

var jobColors = []string{"\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[32m", "\x1b[96m", "\x1b[95m", "\x1b[93m"}

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiYel   = "\x1b[33m"
)

// Job returns the reporter of one job; each job gets the next colour.
func (c *Console) Job(info report.JobInfo) report.Job {
	c.mu.Lock()
	idx := c.next
	c.next++
	c.mu.Unlock()
	name := info.Name
	if name == "" {
		name = info.JobID
	}
	return &jobLog{c: c, prefix: "[" + name + "]", color: jobColors[idx%len(jobColors)], name: name}
}

// Printf writes a runner message that belongs to no job.
func (c *Console) Printf(format string, args ...any) {
	c.write([]byte(fmt.Sprintf(format, args...)))
}

func (c *Console) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.out.Write(b)
}

type jobLog struct {
	c      *Console
	prefix string
	color  string
	name   string
	depth  int
	start  time.Time
	steps  map[report.Step]time.Time
}

func (l *jobLog) Started(info report.JobInfo) {
	l.start = info.Started
	if l.start.IsZero() {
		l.start = time.Now()
	}
}

func (l *jobLog) StepStarted(s report.Step, t time.Time) {
	if l.steps == nil {
		l.steps = map[report.Step]time.Time{}
	}
	l.steps[s] = t
	if l.c.groups {
		l.raw("::group::" + s.Name)
		return
	}
	l.emit("", "⭐ "+s.Name, ansiBold)
}

func (l *jobLog) StepFinished(s report.Step, end report.StepEnd) {
	var d time.Duration
	if t, ok := l.steps[s]; ok {
		d = end.Ended.Sub(t)
		delete(l.steps, s)
		if l.c.groups {
			l.raw("::endgroup::")
		}
	}
	mark, style, word := "✅", ansiGreen, "Success -"
	switch end.Outcome {
	case report.Failure:
		mark, style, word = "❌", ansiRed, "Failure -"
	case report.Cancelled:
		mark, style, word = "🚫", ansiYel, "Cancelled -"
	case report.Skipped:
		mark, style, word = "⏭", ansiDim, "Skipped -"
	}
	l.emit("", fmt.Sprintf("%s %s %s [%s]", mark, word, s.Name, d.Round(time.Millisecond)), style)
}

func (l *jobLog) Line(kind report.LineKind, text string) {
	switch kind {
	case report.Output:
		l.emit("  ", text, "")
	case report.Warn:
		l.emit("", text, ansiYel)
	case report.Error:
		l.emit("", text, ansiRed)
	case report.Command:
		l.emit("", text, ansiDim)
	default:
		l.emit("", text, "")
	}
}

func (l *jobLog) Group(title string) {
	if l.c.groups {
		l.raw("::group::" + title)
		return
	}
	l.emit("  ", "▼ "+title, ansiBold)
	l.depth++
}

func (l *jobLog) EndGroup() {
	if l.c.groups {
		l.raw("::endgroup::")
		return
	}
	if l.depth > 0 {
		l.depth--
	}
}

func (l *jobLog) Annotate(a report.Annotation) {
	style := ansiBold
	switch a.Level {
	case "error":
		style = ansiRed
	case "warning":
		style = ansiYel
	}
	l.emit("", FormatAnnotation(a), style)
}

func (l *jobLog) Summary(report.Step, string) {}

func (l *jobLog) Finished(end report.JobEnd) {
	style := ansiGreen
	if end.Result != report.Success {
		style = ansiRed
	}
	ended := end.Ended
	if ended.IsZero() {
		ended = time.Now()
	}
	l.emit("", fmt.Sprintf("🏁 Job %s: %s [%s]", end.Result, l.name, ended.Sub(l.start).Round(time.Millisecond)), style)
}

// FormatAnnotation renders an annotation as file:line:col: level: title:
// message, leaving out what is unknown.
func FormatAnnotation(a report.Annotation) string {
	var b bytes.Buffer
	if a.File != "" {
		b.WriteString(a.File)
		if a.Line > 0 {
			fmt.Fprintf(&b, ":%d", a.Line)
			if a.Col > 0 {
				fmt.Fprintf(&b, ":%d", a.Col)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(a.Level + ": ")
	if a.Title != "" {
		b.WriteString(a.Title + ": ")
	}
	b.WriteString(a.Message)
	return b.String()
}

func (l *jobLog) raw(s string) { l.c.write([]byte(s + "\n")) }

func (l *jobLog) emit(indent, s, style string) {
	var b bytes.Buffer
	if l.c.color {
		b.WriteString(l.color + l.prefix + ansiReset + " ")
	} else {
		b.WriteString(l.prefix + " ")
	}
	b.WriteString(indent)
	for i := 0; i < l.depth; i++ {
		b.WriteString("  ")
	}
	if l.c.color && style != "" {
		b.WriteString(style + s + ansiReset)
	} else {
		b.WriteString(s)
	}
	b.WriteByte('\n')
	l.c.write(b.Bytes())
}
