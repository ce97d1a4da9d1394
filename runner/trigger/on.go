// Package trigger owns a workflow's on: key: parsing it, deciding whether an
// event triggers the workflow, typed inputs, event payloads and the github
// context.
package trigger

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/internal/suggest"
)

// Error is a problem in on:, at a position of the workflow file.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

// On is a parsed on: key.
type On struct {
	Events map[string]*Filter
	Order  []string // events as written
	// Warnings are problems GitHub ignores, such as unknown keys under an
	// event: the workflow still runs.
	Warnings []error
}

// Filter is what one event of on: says.
type Filter struct {
	Node           *yaml.Node
	Branches       []string
	BranchesIgnore []string
	Tags           []string
	TagsIgnore     []string
	Paths          []string
	PathsIgnore    []string
	Types          []string
	Workflows      []string // workflow_run
	Crons          []string // schedule
	Inputs         []*Input
	Outputs        []*Output // workflow_call
	Secrets        []string  // workflow_call secret names, as written
	SecretSpecs    []*Secret // workflow_call secrets with their settings

	has map[string]bool // which filter keys were written (an empty list still counts)
}

// Input is a workflow_dispatch or workflow_call input.
type Input struct {
	Name        string
	Description string
	Type        string // string, boolean, number, choice, environment
	Required    bool
	Default     string
	HasDefault  bool
	DefaultNode *yaml.Node
	Options     []string
}

// Output is a workflow_call output.
type Output struct {
	Name  string
	Value string
	Node  *yaml.Node
}

// Secret is a workflow_call secret.
type Secret struct {
	Name        string
	Description string
	Required    bool
	Node        *yaml.Node
}

// Default is an input default that may hold an expression, with its node.
type Default struct {
	Value string
	Node  *yaml.Node
}

// Has reports whether the workflow lists the event.
func (o *On) Has(event string) bool {
	_, ok := o.Events[event]
	return ok
}

// CallOutputs lists the outputs of on.workflow_call.
func (o *On) CallOutputs() []*Output {
	if f := o.Events["workflow_call"]; f != nil {
		return f.Outputs
	}
	return nil
}

// InputDefaults lists every input default, for expression checks.
func (o *On) InputDefaults() []Default {
	var out []Default
	for _, ev := range o.Order {
		for _, in := range o.Events[ev].Inputs {
			if in.HasDefault && in.DefaultNode != nil {
				out = append(out, Default{Value: in.Default, Node: in.DefaultNode})
			}
		}
	}
	return out
}

// activityTypes lists the events GitHub documents and their types (nil: the
// event has no types).
var activityTypes = map[string][]string{
	"branch_protection_rule":      {"created", "edited", "deleted"},
	"check_run":                   {"created", "rerequested", "completed", "requested_action"},
	"check_suite":                 {"completed"},
	"create":                      nil,
	"delete":                      nil,
	"deployment":                  nil,
	"deployment_status":           nil,
	"discussion":                  {"created", "edited", "deleted", "transferred", "pinned", "unpinned", "labeled", "unlabeled", "locked", "unlocked", "category_changed", "answered", "unanswered"},
	"discussion_comment":          {"created", "edited", "deleted"},
	"fork":                        nil,
	"gollum":                      nil,
	"image_version":               {"created", "ready"},
	"issue_comment":               {"created", "edited", "deleted"},
	"project":                     {"created", "closed", "reopened", "edited", "deleted"},
	"project_card":                {"created", "moved", "converted", "edited", "deleted"},
	"project_column":              {"created", "updated", "moved", "deleted"},
	"issues":                      {"opened", "edited", "deleted", "transferred", "pinned", "unpinned", "closed", "reopened", "assigned", "unassigned", "labeled", "unlabeled", "locked", "unlocked", "milestoned", "demilestoned", "typed", "untyped", "field_added", "field_removed"},
	"label":                       {"created", "edited", "deleted"},
	"merge_group":                 {"checks_requested"},
	"milestone":                   {"created", "closed", "opened", "edited", "deleted"},
	"page_build":                  nil,
	"public":                      nil,
	"pull_request":                {"assigned", "unassigned", "labeled", "unlabeled", "opened", "edited", "closed", "reopened", "synchronize", "converted_to_draft", "ready_for_review", "locked", "unlocked", "review_requested", "review_request_removed", "auto_merge_enabled", "auto_merge_disabled", "milestoned", "demilestoned", "enqueued", "dequeued"},
	"pull_request_review":         {"submitted", "edited", "dismissed"},
	"pull_request_review_comment": {"created", "edited", "deleted"},
	"pull_request_target":         {"assigned", "unassigned", "labeled", "unlabeled", "opened", "edited", "closed", "reopened", "synchronize", "converted_to_draft", "ready_for_review", "locked", "unlocked", "review_requested", "review_request_removed", "auto_merge_enabled", "auto_merge_disabled", "milestoned", "demilestoned", "enqueued", "dequeued"},
	"push":                        nil,
	"registry_package":            {"published", "updated"},
	"release":                     {"published", "unpublished", "created", "edited", "deleted", "prereleased", "released"},
	"repository_dispatch":         nil, // custom types
	"schedule":                    nil,
	"status":                      nil,
	"watch":                       {"started"},
	"workflow_call":               nil,
	"workflow_dispatch":           nil,
	"workflow_run":                {"completed", "requested", "in_progress"},
}

