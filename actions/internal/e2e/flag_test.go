package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

const e2eFlags = `{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "new-checkout": {
      "state": "DISABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off"
    },
    "banner": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on"
    }
  }
}
`

// TestFlagUnderRunner runs the flag action as a docker action on the
// repository itself (bound as the workspace): it flips a flagd file, commits
// it with an audit log for a later step to push, then refuses a flip whose
// expect-current no longer holds.
func TestFlagUnderRunner(t *testing.T) {
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	if !e.ImageExists(context.Background(), goImage()) {
		t.Skipf("image %s missing: run scripts/setup.sh", goImage())
	}
	root, _ := filepath.Abs("../../..")
	repo := t.TempDir()
	for _, p := range []string{"Dockerfile", ".dockerignore", "actions/flag/action.yml"} {
		copyPath(t, filepath.Join(root, p), filepath.Join(repo, p))
	}
	if err := os.MkdirAll(filepath.Join(repo, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "flags", "flags.json"), []byte(e2eFlags), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(repo, "dist", "actions")+"/", "./actions/flag", "./actions/dispatch")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build actions: %v %s", err, out)
	}
	wfText := `
on: push
jobs:
  release:
    runs-on: self-hosted
    steps:
      - id: flip
        uses: ./actions/flag
        with:
          flag: new-checkout
          file: flags/flags.json
          state: on
          rollout: 30
          expect-current: off
          commit: local
          audit-log: flags/audit.jsonl
          reason: canary promoted
      - run: |
          echo "flip changed=${{ steps.flip.outputs.changed }} sha=${{ steps.flip.outputs.commit-sha }}"
          echo 'flip previous=${{ steps.flip.outputs.previous-state }}'
          echo 'flip new=${{ steps.flip.outputs.new-state }}'
      - id: refused
        uses: ./actions/flag
        continue-on-error: true
        with:
          flag: new-checkout
          file: flags/flags.json
          state: off
          expect-current: off
          commit: local
          audit-log: flags/audit.jsonl
      - run: echo "refused outcome=${{ steps.refused.outcome }} changed=${{ steps.refused.outputs.changed }}"
`
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repo, ".github", "workflows", "flag.yml")
	if err := os.WriteFile(path, []byte(wfText), 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "flags", ".github")
	git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "flags")

	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := scheduler.Run(ctx, wf, scheduler.Options{
		RepoDir: repo, Bind: true, EventName: "push", Out: out, WorkRoot: t.TempDir(), SummaryDir: t.TempDir(),
		Payload:         map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/shop"}},
		Containers:      dockerbackend.New(e),
		ActionBuildArgs: map[string]string{"GO_IMAGE": goImage(), "RUNTIME_IMAGE": goImage(), "PREBUILT": "1"},
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !res.Success {
		t.Fatalf("run failed:\n%s", out.String())
	}
	log := out.String()

	head := git("rev-parse", "HEAD")
	for _, want := range []string{
		"flip changed=true sha=" + head,
		`flip previous={"key":"new-checkout","enabled":false`,
		`"rollout":30,"rollout-variant":"on"`,
		"refused outcome=failure changed=false",
		"flag new-checkout is not in the expected state (off): enabled is true, expected false; refusing to flip",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
	if files := git("show", "--name-only", "--format=%s", "HEAD"); files != "flag new-checkout: on, rollout none -> 30% on\n\nflags/audit.jsonl\nflags/flags.json" {
		t.Errorf("commit in the checkout:\n%s", files)
	}
	if n := git("rev-list", "--count", "HEAD"); n != "2" {
		t.Errorf("%s commits, want the initial one and the flip", n)
	}
	// The file on the host: only the flag's values changed.
	b, err := os.ReadFile(filepath.Join(repo, "flags", "flags.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"state": "ENABLED",` + "\n" + `      "variants": { "on": true, "off": false },`, `["on", 30]`, `"banner": {` + "\n" + `      "state": "ENABLED"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("flags.json lacks %q:\n%s", want, b)
		}
	}
	a, err := os.ReadFile(filepath.Join(repo, "flags", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(a)), "\n")
	var rec struct {
		Flag, Event, Reason string
		Before, After       struct{ Enabled bool }
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec) != nil {
		t.Fatalf("audit log:\n%s", a)
	}
	if rec.Flag != "new-checkout" || rec.Event != "flip" || rec.Reason != "canary promoted" || rec.Before.Enabled || !rec.After.Enabled {
		t.Errorf("audit record %+v", rec)
	}
	summary, _ := os.ReadFile(res.SummaryPath)
	for _, want := range []string{"| enabled | false | true |", "| rollout | none | 30% on |", "```diff"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}
