// Package actionkit is what every Gantry action is built on: typed inputs with
// errors that name the input, outputs, masks, annotations capped the way
// GitHub caps them, Markdown step summaries, groups and exit codes. It wraps
// github.com/sethvargo/go-githubactions.
package actionkit

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/sethvargo/go-githubactions"
)

// AnnotationLimit is how many annotations of each level GitHub shows for one
// step; the kit reports the rest in the summary instead.
const AnnotationLimit = 10

// Kit is one run of an action.
type Kit struct {
	gha     *githubactions.Action
	getenv  func(string) string
	out     io.Writer
	errs    *multierror.Error
	counts  map[string]int
	hidden  []Annotation // over the limit: listed in the summary
	summary strings.Builder
}

// Option configures a Kit (tests use them to run an action in-process).
type Option func(*config)

type config struct {
	getenv func(string) string
	out    io.Writer
}

// WithGetenv reads inputs and file-command paths from getenv.
func WithGetenv(f func(string) string) Option { return func(c *config) { c.getenv = f } }

// WithWriter sends workflow commands and logs to w.
func WithWriter(w io.Writer) Option { return func(c *config) { c.out = w } }

// New returns a kit reading the environment the runner set.
func New(opts ...Option) *Kit {
	c := &config{getenv: os.Getenv, out: os.Stdout}
	for _, o := range opts {
		o(c)
	}
	return &Kit{
		gha:    githubactions.New(githubactions.WithGetenv(c.getenv), githubactions.WithWriter(c.out)),
		getenv: c.getenv,
		out:    c.out,
		counts: map[string]int{},
	}
}

// Getenv reads the action's environment.
func (k *Kit) Getenv(key string) string { return k.getenv(key) }

// Logf prints a log line.
func (k *Kit) Logf(format string, args ...any) {
	fmt.Fprintf(k.out, format+"\n", args...)
}

// Invalid reports a problem with an input found by the action's own checks.
func (k *Kit) Invalid(name, format string, args ...any) { k.inputErr(name, format, args...) }

func (k *Kit) inputErr(name, format string, args ...any) {
	k.errs = multierror.Append(k.errs, fmt.Errorf("input '%s': %s", name, fmt.Sprintf(format, args...)))
	k.errs.ErrorFormat = listErrors
}

// listErrors puts one problem a line, without multierror's preamble.
func listErrors(errs []error) string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// String returns an input, or def when it is empty.
func (k *Kit) String(name, def string) string {
	if v := k.gha.GetInput(name); v != "" {
		return v
	}
	return def
}

// Required returns an input that must be set.
func (k *Kit) Required(name string) string {
	v := k.gha.GetInput(name)
	if v == "" {
		k.inputErr(name, "is required; set it under with:")
	}
	return v
}

// Bool returns a boolean input (true/false, yes/no, 1/0).
func (k *Kit) Bool(name string, def bool) bool {
	v := strings.ToLower(k.gha.GetInput(name))
	switch v {
	case "":
		return def
	case "true", "yes", "1", "on":
		return true
	case "false", "no", "0", "off":
		return false
	}
	k.inputErr(name, "%q is not a boolean; use true or false", v)
	return def
}

// Int returns a whole-number input.
func (k *Kit) Int(name string, def int) int {
	v := k.gha.GetInput(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		k.inputErr(name, "%q is not a whole number", v)
		return def
	}
	return n
}

// Float returns a number input.
func (k *Kit) Float(name string, def float64) float64 {
	v := strings.TrimSuffix(k.gha.GetInput(name), "%")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		k.inputErr(name, "%q is not a number", v)
		return def
	}
	return f
}

// Duration returns a duration input ("90s", "5m"; a bare number is seconds).
func (k *Kit) Duration(name string, def time.Duration) time.Duration {
	v := k.gha.GetInput(name)
	if v == "" {
		return def
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second))
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		k.inputErr(name, "%q is not a duration like 30s or 5m", v)
		return def
	}
	return d
}

// List returns a newline- or comma-separated input as its trimmed, non-empty
// entries.
func (k *Kit) List(name string) []string {
	return SplitList(k.gha.GetInput(name))
}

// OneOf returns an input that must be one of the choices.
func (k *Kit) OneOf(name, def string, choices ...string) string {
	v := k.String(name, def)
	for _, c := range choices {
		if v == c {
			return v
		}
	}
	k.inputErr(name, "%q is not one of %s", v, strings.Join(choices, ", "))
	return def
}

// SplitList splits on newlines and commas.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// InputErrors returns every input problem found so far, or nil.
func (k *Kit) InputErrors() error { return k.errs.ErrorOrNil() }

