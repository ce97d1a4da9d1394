package trigger

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func parseOn(t *testing.T, src string) *On {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	on, errs := ParseOn("w.yml", doc.Content[0])
	if len(errs) > 0 {
		t.Fatalf("ParseOn: %v", errs)
	}
	return on
}

func push(ref string, files ...string) Event {
	return Event{Name: "push", Payload: map[string]any{"ref": ref}, ChangedFiles: files}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		on   string
		ev   Event
		want bool
	}{
		{"plain push", "push", push("refs/heads/x"), true},
		{"other event", "pull_request", push("refs/heads/x"), false},
		{"list", "[push, pull_request]", push("refs/heads/x"), true},
		{"branch match", "push: {branches: [main, 'release/**']}", push("refs/heads/release/v1/rc"), true},
		{"branch miss", "push: {branches: [main]}", push("refs/heads/dev"), false},
		{"branches-ignore", "push: {branches-ignore: ['dev/*']}", push("refs/heads/dev/x"), false},
		{"branches only: tags skip", "push: {branches: [main]}", push("refs/tags/v1"), false},
		{"tags only: branches skip", "push: {tags: ['v*']}", push("refs/heads/main"), false},
		{"tag match", "push: {tags: ['v[0-9]+.*']}", push("refs/tags/v12.1"), true},
		{"tags-ignore", "push: {tags-ignore: ['*-rc']}", push("refs/tags/v1-rc"), false},
		{"negation order", "push: {branches: ['releases/**', '!releases/**-alpha']}", push("refs/heads/releases/1-alpha"), false},
		{"paths match", "push: {paths: ['src/**']}", push("refs/heads/main", "src/a.go", "README.md"), true},
		{"paths miss", "push: {paths: ['src/**']}", push("refs/heads/main", "README.md"), false},
		{"paths unknown", "push: {paths: ['src/**']}", push("refs/heads/main"), true},
		{"paths-ignore all ignored", "push: {paths-ignore: ['docs/**']}", push("refs/heads/main", "docs/a.md"), false},
		{"paths-ignore some left", "push: {paths-ignore: ['docs/**']}", push("refs/heads/main", "docs/a.md", "main.go"), true},
		{"paths negation", "push: {paths: ['sub/**', '!sub/docs/**']}", push("refs/heads/main", "sub/docs/x.md"), false},
		{"pr default types", "pull_request", Event{Name: "pull_request", Payload: map[string]any{"action": "closed"}}, false},
		{"pr default opened", "pull_request", Event{Name: "pull_request", Payload: map[string]any{"action": "opened"}}, true},
		{"pr types", "pull_request: {types: [closed]}", Event{Name: "pull_request", Payload: map[string]any{"action": "closed"}}, true},
		{"pr base branch", "pull_request: {branches: [main]}", Event{Name: "pull_request", Payload: map[string]any{"action": "opened", "pull_request": map[string]any{"base": map[string]any{"ref": "dev"}}}}, false},
		{"issues types", "issues: {types: [labeled]}", Event{Name: "issues", Payload: map[string]any{"action": "opened"}}, false},
		{"workflow_run names", "workflow_run: {workflows: [CI], types: [completed]}", Event{Name: "workflow_run", Payload: map[string]any{"action": "completed", "workflow": map[string]any{"name": "CI"}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.on), &doc); err != nil {
				t.Fatal(err)
			}
			on, errs := ParseOn("w.yml", doc.Content[0])
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got, why := on.Match(tt.ev)
			if got != tt.want {
				t.Errorf("Match = %v (%s), want %v", got, why, tt.want)
			}
			if !got && why == "" {
				t.Errorf("no reason given")
			}
		})
	}
}

