package trigger

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestMatchMore(t *testing.T) {
	commits := func(ref string, files ...string) Event {
		return Event{Name: "push", Payload: map[string]any{"ref": ref, "commits": []any{
			map[string]any{"added": []any{files[0]}, "modified": []any{}, "removed": []any{}},
			map[string]any{"modified": toAny(files[1:])},
		}}}
	}
	tests := []struct {
		name string
		on   string
		ev   Event
		want bool
		why  string
	}{
		{"paths only: tags run", "push: {paths: ['src/**']}", push("refs/tags/v1"), true, ""},
		{"paths not evaluated for tags", "push: {tags: ['v*'], paths: ['src/**']}", push("refs/tags/v1", "README.md"), true, ""},
		{"branches and paths both needed", "push: {branches: [main], paths: ['src/**']}", push("refs/heads/main", "README.md"), false, "no changed file matches paths"},
		{"payload commits match", "push: {paths: ['src/**']}", commits("refs/heads/main", "README.md", "src/a.go"), true, ""},
		{"payload commits miss", "push: {paths: ['src/**']}", commits("refs/heads/main", "README.md", "docs/x"), false, "no changed file matches"},
		{"ChangedFiles win over payload", "push: {paths: ['src/**']}", func() Event {
			e := commits("refs/heads/main", "src/a", "src/b")
			e.ChangedFiles = []string{"x"}
			return e
		}(), false, ""},
		{"paths-ignore negation", "push: {paths-ignore: ['docs/**', '!docs/api/**']}", push("refs/heads/main", "docs/api/x.md"), true, ""},
		{"branch reason", "push: {branches: [main]}", push("refs/heads/dev"), false, `branch "dev" matches none of [main]`},
		{"not listed reason", "[push, issues]", Event{Name: "release"}, false, "does not list release"},
		{"repository_dispatch types", "repository_dispatch: {types: [deploy]}", Event{Name: "repository_dispatch", Payload: map[string]any{"action": "deploy"}}, true, ""},
		{"repository_dispatch other type", "repository_dispatch: {types: [deploy]}", Event{Name: "repository_dispatch", Payload: map[string]any{"action": "test"}}, false, `"test" is not in types`},
		{"repository_dispatch event_type", "repository_dispatch: {types: [deploy]}", Event{Name: "repository_dispatch", Payload: map[string]any{"event_type": "deploy"}}, true, ""},
		{"workflow_run all types by default", "workflow_run: {workflows: [CI]}", Event{Name: "workflow_run", Payload: map[string]any{"action": "in_progress", "workflow": map[string]any{"name": "CI"}}}, true, ""},
		{"workflow_run other workflow", "workflow_run: {workflows: [CI]}", Event{Name: "workflow_run", Payload: map[string]any{"action": "completed", "workflow": map[string]any{"name": "Lint"}}}, false, "not in workflows"},
		{"workflow_run head branch", "workflow_run: {workflows: [CI], branches: [main]}", Event{Name: "workflow_run", Payload: map[string]any{"workflow": map[string]any{"name": "CI"}, "workflow_run": map[string]any{"head_branch": "dev"}}}, false, "head branch"},
		{"types without action", "issues: {types: [opened]}", Event{Name: "issues", Payload: map[string]any{}}, false, "pass a payload with -e"},
		{"pr target base", "pull_request_target: {branches-ignore: [main]}", Event{Name: "pull_request_target", Payload: map[string]any{"action": "opened", "pull_request": map[string]any{"base": map[string]any{"ref": "main"}}}}, false, "ignored"},
		{"merge_group base", "merge_group: {branches: [main]}", Event{Name: "merge_group", Payload: map[string]any{"action": "checks_requested", "merge_group": map[string]any{"base_ref": "refs/heads/main"}}}, true, ""},
		{"schedule", "schedule: [{cron: '0 0 * * *'}]", Event{Name: "schedule"}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			on := parseOn(t, tt.on)
			got, why := on.Match(tt.ev)
			if got != tt.want {
				t.Fatalf("Match = %v (%s), want %v", got, why, tt.want)
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("reason %q does not contain %q", why, tt.why)
			}
		})
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func TestPayloadChangedFiles(t *testing.T) {
	p := map[string]any{"commits": []any{
		map[string]any{"added": []any{"a"}, "modified": []any{"b"}, "removed": []any{"c"}},
		map[string]any{"modified": []any{"a", "d"}},
	}}
	if got := PayloadChangedFiles(p); !reflect.DeepEqual(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("got %v", got)
	}
	if got := PayloadChangedFiles(map[string]any{"commits": []any{}}); got != nil {
		t.Errorf("no commits should be unknown, got %v", got)
	}
	if got := PayloadChangedFiles(map[string]any{"commits": []any{map[string]any{"added": []any{}}}}); got == nil || len(got) != 0 {
		t.Errorf("empty lists should be known and empty, got %#v", got)
	}
}

func TestParseOnForms(t *testing.T) {
	on := parseOn(t, "push")
	if !on.Has("push") || len(on.Order) != 1 {
		t.Errorf("scalar: %v", on.Order)
	}
	on = parseOn(t, "[push, pull_request, workflow_dispatch]")
	if !reflect.DeepEqual(on.Order, []string{"push", "pull_request", "workflow_dispatch"}) {
		t.Errorf("list: %v", on.Order)
	}
	on = parseOn(t, `
push:
  branches: [main]
  tags: 'v*'
pull_request:
  types: [opened, labeled]
  paths: ['src/**']
workflow_dispatch:
  inputs:
    env:
      description: Where
      type: environment
      required: true
    level: {type: choice, options: [a, b], default: b}
workflow_call:
  inputs:
    n: {type: number, default: 3}
  outputs:
    url: {description: URL, value: '${{ jobs.deploy.outputs.url }}'}
  secrets:
    token: {required: true}
    other:
issues:
schedule:
  - cron: '*/15 1-5 * JAN-mar mon-FRI'
  - cron: '0 0 1,15 * 0,7'
workflow_run:
  workflows: [CI, 'Build *']
  types: completed
`)
	if got := on.Events["push"]; !reflect.DeepEqual(got.Branches, []string{"main"}) || !reflect.DeepEqual(got.Tags, []string{"v*"}) {
		t.Errorf("push %+v", got)
	}
	if got := on.Events["pull_request"]; !reflect.DeepEqual(got.Types, []string{"opened", "labeled"}) || !reflect.DeepEqual(got.Paths, []string{"src/**"}) {
		t.Errorf("pull_request %+v", got)
	}
	d := on.Events["workflow_dispatch"].Inputs
	if len(d) != 2 || d[0].Name != "env" || d[0].Type != "environment" || !d[0].Required || d[0].Description != "Where" || d[1].Default != "b" || !reflect.DeepEqual(d[1].Options, []string{"a", "b"}) {
		t.Errorf("dispatch inputs %+v %+v", d[0], d[1])
	}
	call := on.Events["workflow_call"]
	if len(call.Inputs) != 1 || call.Inputs[0].Type != "number" || len(call.Outputs) != 1 || call.Outputs[0].Value != "${{ jobs.deploy.outputs.url }}" {
		t.Errorf("workflow_call %+v", call)
	}
	if !reflect.DeepEqual(call.Secrets, []string{"token", "other"}) || !call.SecretSpecs[0].Required || call.SecretSpecs[1].Required {
		t.Errorf("secrets %v %+v", call.Secrets, call.SecretSpecs)
	}
	if got := on.Events["schedule"].Crons; len(got) != 2 {
		t.Errorf("crons %v", got)
	}
	if got := on.Events["workflow_run"]; !reflect.DeepEqual(got.Workflows, []string{"CI", "Build *"}) || !reflect.DeepEqual(got.Types, []string{"completed"}) {
		t.Errorf("workflow_run %+v", got)
	}
	if len(on.InputDefaults()) != 2 || len(on.CallOutputs()) != 1 {
		t.Errorf("defaults %v outputs %v", on.InputDefaults(), on.CallOutputs())
	}
}

func TestParseOnErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"pushh", `w.yml:1:1: unknown event "pushh" in on:; did you mean "push"?`},
		{"[push, pul_request]", `w.yml:1:8: unknown event "pul_request" in on:; did you mean "pull_request"?`},
		{"push:\n  branches: [main]\n  branches-ignore: [dev]", "w.yml:2:3: on.push cannot use both branches and branches-ignore"},
		{"push:\n  paths: [a]\n  paths-ignore: [b]", "cannot use both paths and paths-ignore"},
		{"push:\n  branches: ['a[']", "w.yml:2:14: on.push.branches: pattern \"a[\" has an unclosed ["},
		{"pull_request:\n  types: [opened, merged]", `w.yml:2:19: unknown type "merged" for event "pull_request"`},
		{"schedule:\n  - cron: '* * *'", "w.yml:2:11: invalid cron \"* * *\": need 5 fields"},
		{"schedule:\n  - cron: '60 * * * *'", "60 is out of range 0-59"},
		{"schedule:\n  - cron: '* * * * MON-XYZ'", `"XYZ" is not a number from 0 to 6 or a name`},
		{"schedule:\n  - cron: '*/0 * * * *'", "step \"0\" must be a number"},
		{"schedule:\n  - cron: '5-1 * * * *'", "backwards"},
		{"schedule:\n  - cron: '1,,2 * * * *'", "empty list entry"},
		{"schedule: daily", "on.schedule must be a list"},
		{"workflow_dispatch:\n  inputs:\n    a: {type: text}", `Unexpected value 'text': input "a": type must be one of string, boolean, number, choice, environment`},
		{"workflow_dispatch:\n  inputs:\n    a: {type: choice}", `choice input "a" needs options`},
		{"workflow_dispatch:\n  inputs:\n    a: {type: choice, options: [x], default: y}", `default "y" of input "a" is not one of its options`},
		{"workflow_dispatch:\n  inputs:\n    a: {type: boolean, default: maybe}", "default of boolean input \"a\" must be true or false"},
		{"workflow_dispatch:\n  inputs:\n    a: {required: yes}", "required must be true or false"},
		{"workflow_call:\n  inputs:\n    a: {default: x}", `workflow_call input "a" needs a type`},
		{"workflow_call:\n  inputs:\n    a: {type: choice, options: [x]}", `type must be one of string, boolean, number`},
		{"workflow_call:\n  outputs:\n    o: {description: x}", `workflow_call output "o" needs a value:`},
		{"workflow_call:\n  secrets:\n    s: {requird: true}", `Unexpected value 'requird': unknown key in workflow_call secret "s"`},
		{"[push, push]", `event "push" is listed twice`},
		{"[]", "on: lists no events"},
		{"push: [main]", "on.push must be a mapping of filters or empty"},
	}
	for _, tt := range tests {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		_, errs := ParseOn("w.yml", doc.Content[0])
		var all []string
		for _, e := range errs {
			all = append(all, e.Error())
		}
		if !strings.Contains(strings.Join(all, "\n"), tt.want) {
			t.Errorf("ParseOn(%q) errors %q, want one containing %q", tt.src, all, tt.want)
		}
	}
	// Unknown keys under an event are warnings: GitHub ignores them.
	for src, want := range map[string]string{
		"push:\n  branch: [main]":                 `w.yml:2:3: unknown key "branch" for event "push" is ignored`,
		"create:\n  branches: [x]":                `event "create" takes no filters; "branches" is ignored`,
		"workflow_dispatch:\n  unknown-key: asdf": `unknown key "unknown-key" for event "workflow_dispatch" is ignored`,
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatal(err)
		}
		on, errs := ParseOn("w.yml", doc.Content[0])
		if len(errs) != 0 || len(on.Warnings) != 1 || !strings.Contains(on.Warnings[0].Error(), want) {
			t.Errorf("ParseOn(%q) = errors %v, warnings %v; want one warning containing %q", src, errs, on.Warnings, want)
		}
	}
	if _, errs := ParseOn("w.yml", nil); len(errs) != 1 {
		t.Errorf("nil node: %v", errs)
	}
}

