package engine

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
)

// Console serialises the output of concurrently running jobs onto one writer,
// one whole line at a time, each prefixed by its job and masked.
type Console struct {
	mu     sync.Mutex
	out    io.Writer
	color  bool
	masker *mask.Masker
	// groups renders steps as ::group:: blocks, for when gantry itself runs
	// inside GitHub Actions or another runner that folds them.
	groups bool
}

// NewConsole returns a console writing to out.
func NewConsole(out io.Writer, color, groups bool, m *mask.Masker) *Console {
	return &Console{out: out, color: color, masker: m, groups: groups}
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

// JobLog is the console as seen by one job: every line gets the job's prefix.
type JobLog struct {
	c      *Console
	prefix string
	color  string
	depth  int // nesting of groups, for indentation on a terminal
}

// Job returns a logger for a job shown as name; index picks its colour.
func (c *Console) Job(name string, index int) *JobLog {
	return &JobLog{c: c, prefix: "[" + name + "]", color: jobColors[index%len(jobColors)]}
}

func (c *Console) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, _ = c.out.Write(b)
}

// Line prints one line of step output (already free of the trailing newline).
func (l *JobLog) Line(s string) { l.emit("  ", s, "") }

// Info prints a runner message.
func (l *JobLog) Info(format string, args ...any) {
	l.emit("", fmt.Sprintf(format, args...), "")
}

// Styled prints a runner message in a style when colour is on.
func (l *JobLog) Styled(style, format string, args ...any) {
	l.emit("", fmt.Sprintf(format, args...), style)
}

// StepStart opens a step: a group marker where folding is supported, a header otherwise.
func (l *JobLog) StepStart(title string) {
	if l.c.groups {
		l.raw("::group::" + l.c.masker.Replace(title))
		return
	}
	l.emit("", "⭐ "+title, ansiBold)
}

// StepEnd closes a step with its outcome.
func (l *JobLog) StepEnd(title string, outcome string, d time.Duration) {
	if l.c.groups {
		l.raw("::endgroup::")
	}
	mark, style := "✅", ansiGreen
	switch outcome {
	case "failure":
		mark, style = "❌", ansiRed
	case "cancelled":
		mark, style = "🚫", ansiYel
	case "skipped":
		mark, style = "⏭", ansiDim
	}
	l.emit("", fmt.Sprintf("%s %s %s [%s]", mark, outcomeWord(outcome), title, d.Round(time.Millisecond)), style)
}

func outcomeWord(o string) string {
	switch o {
	case "success":
		return "Success -"
	case "failure":
		return "Failure -"
	case "cancelled":
		return "Cancelled -"
	case "skipped":
		return "Skipped -"
	}
	return o
}

// GroupStart and GroupEnd render ::group:: commands issued by steps.
func (l *JobLog) GroupStart(title string) {
	if l.c.groups {
		l.raw("::group::" + l.c.masker.Replace(title))
		return
	}
	l.emit("  ", "▼ "+title, ansiBold)
	l.depth++
}

// GroupEnd closes the innermost group.
func (l *JobLog) GroupEnd() {
	if l.c.groups {
		l.raw("::endgroup::")
		return
	}
	if l.depth > 0 {
		l.depth--
	}
}

func (l *JobLog) raw(s string) {
	l.c.write([]byte(s + "\n"))
}

func (l *JobLog) emit(indent, s, style string) {
	s = l.c.masker.Replace(s)
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

// lineWriter turns a byte stream into calls of fn per line; Close flushes a
// final unterminated line.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		w.fn(string(line))
		w.buf = w.buf[i+1:]
	}
	// Bound memory for output that never ends a line.
	if len(w.buf) > 64<<10 {
		w.fn(string(w.buf))
		w.buf = w.buf[:0]
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
