// Package wfcmd parses and carries out workflow commands in step output:
// ::name key=value,key=value::message (and the older ##[name]message form).
package wfcmd

import (
	"fmt"
	"strings"
)

// Command is one parsed workflow command.
type Command struct {
	Name       string
	Properties map[string]string
	Message    string
}

// known lists the commands the runner understands; other ::x:: lines are output.
var known = map[string]bool{
	"add-mask": true, "stop-commands": true, "echo": true, "debug": true, "notice": true,
	"warning": true, "error": true, "group": true, "endgroup": true, "save-state": true,
	"set-output": true, "set-env": true, "add-path": true, "add-matcher": true, "remove-matcher": true,
}

var (
	msgUnescaper  = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	propUnescaper = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%")
)

// Parse recognises a workflow command line. Leading white space is allowed.
func Parse(line string) (Command, bool) {
	s := strings.TrimLeft(line, " \t")
	s = strings.TrimSuffix(s, "\r")
	if strings.HasPrefix(s, "::") {
		return parseV2(s[2:])
	}
	if strings.HasPrefix(s, "##[") {
		return parseV1(s[3:])
	}
	return Command{}, false
}

func parseV2(s string) (Command, bool) {
	end := strings.Index(s, "::")
	if end < 0 {
		return Command{}, false
	}
	head, msg := s[:end], s[end+2:]
	name, props, _ := strings.Cut(head, " ")
	if name == "" {
		return Command{}, false
	}
	c := Command{Name: name, Message: msgUnescaper.Replace(msg)}
	if props = strings.TrimSpace(props); props != "" {
		c.Properties = map[string]string{}
		for _, p := range strings.Split(props, ",") {
			k, v, ok := strings.Cut(p, "=")
			if !ok || strings.TrimSpace(k) == "" {
				continue
			}
			c.Properties[strings.TrimSpace(k)] = propUnescaper.Replace(v)
		}
	}
	return c, true
}

// parseV1 reads ##[name key=value;key=value]message.
func parseV1(s string) (Command, bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return Command{}, false
	}
	head, msg := s[:end], s[end+1:]
	name, props, _ := strings.Cut(head, " ")
	if name == "" {
		return Command{}, false
	}
	c := Command{Name: name, Message: msgUnescaper.Replace(msg)}
	if props = strings.TrimSpace(props); props != "" {
		c.Properties = map[string]string{}
		for _, p := range strings.Split(props, ";") {
			k, v, ok := strings.Cut(p, "=")
			if ok && strings.TrimSpace(k) != "" {
				c.Properties[strings.TrimSpace(k)] = propUnescaper.Replace(v)
			}
		}
	}
	return c, true
}

// Annotation is an error, warning or notice tied (optionally) to a file position.
type Annotation struct {
	Level     string // notice, warning, error
	Message   string
	Title     string
	File      string
	Line      int
	EndLine   int
	Col       int
	EndColumn int
}

// String is file:line:col: level: title: message, leaving out what is unknown.
func (a Annotation) String() string {
	var b strings.Builder
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
	b.WriteString(a.Level)
	b.WriteString(": ")
	if a.Title != "" {
		b.WriteString(a.Title)
		b.WriteString(": ")
	}
	b.WriteString(a.Message)
	return b.String()
}

// EventKind says what a Processor saw.
type EventKind int

// The events a Processor reports.
const (
	EventLine       EventKind = iota // Line is ordinary output
	EventMask                        // Value is to be masked from now on
	EventGroup                       // Value is the group's title
	EventEndGroup                    // the innermost group ends
	EventDebug                       // Value is a debug message
	EventAnnotation                  // Annotation is set
	EventSetOutput                   // Name=Value (deprecated set-output)
	EventSaveState                   // Name=Value (deprecated save-state)
	EventSetEnv                      // Name=Value (set-env, only when unsecure commands are allowed)
	EventAddPath                     // Value is a directory (add-path, likewise)
	EventWarning                     // Value is a runner warning (deprecations)
	EventEcho                        // Line is a command line echoed because ::echo::on
)