func TestInputs(t *testing.T) {
	on := parseOn(t, `
workflow_dispatch:
  inputs:
    level: {type: choice, options: [info, debug], default: info}
    dry: {type: boolean, default: true}
    count: {type: number, default: 2}
    name: {required: true}
`)
	in, err := on.Inputs("workflow_dispatch", map[string]string{"name": "x", "count": "5"})
	if err != nil {
		t.Fatal(err)
	}
	if in["level"] != "info" || in["dry"] != true || in["count"] != 5.0 || in["name"] != "x" {
		t.Errorf("inputs %#v", in)
	}
	if _, err := on.Inputs("workflow_dispatch", map[string]string{}); err == nil || !strings.Contains(err.Error(), "--input name=") {
		t.Errorf("missing required input: %v", err)
	}
	if _, err := on.Inputs("workflow_dispatch", map[string]string{"name": "x", "level": "loud"}); err == nil {
		t.Errorf("bad choice accepted")
	}
	if _, err := on.Inputs("workflow_dispatch", map[string]string{"name": "x", "dry": "maybe"}); err == nil {
		t.Errorf("bad boolean accepted")
	}
	if _, err := on.Inputs("workflow_dispatch", map[string]string{"name": "x", "extra": "1"}); err == nil {
		t.Errorf("undeclared input accepted")
	}
}

func TestLoadPayloadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"ref\": \"x\",\n  oops\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPayload(bad)
	if err == nil || !strings.Contains(err.Error(), bad+":3:") {
		t.Errorf("want a line-numbered error, got %v", err)
	}
	if _, err := LoadPayload(filepath.Join(dir, "missing.json")); err == nil {
		t.Errorf("missing file accepted")
	}
}

func TestGitHubContextFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	run("init", "-q", "-b", "trunk")
	run("config", "user.name", "Mona")
	run("remote", "add", "origin", "git@github.com:acme/rocket.git")
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "a")
	run("commit", "-qm", "first")
	ctx := context.Background()
	c := GitHubContext(ctx, ContextOptions{EventName: "push", Payload: DefaultPayload(ctx, "push", dir), RepoDir: dir, RunID: "7"})
	if c["repository"] != "acme/rocket" || c["repository_owner"] != "acme" || c["ref"] != "refs/heads/trunk" || c["ref_name"] != "trunk" || c["actor"] != "Mona" {
		t.Errorf("context %v", c)
	}
	if sha, _ := c["sha"].(string); len(sha) != 40 || strings.Trim(sha, "0") == "" {
		t.Errorf("sha %v", c["sha"])
	}
	files, err := ChangedFilesFromGit(ctx, dir, "HEAD", "HEAD")
	if err != nil || len(files) != 0 {
		t.Errorf("diff %v %v", files, err)
	}
	nogit := GitHubContext(ctx, ContextOptions{EventName: "push", RepoDir: t.TempDir()})
	if !strings.HasPrefix(nogit["repository"].(string), "local/") {
		t.Errorf("non-git repository %v", nogit["repository"])
	}
}

func FuzzParseOn(f *testing.F) {
	for _, s := range []string{"push", "[push, pull_request]", "push: {branches: [main]}", "schedule: [{cron: '* * * * *'}]", "workflow_dispatch: {inputs: {a: {type: choice}}}",
		"schedule: [{cron: '*/5 1-3 * JAN mon-fri'}]", "workflow_call: {inputs: {a: {type: number, default: 1}}, secrets: {t: {required: true}}}",
		"pull_request: {types: [opened], paths: ['a/**', '!a/b'], branches: ['v[0-9]+']}", "&a push: *a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var doc yaml.Node
		if yaml.Unmarshal([]byte(s), &doc) != nil || len(doc.Content) == 0 {
			return
		}
		on, errs := ParseOn("f.yml", doc.Content[0])
		for _, e := range errs {
			if !strings.HasPrefix(e.Error(), "f.yml:") {
				t.Errorf("error without position: %v", e)
			}
		}
		if on != nil {
			on.Match(Event{Name: "push", Payload: map[string]any{"ref": "refs/heads/main"}, ChangedFiles: []string{"a"}})
			on.Match(Event{Name: "pull_request", Payload: map[string]any{"action": "opened", "pull_request": "x"}})
			_, _ = on.Inputs("workflow_dispatch", map[string]string{"a": "1"})
			_, _ = on.Inputs("workflow_call", nil)
		}
	})
}