// SetOutput sets a step output. Outside a runner (no GITHUB_OUTPUT) the
// output is printed instead: go-githubactions would panic on the missing file.
func (k *Kit) SetOutput(name, value string) {
	if k.getenv("GITHUB_OUTPUT") == "" {
		k.Logf("output %s=%s", name, value)
		return
	}
	k.gha.SetOutput(name, value)
}

// Mask hides a value in the log from now on.
func (k *Kit) Mask(value string) {
	if strings.TrimSpace(value) != "" {
		k.gha.AddMask(value)
	}
}

// Group runs fn inside a collapsible log group.
func (k *Kit) Group(title string, fn func() error) error {
	k.gha.Group(title)
	defer k.gha.EndGroup()
	return fn()
}

// Annotation is an error, warning or notice, optionally at a file position.
type Annotation struct {
	Level   string // error, warning, notice
	File    string
	Line    int
	Col     int
	Title   string
	Message string
}

// Annotate emits an annotation; past GitHub's limit per level it is kept for
// the summary instead of being lost.
func (k *Kit) Annotate(a Annotation) {
	k.counts[a.Level]++
	if k.counts[a.Level] > AnnotationLimit {
		k.hidden = append(k.hidden, a)
		return
	}
	fields := map[string]string{}
	if a.File != "" {
		fields["file"] = a.File
	}
	if a.Line > 0 {
		fields["line"] = strconv.Itoa(a.Line)
	}
	if a.Col > 0 {
		fields["col"] = strconv.Itoa(a.Col)
	}
	if a.Title != "" {
		fields["title"] = a.Title
	}
	g := k.gha.WithFieldsMap(fields)
	switch a.Level {
	case "error":
		g.Errorf("%s", a.Message)
	case "warning":
		g.Warningf("%s", a.Message)
	default:
		g.Noticef("%s", a.Message)
	}
}

// Summary appends Markdown to the step summary (written by Flush).
func (k *Kit) Summary(markdown string) {
	k.summary.WriteString(markdown)
	if !strings.HasSuffix(markdown, "\n") {
		k.summary.WriteByte('\n')
	}
}

// Table renders a Markdown table; cells are escaped.
func Table(headers []string, rows [][]string) string {
	var b strings.Builder
	esc := func(s string) string {
		return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
	}
	b.WriteString("| ")
	for i, h := range headers {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(esc(h))
	}
	b.WriteString(" |\n|")
	for range headers {
		b.WriteString(" --- |")
	}
	b.WriteByte('\n')
	for _, r := range rows {
		b.WriteString("| ")
		for i := range headers {
			if i > 0 {
				b.WriteString(" | ")
			}
			if i < len(r) {
				b.WriteString(esc(r[i]))
			}
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// Flush writes the step summary, including the annotations over the limit.
func (k *Kit) Flush() {
	if len(k.hidden) > 0 {
		var rows [][]string
		for _, a := range k.hidden {
			loc := a.File
			if a.Line > 0 {
				loc += ":" + strconv.Itoa(a.Line)
			}
			rows = append(rows, []string{a.Level, loc, a.Message})
		}
		k.Summary(fmt.Sprintf("\n<details><summary>%d more annotations (GitHub shows %d per level)</summary>\n\n%s\n</details>\n",
			len(k.hidden), AnnotationLimit, Table([]string{"level", "where", "message"}, rows)))
	}
	if k.summary.Len() > 0 {
		if k.getenv("GITHUB_STEP_SUMMARY") != "" {
			k.gha.AddStepSummary(k.summary.String())
		} else {
			// Outside a runner (go run ./actions/x) the summary is the report.
			fmt.Fprintf(k.out, "\n--- step summary ---\n%s", k.summary.String())
		}
	}
	k.summary.Reset()
	k.hidden = nil
}

// SummaryText is the summary written so far (for tests and dry runs).
func (k *Kit) SummaryText() string { return k.summary.String() }

// Main runs an action's body: input errors and a returned error fail the step
// with exit code 1, after the summary is written.
func Main(run func(k *Kit) error, opts ...Option) int {
	k := New(opts...)
	err := run(k)
	if ierr := k.InputErrors(); ierr != nil {
		all := multierror.Append(ierr, err)
		all.ErrorFormat = listErrors
		err = all.ErrorOrNil()
	}
	if err != nil {
		msg := err.Error()
		k.Summary("\n**Step failed:** " + strings.ReplaceAll(msg, "\n", " ") + "\n")
		// The reason counts against the error cap like any annotation; past
		// it, the log and the summary still carry it.
		if k.counts["error"] < AnnotationLimit {
			k.Annotate(Annotation{Level: "error", Message: msg})
		} else {
			k.Logf("Error: %s", msg)
		}
	}
	k.Flush()
	if err != nil {
		return 1
	}
	return 0
}
