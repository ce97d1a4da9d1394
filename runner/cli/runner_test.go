package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
)

func runGantry(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func TestRunnerRegisterStartOnceRemove(t *testing.T) {
	srv := giteatest.New(t)
	const regToken = "REGISTRATION-TOKEN-abc123"
	srv.AddRegistrationToken(regToken)
	dir := filepath.Join(t.TempDir(), "runner")

	code, out, errs := runGantry(t, "runner", "register", "--url", srv.URL, "--token", regToken, "--dir", dir,
		"--name", "cli-runner", "--labels", "self-hosted:host,ubuntu-latest:docker://gantry/debian:bookworm")
	if code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errs)
	}
	if !strings.Contains(out, `"cli-runner"`) || !strings.Contains(out, "(gitea)") || strings.Contains(out+errs, regToken) {
		t.Errorf("register output: %q %q", out, errs)
	}
	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials: %v %v", fi, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "credentials.json"))
	rs := srv.Runners()
	if len(rs) != 1 || !strings.Contains(string(data), rs[0].UUID) || strings.Contains(string(data), regToken) {
		t.Errorf("credentials %s for runners %+v", data, rs)
	}
	runnerToken := rs[0].Token
	if strings.Join(rs[0].Labels, ",") != "self-hosted,ubuntu-latest" {
		t.Errorf("labels sent %v", rs[0].Labels)
	}

	if code, _, errs := runGantry(t, "runner", "register", "--url", srv.URL, "--token", regToken, "--dir", dir); code != ExitUsage || !strings.Contains(errs, "already holds a registration") {
		t.Errorf("second register: %d %s", code, errs)
	}

	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Secrets: map[string]string{"S": "sekrit-value"},
		Workflow: "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: echo \"cli ${{ secrets.S }}\"\n"})
	done := make(chan struct{})
	var startOut, startErr string
	go func() {
		defer close(done)
		code, startOut, startErr = runGantry(t, "runner", "start", "--dir", dir, "--once", "--log-format", "json", "--metrics", "127.0.0.1:0")
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("start --once did not return")
	}
	if code != 0 {
		t.Fatalf("start: %d %s %s", code, startOut, startErr)
	}
	task := srv.Task(id)
	if task.Result != runnerv1.Result_RESULT_SUCCESS || !strings.Contains(strings.Join(task.Log, "\n"), "cli ***") {
		t.Errorf("task %v log %v", task.Result, task.Log)
	}
	for _, tok := range []string{runnerToken, regToken, "sekrit-value"} {
		if strings.Contains(startOut+startErr, tok) {
			t.Errorf("the runner's log holds %q:\n%s", tok, startErr)
		}
	}
	if !strings.Contains(startErr, `"msg":"job finished"`) {
		t.Errorf("structured log:\n%s", startErr)
	}

	if code, out, errs := runGantry(t, "runner", "remove", "--dir", dir); code != 0 || !strings.Contains(out, "Removed runner") {
		t.Errorf("remove: %d %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "credentials.json")); !os.IsNotExist(err) {
		t.Errorf("credentials left after remove: %v", err)
	}
	if code, _, errs := runGantry(t, "runner", "start", "--dir", dir); code != ExitUsage || !strings.Contains(errs, "not registered") {
		t.Errorf("start after remove: %d %s", code, errs)
	}
}

func TestRunnerRegisterBadInput(t *testing.T) {
	srv := giteatest.New(t)
	srv.AddRegistrationToken("good")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--token", "x"}, ExitUsage, "--url is required"},
		{[]string{"--url", srv.URL}, ExitUsage, "--token is required"},
		{[]string{"--url", srv.URL, "--token", "good", "--labels", "x:vm://y"}, ExitUsage, "unknown kind"},
		{[]string{"--url", srv.URL, "--token", "good", "--forge", "svn"}, ExitUsage, "unknown forge"},
		{[]string{"--url", srv.URL, "--token", "wrong"}, ExitFailure, "registration token"},
	} {
		args := append([]string{"runner", "register", "--dir", dir}, c.args...)
		code, _, errs := runGantry(t, args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: %d %q, want %d %q", c.args, code, errs, c.code, c.want)
		}
	}
}
