package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func gantry(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func repoWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestExprCommand(t *testing.T) {
	code, out, _ := gantry(t, "expr", "format('{0}-{1}', github.ref_name, matrix.os)", "--contexts", writeJSON(t, `{"github":{"ref_name":"main"},"matrix":{"os":"linux"}}`))
	if code != 0 || strings.TrimSpace(out) != `{"kind":"String","value":"main-linux"}` {
		t.Errorf("code %d out %s", code, out)
	}
	// Every top-level key of the file is a named value; objects keep their order.
	named := writeJSON(t, `{"foo":{"b":1,"a":{"y":true,"x":null}},"Other":[1]}`)
	for src, want := range map[string]string{
		"foo.*":               `{"kind":"Array","value":[1,{"y":true,"x":null}]}`,
		"foo":                 `{"kind":"Object","value":{"b":1,"a":{"y":true,"x":null}}}`,
		"toJSON(foo.a)":       `{"kind":"String","value":"{\n  \"y\": true,\n  \"x\": null\n}"}`,
		"other[0] == 1":       `{"kind":"Boolean","value":true}`,
		"github.sha":          `{"error":{"kind":"parsing","message":"Unrecognized named-value: 'github'. Located at position 1 within expression: github.sha"}}`,
		"'ı' == 'I'":          `{"kind":"Boolean","value":false}`,
		"format('{0', foo.b)": `{"error":{"kind":"evaluation","message":"The following format string is invalid: {0"}}`,
	} {
		_, out, _ := gantry(t, "expr", src, "--contexts", named)
		if strings.TrimSpace(out) != want {
			t.Errorf("%s: got %s want %s", src, out, want)
		}
	}
	if code, _, _ := gantry(t, "expr", "1", "--contexts", writeJSON(t, `[1]`)); code != 2 {
		t.Errorf("a non-object contexts file: exit %d, want 2", code)
	}
	code, out, _ = gantry(t, "expr", "${{ 1 == }}")
	if code != 1 || !strings.Contains(out, `"kind":"parsing"`) {
		t.Errorf("parse error: code %d out %s", code, out)
	}
	code, out, _ = gantry(t, "expr", "fromJSON('{')")
	if code != 1 || !strings.Contains(out, `"kind":"evaluation"`) {
		t.Errorf("evaluation error: code %d out %s", code, out)
	}
}

func writeJSON(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "ctx.json")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateCommand(t *testing.T) {
	dir := repoWith(t, map[string]string{
		"warn.yml": "on:\n  workflow_dispatch:\n    unknown-key: x\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
		"good.yml": "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
		"bad.yml":  "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ nope }}\n",
	})
	code, _, errOut := gantry(t, "validate", filepath.Join(dir, "good.yml"))
	if code != 0 || errOut != "" {
		t.Errorf("good: code %d err %s", code, errOut)
	}
	// GitHub ignores unknown keys under an event: a warning, and still valid.
	code, _, errOut = gantry(t, "validate", filepath.Join(dir, "warn.yml"))
	if want := filepath.Join(dir, "warn.yml") + `:3:5: warning: unknown key "unknown-key" for event "workflow_dispatch" is ignored`; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("warn: code %d err %q, want %q", code, errOut, want)
	}
	code, _, errOut = gantry(t, "validate", filepath.Join(dir, "bad.yml"))
	want := filepath.Join(dir, "bad.yml") + ":6:14: Unrecognized named-value: 'nope'. Located at position 1 within expression: nope"
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("bad: code %d err %q, want %q", code, errOut, want)
	}
}

const wfOK = `
on: [push, workflow_dispatch]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "hello ${{ secrets.TOKEN }} ${{ vars.COLOR }}"
  test:
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo "cell ${{ matrix.n }}"
`