// Event is one thing a Processor reports.
type Event struct {
	Kind       EventKind
	Line       string
	Name       string
	Value      string
	Command    Command
	Annotation *Annotation
}

// Processor carries out workflow commands on a step's output lines.
type Processor struct {
	emit func(Event)
	// AllowUnsecure enables set-env and add-path (ACTIONS_ALLOW_UNSECURE_COMMANDS=true).
	AllowUnsecure bool
	stopToken     string
	echo          bool
}

// NewProcessor reports every line's outcome to emit.
func NewProcessor(emit func(Event)) *Processor { return &Processor{emit: emit} }

// Line handles one line of output (without its newline).
func (p *Processor) Line(line string) {
	if p.stopToken != "" {
		if c, ok := Parse(line); ok && c.Name == p.stopToken {
			p.stopToken = ""
			return
		}
		p.emit(Event{Kind: EventLine, Line: line})
		return
	}
	c, ok := Parse(line)
	if !ok || !known[c.Name] {
		p.emit(Event{Kind: EventLine, Line: line})
		return
	}
	if p.echo && c.Name != "add-mask" {
		p.emit(Event{Kind: EventEcho, Line: line, Command: c})
	}
	switch c.Name {
	case "add-mask":
		if strings.TrimSpace(c.Message) != "" {
			p.emit(Event{Kind: EventMask, Value: c.Message, Command: c})
		}
	case "stop-commands":
		if c.Message == "" {
			p.warn("stop-commands needs a token: ::stop-commands::TOKEN")
			return
		}
		p.stopToken = c.Message
	case "echo":
		switch strings.ToLower(strings.TrimSpace(c.Message)) {
		case "on":
			p.echo = true
		case "off":
			p.echo = false
		default:
			p.warn(fmt.Sprintf("::echo:: takes on or off, not %q", c.Message))
		}
	case "debug":
		p.emit(Event{Kind: EventDebug, Value: c.Message, Command: c})
	case "notice", "warning", "error":
		p.emit(Event{Kind: EventAnnotation, Command: c, Annotation: annotation(c)})
	case "group":
		p.emit(Event{Kind: EventGroup, Value: c.Message, Command: c})
	case "endgroup":
		p.emit(Event{Kind: EventEndGroup, Command: c})
	case "set-output", "save-state":
		name := c.Properties["name"]
		if name == "" {
			p.warn(fmt.Sprintf("::%s:: needs a name property", c.Name))
			return
		}
		kind, file := EventSetOutput, "GITHUB_OUTPUT"
		if c.Name == "save-state" {
			kind, file = EventSaveState, "GITHUB_STATE"
		}
		p.warn(fmt.Sprintf("The `%s` command is deprecated and will be disabled soon. Please upgrade to using Environment Files (%s).", c.Name, file))
		p.emit(Event{Kind: kind, Name: name, Value: c.Message, Command: c})
	case "set-env", "add-path":
		if !p.AllowUnsecure {
			p.emit(Event{Kind: EventAnnotation, Command: c, Annotation: &Annotation{Level: "error",
				Message: fmt.Sprintf("The `%s` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`.", c.Name)}})
			return
		}
		if c.Name == "set-env" {
			if name := c.Properties["name"]; name != "" {
				p.emit(Event{Kind: EventSetEnv, Name: name, Value: c.Message, Command: c})
			}
			return
		}
		p.emit(Event{Kind: EventAddPath, Value: c.Message, Command: c})
	case "add-matcher", "remove-matcher":
		// Problem matchers are accepted and ignored for now.
	}
}

func (p *Processor) warn(msg string) { p.emit(Event{Kind: EventWarning, Value: msg}) }

func annotation(c Command) *Annotation {
	a := &Annotation{Level: c.Name, Message: c.Message}
	num := func(keys ...string) int {
		for _, k := range keys {
			if v, ok := c.Properties[k]; ok {
				var n int
				if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &n); err == nil {
					return n
				}
			}
		}
		return 0
	}
	a.Title = c.Properties["title"]
	a.File = c.Properties["file"]
	a.Line = num("line")
	a.EndLine = num("endLine")
	a.Col = num("col")
	a.EndColumn = num("endColumn")
	return a
}