// defaultTypes are the types an event runs for when on: lists none; every
// other event runs for all its types.
var defaultTypes = map[string][]string{
	"pull_request":        {"opened", "synchronize", "reopened"},
	"pull_request_target": {"opened", "synchronize", "reopened"},
}

// Which filter keys each event accepts.
var eventKeys = map[string][]string{
	"push":                {"branches", "branches-ignore", "tags", "tags-ignore", "paths", "paths-ignore"},
	"pull_request":        {"types", "branches", "branches-ignore", "paths", "paths-ignore"},
	"pull_request_target": {"types", "branches", "branches-ignore", "paths", "paths-ignore"},
	"merge_group":         {"types", "branches", "branches-ignore"},
	"workflow_run":        {"types", "workflows", "branches", "branches-ignore"},
	"workflow_dispatch":   {"inputs"},
	"workflow_call":       {"inputs", "outputs", "secrets"},
	"repository_dispatch": {"types"},
	"image_version":       {"types", "names", "versions"},
}

type parser struct {
	file     string
	errs     []error
	warnings []error
}

func (p *parser) warnf(n *yaml.Node, format string, args ...any) {
	p.warnings = append(p.warnings, &Error{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// ParseOn parses the on: node of a workflow file.
func ParseOn(file string, node *yaml.Node) (*On, []error) {
	p := &parser{file: file}
	on := &On{Events: map[string]*Filter{}}
	for node != nil && (node.Kind == yaml.AliasNode || node.Kind == yaml.DocumentNode && len(node.Content) == 1) {
		if node.Kind == yaml.AliasNode {
			node = node.Alias
		} else {
			node = node.Content[0]
		}
	}
	if node == nil {
		p.errs = append(p.errs, &Error{File: file, Line: 1, Col: 1, Msg: "on: is missing; add the events that trigger the workflow, e.g. `on: push`"})
		return on, p.errs
	}
	add := func(n *yaml.Node, name string) *Filter {
		if strings.Contains(name, "${{") {
			p.errorf(n, "A template expression is not allowed in this context")
			return nil
		}
		if _, ok := activityTypes[name]; !ok {
			names := make([]string, 0, len(activityTypes))
			for k := range activityTypes {
				names = append(names, k)
			}
			sort.Strings(names)
			hint := ""
			if c := closest(name, names); c != "" {
				hint = fmt.Sprintf("; did you mean %q?", c)
			}
			p.errorf(n, "unknown event %q in on:%s", name, hint)
			return nil
		}
		if _, dup := on.Events[name]; dup {
			p.errorf(n, "event %q is listed twice in on:", name)
			return nil
		}
		f := &Filter{Node: n, has: map[string]bool{}}
		on.Events[name] = f
		on.Order = append(on.Order, name)
		return f
	}
	switch node.Kind {
	case yaml.ScalarNode:
		add(node, node.Value)
	case yaml.SequenceNode:
		for _, e := range node.Content {
			if e.Kind != yaml.ScalarNode {
				p.errorf(e, "on: list entries must be event names")
				continue
			}
			add(e, e.Value)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			f := add(k, k.Value)
			if f == nil {
				continue
			}
			p.filter(k.Value, f, v)
		}
	default:
		p.errorf(node, "on: must be an event name, a list of events or a mapping of events")
	}
	if len(on.Events) == 0 && len(p.errs) == 0 {
		p.errorf(node, "on: lists no events; add e.g. `on: push`")
	}
	on.Warnings = p.warnings
	return on, p.errs
}

func (p *parser) filter(event string, f *Filter, v *yaml.Node) {
	for v != nil && v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	if v == nil || v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return
	}
	if event == "schedule" {
		if v.Kind != yaml.SequenceNode {
			p.errorf(v, "on.schedule must be a list of `- cron: '...'` entries")
			return
		}
		for _, e := range v.Content {
			if e.Kind != yaml.MappingNode {
				p.errorf(e, "schedule entries must be mappings with cron:")
				continue
			}
			for i := 0; i+1 < len(e.Content); i += 2 {
				k, c := e.Content[i], e.Content[i+1]
				switch k.Value {
				case "cron":
					if err := checkCron(c.Value); err != nil {
						p.errorf(c, "invalid cron %q: %v", c.Value, err)
					}
					f.Crons = append(f.Crons, c.Value)
				case "timezone":
				default:
					p.errorf(k, "Unexpected value '%s': unknown key in schedule entry (expected cron)", k.Value)
				}
			}
		}
		return
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "on.%s must be a mapping of filters or empty", event)
		return
	}
	keys := eventKeys[event]
	if keys == nil && activityTypes[event] != nil {
		keys = []string{"types"}
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, e := v.Content[i], v.Content[i+1]
		if !contains(keys, k.Value) {
			// GitHub ignores keys it does not know under an event.
			if len(keys) == 0 {
				p.warnf(k, "event %q takes no filters; %q is ignored", event, k.Value)
			} else {
				p.warnf(k, "unknown key %q for event %q is ignored (known: %s)", k.Value, event, strings.Join(keys, ", "))
			}
			continue
		}
		f.has[k.Value] = true
		switch k.Value {
		case "branches":
			f.Branches = p.patterns(e, event, k.Value)
		case "branches-ignore":
			f.BranchesIgnore = p.patterns(e, event, k.Value)
		case "tags":
			f.Tags = p.patterns(e, event, k.Value)
		case "tags-ignore":
			f.TagsIgnore = p.patterns(e, event, k.Value)
		case "paths":
			f.Paths = p.patterns(e, event, k.Value)
		case "paths-ignore":
			f.PathsIgnore = p.patterns(e, event, k.Value)
		case "workflows":
			f.Workflows = p.strings(e, "workflows")
		case "names", "versions":
			p.strings(e, k.Value)
		case "types":
			f.Types = p.strings(e, "types")
			if known := activityTypes[event]; known != nil {
				for j, t := range f.Types {
					if !contains(known, t) {
						p.errorf(typeNode(e, j), "unknown type %q for event %q (expected one of: %s)", t, event, strings.Join(known, ", "))
					}
				}
			}
		case "inputs":
			f.Inputs = p.inputs(e, event)
		case "outputs":
			f.Outputs = p.outputs(e)
		case "secrets":
			p.secrets(e, f)
		}
	}
	for _, pair := range [][2]string{{"branches", "branches-ignore"}, {"tags", "tags-ignore"}, {"paths", "paths-ignore"}} {
		if f.has[pair[0]] && f.has[pair[1]] {
			p.errorf(v, "on.%s cannot use both %s and %s; use %s with ! patterns instead", event, pair[0], pair[1], pair[0])
		}
	}
}

func typeNode(seq *yaml.Node, i int) *yaml.Node {
	if seq.Kind == yaml.SequenceNode && i < len(seq.Content) {
		return seq.Content[i]
	}
	return seq
}

func (p *parser) strings(n *yaml.Node, what string) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				p.errorf(e, "%s entries must be strings", what)
				continue
			}
			out = append(out, e.Value)
		}
		return out
	}
	p.errorf(n, "%s must be a string or a list of strings", what)
	return nil
}