func TestRunCommand(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": wfOK})
	code, out, errOut := gantry(t, "run", "-C", dir, "-P", "ubuntu-latest=host", "-s", "TOKEN=hunter2", "--var", "COLOR=blue", "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"[build]", "hello *** blue", "cell 1", "cell 2", "JOB", "test (2)", "success"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("secret leaked")
	}
	code, out, _ = gantry(t, "run", "-C", dir, "-l")
	if code != 0 || !strings.Contains(out, "test") || !strings.Contains(out, "build") {
		t.Errorf("list: %d %s", code, out)
	}
	code, out, _ = gantry(t, "run", "-C", dir, "-n", "-P", "ubuntu-latest=host", "-j", "build", "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "*DRYRUN*") || strings.Contains(out, "cell 1") {
		t.Errorf("dry run: %d %s", code, out)
	}
	code, _, errOut = gantry(t, "run", "pull_request", "-C", dir)
	if code != 0 || !strings.Contains(errOut, "not triggered by pull_request") {
		t.Errorf("untriggered: %d %s", code, errOut)
	}
}

func TestRunExitCodes(t *testing.T) {
	failing := repoWith(t, map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  x:\n    runs-on: self-hosted\n    steps:\n      - run: exit 4\n"})
	if code, out, _ := gantry(t, "run", "-C", failing, "--workdir", t.TempDir()); code != 1 || !strings.Contains(out, "failure") {
		t.Errorf("failing job: code %d\n%s", code, out)
	}
	invalid := repoWith(t, map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  x:\n    runz-on: self-hosted\n"})
	if code, _, errOut := gantry(t, "run", "-C", invalid); code != 2 || !strings.Contains(errOut, "ci.yml:4:5: Unexpected value 'runz-on'") {
		t.Errorf("invalid workflow: code %d\n%s", code, errOut)
	}
	if code, _, errOut := gantry(t, "run", "--bogus-flag"); code != 2 || !strings.Contains(errOut, "bogus") {
		t.Errorf("bad flag: code %d %s", code, errOut)
	}
	dispatch := repoWith(t, map[string]string{".github/workflows/d.yml": "on:\n  workflow_dispatch:\n    inputs:\n      level: {required: true}\njobs:\n  x:\n    runs-on: self-hosted\n    steps:\n      - run: echo ${{ inputs.level }}\n"})
	if code, _, errOut := gantry(t, "run", "workflow_dispatch", "-C", dispatch); code != 2 || !strings.Contains(errOut, "--input level=") {
		t.Errorf("missing input: code %d %s", code, errOut)
	}
	if code, out, _ := gantry(t, "run", "workflow_dispatch", "-C", dispatch, "--input", "level=debug", "--workdir", t.TempDir()); code != 0 || !strings.Contains(out, "  debug") {
		t.Errorf("input given: code %d %s", code, out)
	}
	badEvent := filepath.Join(t.TempDir(), "ev.json")
	_ = os.WriteFile(badEvent, []byte("{\"a\": }"), 0o644)
	if code, _, errOut := gantry(t, "run", "-C", dispatch, "-e", badEvent); code != 2 || !strings.Contains(errOut, "ev.json:1:") {
		t.Errorf("bad event file: code %d %s", code, errOut)
	}
}

// TestInterrupt sends Ctrl-C to a real gantry process: the running step's
// process tree dies, the always() step runs, and gantry exits 1.
func TestInterrupt(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gantry")
	build := exec.Command("go", "build", "-o", bin, "../cmd/gantry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  x:
    runs-on: self-hosted
    steps:
      - run: |
          sleep 300 &
          echo $! > ` + pidFile + `
          wait
      - if: always()
        run: echo always-ran
`})
	var out bytes.Buffer
	cmd := exec.Command(bin, "run", "-C", dir, "--workdir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if b, _ := os.ReadFile(pidFile); len(bytes.TrimSpace(b)) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Errorf("exit: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "always-ran") {
		t.Errorf("always() step did not run:\n%s", out.String())
	}
	b, _ := os.ReadFile(pidFile)
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &pid); err == nil && pid > 0 {
		time.Sleep(200 * time.Millisecond)
		if syscall.Kill(pid, 0) == nil {
			stat, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
			if !strings.Contains(string(stat), ") Z") {
				t.Errorf("background process %d survived Ctrl-C", pid)
			}
		}
	}
}

func TestNoEngineSaysSoAndSuggestsHost(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n"})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 1 || !strings.Contains(out, "no Docker engine answers at unix:///nonexistent/docker.sock") || !strings.Contains(out, "-P <label>=host") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = gantry(t, "run", "-C", dir, "-P", "ubuntu-latest=host", "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "  hi") {
		t.Errorf("with -P host: code %d\n%s", code, out)
	}
}
