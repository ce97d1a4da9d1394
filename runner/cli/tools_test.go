package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestToolsListAndAddFrom(t *testing.T) {
	cache := t.TempDir()
	code, out, errOut := gantry(t, "tools", "list", "--tool-cache", cache)
	if code != 0 || !strings.Contains(out, "go ") || !strings.Contains(errOut, "tool cache: added go") {
		t.Fatalf("list: %d\n%s\n%s", code, out, errOut)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "mytool"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = gantry(t, "tools", "add", "mytool", "2.1.0", "--from", src, "--tool-cache", cache)
	if code != 0 || !strings.Contains(out, "added mytool 2.1.0") {
		t.Fatalf("add --from: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = gantry(t, "tools", "list", "--tool-cache", cache)
	if code != 0 || !strings.Contains(out, "mytool  2.1.0") || !strings.Contains(out, filepath.Join(cache, "mytool", "2.1.0")) {
		t.Errorf("list after add: %d\n%s", code, out)
	}
	code, out, _ = gantry(t, "tools", "add", "python", "3.12.1", "--from", src, "--tool-cache", cache)
	if code != 0 || !strings.Contains(out, filepath.Join(cache, "Python", "3.12.1")) {
		t.Errorf("python goes where setup-python looks, Python/: %d %s", code, out)
	}
	code, _, errOut = gantry(t, "tools", "add", "mytool", "2.1.0", "--tool-cache", cache)
	if code != ExitUsage || !strings.Contains(errOut, "--from DIR") {
		t.Errorf("add without a source: %d %s", code, errOut)
	}
	code, _, errOut = gantry(t, "tools", "add", "mytool", "two", "--from", src, "--tool-cache", cache)
	if code != ExitFailure || !strings.Contains(errOut, "explicit version") {
		t.Errorf("add with a bad version: %d %s", code, errOut)
	}
}

// TestRunGetsToolCacheFromConfig: .gantry.yml names the tool cache (shared
// by runs, seeded) and turns the docker socket off.
func TestRunGetsToolCacheFromConfig(t *testing.T) {
	wf := "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: echo \"cache=$RUNNER_TOOL_CACHE\"; ls \"$RUNNER_TOOL_CACHE\"\n"
	dir := repoWith(t, map[string]string{
		".github/workflows/ci.yml": wf,
		".gantry.yml":              "tool-cache: tc\ndocker-socket: off\n",
	})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	if want := "cache=" + filepath.Join(dir, "tc"); !strings.Contains(out, want) || !strings.Contains(out, "go\n") && !strings.Contains(out, " go") {
		t.Errorf("output lacks %q and a seeded go:\n%s", want, out)
	}
	code, out, errOut = gantry(t, "run", "-C", dir, "--workdir", t.TempDir(), "--docker-socket", filepath.Join(dir, "nope.sock"))
	if code != ExitUsage || !strings.Contains(errOut, "nope.sock") {
		t.Errorf("a missing socket: %d\n%s\n%s", code, out, errOut)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gantry.yml"), []byte("tool-cache: [a]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != ExitUsage || !strings.Contains(errOut, ".gantry.yml") {
		t.Errorf("a bad tool-cache value: %d %s", code, errOut)
	}
}