func (p *parser) patterns(n *yaml.Node, event, key string) []string {
	list := p.strings(n, key)
	for i, s := range list {
		if _, err := compile(s); err != nil {
			p.errorf(typeNode(n, i), "on.%s.%s: %v", event, key, err)
		}
	}
	return list
}

var inputTypes = []string{"string", "boolean", "number", "choice", "environment"}

func (p *parser) inputs(n *yaml.Node, event string) []*Input {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // inputs: with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "on.%s.inputs must be a mapping of input names", event)
		return nil
	}
	var out []*Input
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		in := &Input{Name: k.Value, Type: "string"}
		out = append(out, in)
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "input %q must be a mapping (description, required, default, type)", k.Value)
			continue
		}
		typeSet := false
		for j := 0; j+1 < len(v.Content); j += 2 {
			ik, iv := v.Content[j], v.Content[j+1]
			switch ik.Value {
			case "description":
				in.Description = iv.Value
			case "required":
				if iv.Tag != "!!bool" {
					p.errorf(iv, "input %q: required must be true or false", in.Name)
				}
				in.Required = iv.Value == "true"
			case "default":
				in.Default, in.HasDefault, in.DefaultNode = iv.Value, true, iv
			case "type":
				typeSet = true
				in.Type = iv.Value
				allowed := inputTypes
				if event == "workflow_call" {
					allowed = []string{"string", "boolean", "number"}
				}
				if !contains(allowed, iv.Value) {
					p.errorf(iv, "Unexpected value '%s': input %q: type must be one of %s", iv.Value, in.Name, strings.Join(allowed, ", "))
				}
			case "options":
				in.Options = p.strings(iv, "options")
			case "deprecationMessage":
				if event != "workflow_dispatch" {
					p.errorf(ik, "Unexpected value 'deprecationMessage': only workflow_dispatch inputs take deprecationMessage")
				}
			default:
				p.errorf(ik, "Unexpected value '%s': unknown key in input %q (expected description, required, default, type, options)", ik.Value, in.Name)
			}
		}
		if event == "workflow_call" && !typeSet {
			p.errorf(v, "Required property is missing: type (workflow_call input %q needs a type: string, boolean or number)", in.Name)
		}
		if in.Type == "choice" {
			if len(in.Options) == 0 {
				p.errorf(k, "choice input %q needs options", in.Name)
			} else if in.HasDefault && !contains(in.Options, in.Default) {
				p.errorf(in.DefaultNode, "default %q of input %q is not one of its options %v", in.Default, in.Name, in.Options)
			}
		}
		if in.Type == "boolean" && in.HasDefault && in.Default != "true" && in.Default != "false" && !strings.Contains(in.Default, "${{") {
			p.errorf(in.DefaultNode, "default of boolean input %q must be true or false", in.Name)
		}
	}
	return out
}

