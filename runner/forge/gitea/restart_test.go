package gitea_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/gitea"
	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// TestMain lets the test binary play a runner process that a test kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GANTRY_TEST_RUNNER_DIR"); dir != "" {
		os.Exit(childRunner(dir))
	}
	os.Exit(m.Run())
}

func childRunner(dir string) int {
	cfg, creds, err := selfhosted.Load(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	labels, _ := selfhosted.ParseLabels(cfg.Labels)
	p := newProto(nil)
	if os.Getenv("GANTRY_TEST_TIMING") == "default" {
		p.Timing = gitea.DefaultTiming
	}
	r := &selfhosted.Runner{
		Protocol: p, Creds: creds, Labels: labels, Dir: dir, Grace: time.Minute,
		Executor: &selfhosted.Executor{Labels: labels, WorkRoot: filepath.Join(dir, "work")},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	if err := r.Run(stop); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestRunnerKilledMidJobReportsItFailedAfterRestart(t *testing.T) {
	srv := giteatest.New(t)
	srv.AddRegistrationToken("regtoken")
	dir := t.TempDir()
	p := newProto(nil)
	creds, err := p.Register(context.Background(), forge.Registration{URL: srv.URL, Token: "regtoken", Name: "dies", Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := selfhosted.Save(dir, &selfhosted.Config{Forge: "gitea", URL: srv.URL, Name: "dies", Labels: []string{"self-hosted:host"}}, creds); err != nil {
		t.Fatal(err)
	}
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"}, Workflow: wf("self-hosted", "    steps:\n      - run: echo started; sleep 60; echo not-reached\n")})

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GANTRY_TEST_RUNNER_DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Wait(ctx, func(s *giteatest.Server) bool { return strings.Contains(logText(s.Task(id)), "started") }); err != nil {
		t.Fatal("the child runner did not start the job")
	}
	// The whole process group: the runner and the job's sleep.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	if entries, _ := os.ReadDir(filepath.Join(dir, "inflight")); len(entries) != 1 {
		t.Fatalf("in-flight records after the kill: %v", entries)
	}

	startRunner(t, srv, runnerOpts{dir: dir, creds: creds, labels: []string{"self-hosted:host"}})
	task := waitDone(t, srv, id, 30*time.Second)
	if task.Result != runnerv1.Result_RESULT_FAILURE || task.Picks != 1 {
		t.Errorf("task %v, picked %d times", task.Result, task.Picks)
	}
	if log := logText(task); !strings.Contains(log, "the runner stopped while it ran this job") || strings.Contains(log, "not-reached") {
		t.Errorf("log:\n%s", log)
	}
	if err := srv.Wait(ctx, func(*giteatest.Server) bool {
		entries, _ := os.ReadDir(filepath.Join(dir, "inflight"))
		return len(entries) == 0
	}); err != nil {
		t.Error("the in-flight record stayed")
	}
}