func TestInputsMore(t *testing.T) {
	on := parseOn(t, `
workflow_call:
  inputs:
    n: {type: number}
    b: {type: boolean}
    s: {type: string, default: hi}
`)
	in, err := on.Inputs("workflow_call", map[string]string{"n": "2.5", "b": "false"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, map[string]any{"n": 2.5, "b": false, "s": "hi"}) {
		t.Errorf("inputs %#v", in)
	}
	if _, err := on.Inputs("workflow_call", map[string]string{"n": "two"}); err == nil || !strings.Contains(err.Error(), `input "n" is a number`) {
		t.Errorf("bad number: %v", err)
	}
	in, err = on.Inputs("workflow_call", nil)
	if err != nil || in["b"] != false || in["s"] != "hi" {
		t.Errorf("defaults %#v %v", in, err)
	}
}

func TestGitHubContextFromPayload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir() // not a git repository
	pr := map[string]any{
		"action": "opened", "number": float64(12),
		"repository": map[string]any{"full_name": "acme/rocket", "id": float64(99), "owner": map[string]any{"login": "acme", "id": float64(5)}},
		"sender":     map[string]any{"login": "mona", "id": float64(7)},
		"pull_request": map[string]any{
			"head": map[string]any{"ref": "feature", "sha": "abc123"},
			"base": map[string]any{"ref": "main", "sha": "def456"},
		},
	}
	c := GitHubContext(ctx, ContextOptions{EventName: "pull_request", Payload: pr, RepoDir: dir, RunID: "1", RunNumber: "3", Job: "build",
		WorkflowPath: filepath.Join(dir, ".github/workflows/ci.yml")})
	want := map[string]any{
		"repository": "acme/rocket", "repository_owner": "acme", "ref": "refs/pull/12/merge", "ref_name": "12/merge",
		"ref_type": "branch", "head_ref": "feature", "base_ref": "main", "sha": "abc123", "actor": "mona",
		"event_name": "pull_request", "run_attempt": "1", "run_number": "3", "job": "build", "repository_id": "99",
		"repository_owner_id": "5", "actor_id": "7", "api_url": "https://api.github.com", "graphql_url": "https://api.github.com/graphql",
		"server_url": "https://github.com", "retention_days": "90",
		"workflow_ref": "acme/rocket/.github/workflows/ci.yml@refs/pull/12/merge",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("github.%s = %#v, want %#v", k, c[k], v)
		}
	}
	c = GitHubContext(ctx, ContextOptions{EventName: "pull_request_target", Payload: pr, RepoDir: dir})
	if c["ref"] != "refs/heads/main" || c["sha"] != "def456" || c["head_ref"] != "feature" {
		t.Errorf("pull_request_target ref %v sha %v", c["ref"], c["sha"])
	}
	c = GitHubContext(ctx, ContextOptions{EventName: "release", Payload: map[string]any{"release": map[string]any{"tag_name": "v1.2"}}, RepoDir: dir})
	if c["ref"] != "refs/tags/v1.2" || c["ref_type"] != "tag" || c["ref_name"] != "v1.2" {
		t.Errorf("release %v %v %v", c["ref"], c["ref_type"], c["ref_name"])
	}
	c = GitHubContext(ctx, ContextOptions{EventName: "issues", Payload: map[string]any{"repository": map[string]any{"default_branch": "trunk"}}, RepoDir: dir,
		ServerURL: "https://ghe.example.com"})
	if c["ref"] != "refs/heads/trunk" || c["api_url"] != "https://ghe.example.com/api/v3" || c["graphql_url"] != "https://ghe.example.com/api/graphql" {
		t.Errorf("issues on GHES: %v %v %v", c["ref"], c["api_url"], c["graphql_url"])
	}
	if c["repository"] != "local/"+filepath.Base(dir) || c["actor"] == "" || c["sha"] != strings.Repeat("0", 40) {
		t.Errorf("non-git defaults: %v %v %v", c["repository"], c["actor"], c["sha"])
	}
}

