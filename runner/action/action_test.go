package action

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/workflow"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  string
	}{
		{"actions/checkout@v4", Ref{Owner: "actions", Repo: "checkout", Version: "v4"}, ""},
		{"org/repo/sub/dir@main", Ref{Owner: "org", Repo: "repo", SubPath: "sub/dir", Version: "main"}, ""},
		{"./.github/actions/x", Ref{Local: "./.github/actions/x"}, ""},
		{"docker://alpine:3", Ref{Image: "alpine:3"}, ""},
		{"actions/checkout", Ref{}, "pin one: actions/checkout@v4"},
		{"checkout@v4", Ref{}, "is not owner/repo@ref"},
		{"./../escape", Ref{}, "leaves the workspace"},
		{"docker://", Ref{}, "names no image"},
	}
	for _, tt := range tests {
		got, err := ParseRef(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRef(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRef(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestSelfCheckout(t *testing.T) {
	r, _ := ParseRef("actions/checkout@v4")
	if !IsSelfCheckout(r, nil, "acme/app") || !IsSelfCheckout(r, map[string]string{"repository": "ACME/app"}, "acme/app") {
		t.Error("self checkout not detected")
	}
	if IsSelfCheckout(r, map[string]string{"repository": "other/lib"}, "acme/app") {
		t.Error("other repository treated as self")
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMetadata(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "action.yaml", `
name: x
inputs:
  who: {description: who, required: true, default: "${{ github.actor }}"}
outputs:
  out: {description: o, value: "${{ steps.a.outputs.v }}"}
runs:
  using: composite
  steps:
    - id: a
      shell: bash
      run: echo v=1 >> "$GITHUB_OUTPUT"
`)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Runs.Using != "composite" || len(m.Runs.Steps) != 1 || m.Inputs[0].Default != "${{ github.actor }}" || m.Outputs[0].Value == "" {
		t.Errorf("metadata %+v", m)
	}
}

func TestMetadataErrors(t *testing.T) {
	tests := map[string]string{
		"runs:\n  using: node10\n  main: x.js\n":                        "2:10: runs.using \"node10\" is not supported",
		"runs:\n  using: node20\n":                                      "2:3: a node20 action needs runs.main",
		"runs:\n  using: composite\n  steps:\n    - run: x\n":           "4:12: step 1: run: steps of a composite action need shell:",
		"name: x\nbogus: 1\nruns: {using: docker, image: Dockerfile}\n": "2:1: unknown key \"bogus\"",
		"name: x\n": "1:1: action metadata has no runs:",
	}
	for src, want := range tests {
		_, err := Parse("action.yml", []byte(src))
		var es workflow.Errors
		if !errors.As(err, &es) || !strings.Contains(err.Error(), "action.yml:"+want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no action.yml, action.yaml or Dockerfile") {
		t.Errorf("missing metadata: %v", err)
	}
}

func TestResolveFromCacheAndMirror(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	cache := t.TempDir()
	write(t, cache, "acme/cached/v1/action.yml", "runs: {using: node20, main: index.js}\n")
	r := &Resolver{CacheDir: cache}
	ref, _ := ParseRef("acme/cached@v1")
	if dir, err := r.Resolve(context.Background(), ref); err != nil || dir != filepath.Join(cache, "acme/cached/v1") {
		t.Errorf("cache: %q %v", dir, err)
	}
	missing, _ := ParseRef("acme/missing@v2")
	if _, err := r.Resolve(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "no mirror is configured") {
		t.Errorf("missing action: %v", err)
	}

	// A mirror: a folder of bare-ish repositories.
	mirror := t.TempDir()
	src := filepath.Join(mirror, "acme", "tool")
	write(t, src, "sub/action.yml", "runs: {using: node20, main: index.js}\n")
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(src, "init", "-q", "-b", "main")
	git(src, "add", ".")
	git(src, "commit", "-qm", "v1")
	git(src, "tag", "v1")
	sha := git(src, "rev-parse", "HEAD")
	r = &Resolver{CacheDir: t.TempDir(), Mirror: mirror}
	for _, uses := range []string{"acme/tool/sub@v1", "acme/tool/sub@" + sha} {
		ref, _ := ParseRef(uses)
		dir, err := r.Resolve(context.Background(), ref)
		if err != nil {
			t.Fatalf("%s: %v", uses, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "action.yml")); err != nil {
			t.Errorf("%s: %v", uses, err)
		}
	}
	bad, _ := ParseRef("acme/tool@nope")
	if _, err := r.Resolve(context.Background(), bad); err == nil {
		t.Error("unknown ref resolved")
	}
	entries, _ := os.ReadDir(filepath.Join(r.CacheDir, "acme", "tool"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".clone-") || e.Name() == "nope" {
			t.Errorf("failed clone left %s behind", e.Name())
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"a/b@v1", "./x", "docker://i", "a/b/c@d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRef(s); err == nil && r.String() == "" {
			t.Fatalf("empty ref from %q", s)
		}
	})
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte("runs: {using: node20, main: a.js}"))
	f.Add([]byte("runs:\n  using: composite\n  steps:\n    - run: x\n      shell: bash\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse("action.yml", data)
	})
}
