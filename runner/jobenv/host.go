package jobenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Host runs processes on this machine, each step in a process group of its
// own so that cancellation reaches every child.
type Host struct {
	// Grace is how long a cancelled process group has between SIGTERM and SIGKILL.
	Grace time.Duration
}

// NewHost returns the host environment.
func NewHost() *Host { return &Host{Grace: 2500 * time.Millisecond} }

// Run implements Env.
func (h *Host) Run(ctx context.Context, p Process) (int, error) {
	if len(p.Argv) == 0 {
		return -1, errors.New("run: empty command")
	}
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = envList(p.Env)
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Background children may keep the output pipes open after the main
	// process ends; do not wait on them forever.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start %s: %w", p.Argv[0], err)
	}
	pgid := cmd.Process.Pid
	done := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		close(killed)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(h.Grace):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
	err := cmd.Wait()
	close(done)
	// Whatever the step left running in its group goes with it, as on GitHub.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-killed:
		return -1, fmt.Errorf("cancelled: %w", context.Cause(ctx))
	default:
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return -1, fmt.Errorf("process killed by signal %s", ws.Signal())
			}
			return ee.ExitCode(), nil
		}
		if errors.Is(err, exec.ErrWaitDelay) {
			return cmd.ProcessState.ExitCode(), nil
		}
		return -1, fmt.Errorf("wait for %s: %w", p.Argv[0], err)
	}
	return 0, nil
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Path implements Env: the host sees its own paths.
func (h *Host) Path(p string) string { return p }

// LookPath implements Env, searching pathEnv rather than gantry's own PATH.
func (h *Host) LookPath(_ context.Context, name, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", fmt.Errorf("%s is not an executable file", name)
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH", name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Close implements Env.
func (h *Host) Close(context.Context) error { return nil }
