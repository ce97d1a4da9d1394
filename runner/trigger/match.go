package trigger

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/internal/ghglob"
)

// Event is something that may trigger a workflow.
type Event struct {
	// Name is the event name, e.g. "push".
	Name string
	// Payload is the webhook payload (github.event).
	Payload map[string]any
	// ChangedFiles are the paths the event changed, for paths filters. nil
	// means unknown: Match then reads the payload's commits[].added, modified
	// and removed, and when those are missing too, paths filters pass.
	ChangedFiles []string
}

func compile(p string) (*ghglob.Pattern, error) { return ghglob.Compile(p) }

// Match reports whether the workflow runs for the event, and if not, why.
func (o *On) Match(ev Event) (bool, string) {
	f, ok := o.Events[ev.Name]
	if !ok {
		return false, fmt.Sprintf("on: does not list %s (it lists %s)", ev.Name, strings.Join(o.Order, ", "))
	}
	p := ev.Payload
	checkPaths := true
	switch ev.Name {
	case "push":
		ref := str(p, "ref")
		if ok, why := f.matchRef(ref); !ok {
			return false, why
		}
		// GitHub does not evaluate path filters for pushes of tags.
		checkPaths = !strings.HasPrefix(ref, "refs/tags/")
	case "pull_request", "pull_request_target", "merge_group":
		base := str(p, "pull_request", "base", "ref")
		if ev.Name == "merge_group" {
			base = strings.TrimPrefix(str(p, "merge_group", "base_ref"), "refs/heads/")
		}
		if ok, why := f.matchBranch(base, "base branch"); !ok {
			return false, why
		}
	case "workflow_run":
		if len(f.Workflows) > 0 {
			name := str(p, "workflow", "name")
			if name == "" {
				name = str(p, "workflow_run", "name")
			}
			matched := false
			for _, w := range f.Workflows {
				if ok, _ := ghglob.MatchList([]string{w}, name); ok {
					matched = true
				}
			}
			if !matched {
				return false, fmt.Sprintf("workflow_run of %q is not in workflows %v", name, f.Workflows)
			}
		}
		if ok, why := f.matchBranch(str(p, "workflow_run", "head_branch"), "head branch"); !ok {
			return false, why
		}
	}
	action := str(p, "action")
	if ev.Name == "repository_dispatch" && action == "" {
		action = str(p, "event_type") // the API's field name; webhooks call it action
	}
	if ok, why := f.matchTypes(ev.Name, action); !ok {
		return false, why
	}
	if checkPaths {
		files := ev.ChangedFiles
		if files == nil {
			files = PayloadChangedFiles(p)
		}
		if ok, why := f.matchPaths(files); !ok {
			return false, why
		}
	}
	return true, ""
}

// PayloadChangedFiles collects the paths a push payload's commits added,
// modified or removed, in order without duplicates; nil when the payload
// lists no such commits (the changes are then unknown).
func PayloadChangedFiles(p map[string]any) []string {
	commits, _ := p["commits"].([]any)
	var files []string
	seen := map[string]bool{}
	known := false
	for _, c := range commits {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		for _, key := range []string{"added", "modified", "removed"} {
			list, ok := cm[key].([]any)
			if !ok {
				continue
			}
			known = true
			for _, f := range list {
				if s, ok := f.(string); ok && !seen[s] {
					seen[s] = true
					files = append(files, s)
				}
			}
		}
	}
	if !known {
		return nil
	}
	if files == nil {
		files = []string{}
	}
	return files
}

func (f *Filter) matchTypes(event, action string) (bool, string) {
	types := f.Types
	if !f.has["types"] {
		types = defaultTypes[event]
	}
	if len(types) == 0 || action == "" && !f.has["types"] {
		return true, ""
	}
	if contains(types, action) {
		return true, ""
	}
	if action == "" {
		return false, fmt.Sprintf("the event payload has no action, and on.%s.types is %v; pass a payload with -e whose \"action\" is one of them", event, types)
	}
	return false, fmt.Sprintf("activity type %q is not in types %v", action, types)
}