func TestPayloadFor(t *testing.T) {
	info := Repo{Repository: "acme/rocket", SHA: "abc", Ref: "refs/heads/feature", DefaultBranch: "main", User: "Mona"}
	p := PayloadFor("push", info)
	if p["ref"] != "refs/heads/feature" || p["after"] != "abc" || str(p, "repository", "full_name") != "acme/rocket" ||
		str(p, "sender", "login") != "Mona" || str(p, "head_commit", "id") != "abc" {
		t.Errorf("push payload %v", p)
	}
	p = PayloadFor("pull_request", info)
	if str(p, "pull_request", "head", "ref") != "feature" || str(p, "pull_request", "base", "ref") != "main" || p["action"] != "opened" {
		t.Errorf("pull_request payload %v", p)
	}
	on := parseOn(t, "pull_request: {branches: [main]}")
	if ok, why := on.Match(Event{Name: "pull_request", Payload: p}); !ok {
		t.Errorf("default pull_request payload does not trigger a main-branch workflow: %s", why)
	}
	p = PayloadFor("create", Repo{Repository: "a/b", Ref: "refs/tags/v1"})
	if p["ref"] != "v1" || p["ref_type"] != "tag" {
		t.Errorf("create payload %v", p)
	}
	if tag := str(PayloadFor("release", info), "release", "tag_name"); tag == "" || strings.HasPrefix(tag, "refs/") {
		t.Errorf("release tag %q", tag)
	}
}

func TestChangedFilesFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	write := func(name, data string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q", "-b", "main")
	write("README.md", "a")
	write("src/a.go", "a")
	run("add", ".")
	run("commit", "-qm", "one")
	write("src/a.go", "b")
	write("docs/new.md", "x")
	run("rm", "-q", "README.md")
	run("add", ".")
	run("commit", "-qm", "two")
	ctx := context.Background()
	files, err := ChangedFilesFromGit(ctx, dir, "HEAD~1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(files, []string{"README.md", "docs/new.md", "src/a.go"}) {
		t.Errorf("files %v", files)
	}
	on := parseOn(t, "push: {paths: ['src/**']}")
	if ok, why := on.Match(Event{Name: "push", Payload: map[string]any{"ref": "refs/heads/main"}, ChangedFiles: files}); !ok {
		t.Errorf("paths filter: %s", why)
	}
	if _, err := ChangedFilesFromGit(ctx, dir, "nope", "HEAD"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad revision: %v", err)
	}
	info := RepoInfo(ctx, dir)
	if info.Message != "two" || info.DefaultBranch != "main" || info.Ref != "refs/heads/main" {
		t.Errorf("repo info %+v", info)
	}
}

func TestLoadPayload(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := LoadPayload(write("ok.json", `{"ref": "refs/heads/main", "n": 1}`))
	if err != nil || p["ref"] != "refs/heads/main" || p["n"] != 1.0 {
		t.Errorf("payload %v %v", p, err)
	}
	for name, data := range map[string]string{"array.json": "[1]", "null.json": "null", "trunc.json": `{"a":`} {
		path := write(name, data)
		if _, err := LoadPayload(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