func (p *parser) outputs(n *yaml.Node) []*Output {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "on.workflow_call.outputs must be a mapping")
		return nil
	}
	var out []*Output
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		o := &Output{Name: k.Value}
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "output %q must be a mapping with value:", k.Value)
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			switch v.Content[j].Value {
			case "value":
				o.Value, o.Node = v.Content[j+1].Value, v.Content[j+1]
			case "description":
			default:
				p.errorf(v.Content[j], "Unexpected value '%s': unknown key in workflow_call output %q (expected description, value)", v.Content[j].Value, o.Name)
			}
		}
		if o.Node == nil {
			p.errorf(v, "Required property is missing: value (workflow_call output %q needs a value:)", o.Name)
		}
		out = append(out, o)
	}
	return out
}

func (p *parser) secrets(n *yaml.Node, f *Filter) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "on.workflow_call.secrets must be a mapping of secret names")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sec := &Secret{Name: k.Value, Node: k}
		f.Secrets = append(f.Secrets, k.Value)
		f.SecretSpecs = append(f.SecretSpecs, sec)
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.errorf(v, "secret %q must be a mapping (description, required) or empty", k.Value)
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			sk, sv := v.Content[j], v.Content[j+1]
			switch sk.Value {
			case "description":
				sec.Description = sv.Value
			case "required":
				if sv.Tag != "!!bool" {
					p.errorf(sv, "secret %q: required must be true or false", sec.Name)
				}
				sec.Required = sv.Value == "true"
			default:
				p.errorf(sk, "Unexpected value '%s': unknown key in workflow_call secret %q (expected description, required)", sk.Value, sec.Name)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// closest suggests the known key nearest to a misspelt one.
func closest(s string, known []string) string { return suggest.Closest(s, known) }