// matchRef applies push's branch and tag filters: with only branch filters
// tags do not run, and the other way round.
func (f *Filter) matchRef(ref string) (bool, string) {
	hasBranch := f.has["branches"] || f.has["branches-ignore"]
	hasTag := f.has["tags"] || f.has["tags-ignore"]
	switch {
	case strings.HasPrefix(ref, "refs/tags/"):
		tag := strings.TrimPrefix(ref, "refs/tags/")
		if !hasTag {
			if hasBranch {
				return false, fmt.Sprintf("tag %s: only branch filters are set", tag)
			}
			return true, ""
		}
		return listMatch(f.Tags, f.TagsIgnore, f.has["tags"], tag, "tag")
	default:
		branch := strings.TrimPrefix(ref, "refs/heads/")
		if !hasBranch {
			if hasTag {
				return false, fmt.Sprintf("branch %s: only tag filters are set", branch)
			}
			return true, ""
		}
		return listMatch(f.Branches, f.BranchesIgnore, f.has["branches"], branch, "branch")
	}
}

func (f *Filter) matchBranch(branch, what string) (bool, string) {
	if !f.has["branches"] && !f.has["branches-ignore"] {
		return true, ""
	}
	return listMatch(f.Branches, f.BranchesIgnore, f.has["branches"], branch, what)
}

func listMatch(include, ignore []string, useInclude bool, name, what string) (bool, string) {
	if useInclude {
		ok, err := ghglob.MatchList(include, name)
		if err != nil || !ok {
			return false, fmt.Sprintf("%s %q matches none of %v", what, name, include)
		}
		return true, ""
	}
	ok, err := ghglob.MatchList(ignore, name)
	if err == nil && ok {
		return false, fmt.Sprintf("%s %q is ignored by %v", what, name, ignore)
	}
	return true, ""
}

// matchPaths: with paths, some changed file must match; with paths-ignore,
// some changed file must not be ignored. Unknown changes pass.
func (f *Filter) matchPaths(files []string) (bool, string) {
	if files == nil {
		return true, ""
	}
	if f.has["paths"] {
		for _, file := range files {
			if ok, _ := ghglob.MatchList(f.Paths, file); ok {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no changed file matches paths %v", f.Paths)
	}
	if f.has["paths-ignore"] {
		for _, file := range files {
			if ok, _ := ghglob.MatchList(f.PathsIgnore, file); !ok {
				return true, ""
			}
		}
		return false, fmt.Sprintf("every changed file matches paths-ignore %v", f.PathsIgnore)
	}
	return true, ""
}

// Inputs types the given inputs of workflow_dispatch or workflow_call and
// applies defaults. Unknown events have no inputs.
func (o *On) Inputs(event string, given map[string]string) (map[string]any, error) {
	return o.InputsEval(event, given, nil)
}

// InputsEval is Inputs with eval, when not nil, evaluating defaults that
// hold ${{ }} expressions before they are typed.
func (o *On) InputsEval(event string, given map[string]string, eval func(string) (string, error)) (map[string]any, error) {
	out := map[string]any{}
	f := o.Events[event]
	if f == nil {
		for k, v := range given {
			out[k] = v
		}
		return out, nil
	}
	declared := map[string]bool{}
	for _, in := range f.Inputs {
		declared[in.Name] = true
		raw, ok := given[in.Name]
		if !ok {
			if in.Required && !in.HasDefault {
				return nil, fmt.Errorf("input %q is required; pass it with --input %s=VALUE", in.Name, in.Name)
			}
			raw = in.Default
			if eval != nil && strings.Contains(raw, "${{") {
				v, err := eval(raw)
				if err != nil {
					return nil, fmt.Errorf("input %q: default %s: %w", in.Name, raw, err)
				}
				raw = v
			}
			if !in.HasDefault {
				switch in.Type {
				case "boolean":
					out[in.Name] = false
				case "number":
					out[in.Name] = nil
				default:
					out[in.Name] = ""
				}
				continue
			}
		}
		v, err := typed(in, raw)
		if err != nil {
			return nil, err
		}
		out[in.Name] = v
	}
	for k := range given {
		if !declared[k] {
			return nil, fmt.Errorf("input %q is not declared under on.%s.inputs", k, event)
		}
	}
	return out, nil
}

func typed(in *Input, raw string) (any, error) {
	switch in.Type {
	case "boolean":
		switch raw {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
		return nil, fmt.Errorf("input %q is a boolean: pass true or false, not %q", in.Name, raw)
	case "number":
		n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return nil, fmt.Errorf("input %q is a number, not %q", in.Name, raw)
		}
		return n, nil
	case "choice":
		if !contains(in.Options, raw) {
			return nil, fmt.Errorf("input %q must be one of %v, not %q", in.Name, in.Options, raw)
		}
	}
	return raw, nil
}

// str walks a payload path and returns the string there, or "".
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}
