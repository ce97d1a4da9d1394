package jobenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunExitCodeAndExactEnv(t *testing.T) {
	h := NewHost()
	var out bytes.Buffer
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	exit, err := h.Run(context.Background(), Process{
		Argv: []string{bash, "-c", "echo \"A=$A HOME=${HOME:-unset}\"; exit 7"},
		Dir:  t.TempDir(), Env: map[string]string{"A": "1"}, Stdout: &out, Stderr: &out,
	})
	if err != nil || exit != 7 {
		t.Fatalf("exit %d err %v", exit, err)
	}
	if got := strings.TrimSpace(out.String()); got != "A=1 HOME=unset" {
		t.Errorf("env not exact: %q", got)
	}
}

func TestCancelKillsProcessTree(t *testing.T) {
	h := NewHost()
	h.Grace = 200 * time.Millisecond
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pids")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 100; i++ {
			if b, _ := os.ReadFile(pidFile); strings.Count(string(b), "\n") >= 2 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	// A child that ignores SIGTERM and a grandchild in the background.
	script := `sh -c 'trap "" TERM; sleep 300 & echo $! >> ` + pidFile + `; wait' & echo $! >> ` + pidFile + `; wait`
	start := time.Now()
	exit, err := h.Run(ctx, Process{Argv: []string{"/bin/sh", "-c", script}, Dir: dir, Env: map[string]string{"PATH": os.Getenv("PATH")}, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	if err == nil || exit != -1 {
		t.Errorf("cancelled run: exit %d err %v", exit, err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancellation took %s", time.Since(start))
	}
	b, _ := os.ReadFile(pidFile)
	for _, f := range strings.Fields(string(b)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err != nil {
			continue
		}
		deadline := time.Now().Add(3 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d survived cancellation", pid)
		}
	}
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func TestShellCommand(t *testing.T) {
	look := func(name string) (string, error) { return "/bin/" + name, nil }
	tests := []struct {
		shell string
		want  string
	}{
		{"", "/bin/bash -e /s"},
		{"bash", "/bin/bash --noprofile --norc -eo pipefail /s"},
		{"sh", "/bin/sh -e /s"},
		{"python", "/bin/python /s"},
		{"pwsh", "/bin/pwsh -command . '/s'"},
		{"perl -w {0}", "/bin/perl -w /s"},
	}
	for _, tt := range tests {
		argv, err := ShellCommand(tt.shell, "/s", look)
		if err != nil || strings.Join(argv, " ") != tt.want {
			t.Errorf("ShellCommand(%q) = %v, %v; want %s", tt.shell, argv, err, tt.want)
		}
	}
	for _, bad := range []string{"cmd", "powershell", "perl -w"} {
		if _, err := ShellCommand(bad, "/s", look); err == nil {
			t.Errorf("ShellCommand(%q) should fail", bad)
		}
	}
	if ScriptExtension("python") != ".py" || ScriptExtension("pwsh") != ".ps1" || ScriptExtension("bash") != ".sh" {
		t.Error("script extensions wrong")
	}
}

func TestLookPathUsesGivenPath(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "mytool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := NewHost()
	if p, err := h.LookPath(context.Background(), "mytool", dir); err != nil || p != tool {
		t.Errorf("LookPath = %q, %v", p, err)
	}
	if _, err := h.LookPath(context.Background(), "mytool", "/usr/bin"); err == nil {
		t.Error("found a tool outside the given PATH")
	}
}

func BenchmarkHostRunTrue(b *testing.B) {
	h := NewHost()
	env := map[string]string{"PATH": os.Getenv("PATH")}
	for i := 0; i < b.N; i++ {
		if exit, err := h.Run(context.Background(), Process{Argv: []string{"/bin/true"}, Env: env, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}); err != nil || exit != 0 {
			b.Fatal(exit, err)
		}
	}
}
