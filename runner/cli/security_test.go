package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/runstate"
)

// TestMain keeps run records of this package's runs in a folder of its
// own, so its tests never judge (or clean) another program's runs.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-cli-state-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_STATE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// gantryBin builds the real binary once for the tests that signal it.
func gantryBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gantry-sec-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "gantry")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/gantry").CombinedOutput(); err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build gantry: %v", binErr)
	}
	return binPath
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func dockerOrSkip(t *testing.T) *container.Engine {
	t.Helper()
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if !e.ImageExists(context.Background(), "gantry/debian:bookworm") {
		e.Close()
		t.Skip("gantry/debian:bookworm missing: run scripts/setup.sh")
	}
	return e
}

// A workflow with a host job whose step leaves background processes and a
// container job with a named volume: everything a killed run can leave.
const leftoverWorkflow = `
on: push
jobs:
  host:
    runs-on: self-hosted
    steps:
      - run: |
          sleep 300 &
          (sleep 300 &) 
          echo host-started
          wait
  ctr:
    runs-on: ubuntu-latest
    container:
      image: gantry/debian:bookworm
      volumes: ["gantry-sec-vol-${{ github.run_id }}:/data"]
    steps:
      - run: echo ctr-started; sleep 300
`

// records reads every run record of a state folder.
func records(t *testing.T, state string) []runstate.Record {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(state, "gantry", "runs", "*.json"))
	var out []runstate.Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r runstate.Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// leftovers counts, by label, tracking id and folder, what records' runs left.
func leftovers(t *testing.T, e *container.Engine, recs []runstate.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		for _, id := range r.RunIDs {
			left, err := e.Leftovers(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, left...)
		}
		for _, p := range runstate.Processes(r.Tracking) {
			out = append(out, "process "+itoa(p))
		}
		if _, err := os.Stat(r.WorkRoot); err == nil {
			out = append(out, "folder "+r.WorkRoot)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func startRun(t *testing.T, bin, repo, state string) (*exec.Cmd, *lockedBuf) {
	t.Helper()
	out := &lockedBuf{}
	cmd := exec.Command(bin, "run", "-C", repo)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

func waitFor(out *lockedBuf, words ...string) bool {
	for i := 0; i < 300; i++ {
		all := true
		for _, w := range words {
			all = all && strings.Contains(out.String(), w)
		}
		if all {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Issue 14.8: a run killed at a random moment of set-up or of its steps
// leaves containers, a volume, a folder and processes; `gantry clean`
// finds them by the run's record and removes every one.
func TestKilledRunLeftoversCleaned(t *testing.T) {
	e := dockerOrSkip(t)
	defer e.Close()
	bin := gantryBin(t)
	repo := repoWith(t, map[string]string{".github/workflows/ci.yml": leftoverWorkflow})
	for trial := 0; trial < 2; trial++ {
		state := t.TempDir()
		cmd, out := startRun(t, bin, repo, state)
		if trial == 0 {
			// Once in the middle of the steps, where the most is left.
			if !waitFor(out, "host-started", "ctr-started") {
				t.Fatalf("steps did not start:\n%s", out.String())
			}
		} else {
			time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		recs := records(t, state)
		if len(recs) == 0 && trial > 0 {
			continue // killed before it recorded itself, so before it made anything
		}
		if len(recs) != 1 {
			t.Fatalf("trial %d: want the killed run's record, got %d", trial, len(recs))
		}
		before := leftovers(t, e, recs)
		if trial == 0 && len(before) < 3 {
			t.Errorf("killed mid-step, expected a container, processes and a folder left; found %v", before)
		}
		var cout, cerr bytes.Buffer
		clean := exec.Command(bin, "clean")
		clean.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
		clean.Stdout, clean.Stderr = &cout, &cerr
		if err := clean.Run(); err != nil {
			t.Fatalf("gantry clean: %v %s", err, cerr.String())
		}
		time.Sleep(100 * time.Millisecond) // let the killed processes be reaped
		if after := leftovers(t, e, recs); len(after) > 0 {
			t.Errorf("trial %d: gantry clean left %v\n%s%s", trial, after, cout.String(), cerr.String())
		}
		if len(before) > 0 && !strings.Contains(cout.String(), "removed what run pid") {
			t.Errorf("trial %d: clean did not report what it removed: %s", trial, cout.String())
		}
		if len(records(t, state)) != 0 {
			t.Errorf("trial %d: record kept after a full clean", trial)
		}
	}
}

// Issue 14.8: the second Ctrl-C exits at once, says what it leaves and the
// command that removes it; the next run removes it.
func TestSecondInterruptReportsLeftoversAndNextRunRemovesThem(t *testing.T) {
	e := dockerOrSkip(t)
	defer e.Close()
	bin := gantryBin(t)
	repo := repoWith(t, map[string]string{".github/workflows/ci.yml": leftoverWorkflow})
	state := t.TempDir()
	cmd, out := startRun(t, bin, repo, state)
	if !waitFor(out, "host-started", "ctr-started") {
		t.Fatalf("steps did not start:\n%s", out.String())
	}
	_ = cmd.Process.Signal(os.Interrupt)
	time.Sleep(20 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want 130\n%s", err, out.String())
	}
	t.Logf("second Ctrl-C said:\n%s", out.String())
	if !strings.Contains(out.String(), "left behind:") || !strings.Contains(out.String(), "gantry clean") {
		t.Errorf("the second Ctrl-C did not say what it left and how to remove it:\n%s", out.String())
	}
	recs := records(t, state)
	if len(recs) != 1 {
		t.Fatalf("want the abandoned run's record, got %d", len(recs))
	}
	// The next run (of a quick workflow) removes it first.
	quick := repoWith(t, map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  q:\n    runs-on: self-hosted\n    steps:\n      - run: echo quick\n"})
	next := exec.Command(bin, "run", "-C", quick)
	next.Env = append(os.Environ(), "XDG_STATE_HOME="+state)
	nout, _ := next.CombinedOutput()
	time.Sleep(100 * time.Millisecond)
	if left := leftovers(t, e, recs); len(left) > 0 {
		t.Errorf("the next run left %v\n%s", left, nout)
	}
	if !strings.Contains(string(nout), "removed what an earlier run") {
		t.Errorf("the next run did not report the removal:\n%s", nout)
	}
}

// Issue 14.10: an unknown event exits 2 naming the closest events.
func TestUnknownEventExits2WithSuggestion(t *testing.T) {
	repo := repoWith(t, map[string]string{".github/workflows/ci.yml": "on: push\njobs:\n  q:\n    runs-on: self-hosted\n    steps:\n      - run: echo\n"})
	code, _, errOut := gantry(t, "run", "pull_requets", "-C", repo)
	if code != 2 || !strings.Contains(errOut, `unknown event "pull_requets"`) || !strings.Contains(errOut, "pull_request") {
		t.Errorf("code %d: %s", code, errOut)
	}
}

// Issues 14.1 and 14.9 through the commands: validate and run refuse a
// traversal and an alias bomb with a position, fast.
func TestValidateAndRunRefuseHostileWorkflows(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("on: push\njobs:\n  j:\n    runs-on: self-hosted\n    strategy:\n      matrix:\n        k0: &k0 [1, 2, 3, 4, 5, 6, 7, 8, 9]\n")
	for i := 1; i < 8; i++ {
		p := "*k" + itoa(i-1)
		bomb.WriteString("        k" + itoa(i) + ": &k" + itoa(i) + " [" + strings.TrimSuffix(strings.Repeat(p+", ", 9), ", ") + "]\n")
	}
	bomb.WriteString("    steps:\n      - run: echo\n")
	repo := repoWith(t, map[string]string{
		".github/workflows/bomb.yml":     bomb.String(),
		".github/workflows/traverse.yml": "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - uses: owner/repo@../../../evil\n",
	})
	wf := filepath.Join(repo, ".github", "workflows")
	code, out, errOut := gantry(t, "validate", wf)
	all := out + errOut
	if code == 0 || !strings.Contains(all, "bomb.yml:") || !strings.Contains(all, "YAML aliases expand") || !strings.Contains(all, "traverse.yml:6:15:") {
		t.Errorf("validate: code %d\n%s", code, all)
	}
	code, out, errOut = gantry(t, "run", "-C", repo, "--action-cache", t.TempDir())
	if code != 2 || !strings.Contains(out+errOut, "traverse.yml:6:15:") {
		t.Errorf("run: code %d\n%s%s", code, out, errOut)
	}
}

// waitRecord waits until the running gantry's record names a Docker run id
// (written before anything is created under it) and returns it.
func waitRecord(t *testing.T, state string) runstate.Record {
	t.Helper()
	for i := 0; i < 200; i++ {
		if recs := records(t, state); len(recs) == 1 && len(recs[0].RunIDs) > 0 {
			return recs[0]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the run wrote no record")
	return runstate.Record{}
}

// Issues 14.7 and 14.8: one Ctrl-C at a random moment of set-up or steps
// cancels cleanly: afterwards nothing is left under the run's labels, no
// step process survives, the work folder and the record are gone.
func TestInterruptAtRandomMomentsLeavesNothing(t *testing.T) {
	e := dockerOrSkip(t)
	defer e.Close()
	bin := gantryBin(t)
	repo := repoWith(t, map[string]string{".github/workflows/ci.yml": leftoverWorkflow})
	for trial := 0; trial < 2; trial++ {
		state := t.TempDir()
		cmd, out := startRun(t, bin, repo, state)
		rec := waitRecord(t, state)
		delay := time.Duration(rand.IntN(1500)) * time.Millisecond
		time.Sleep(delay)
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		time.Sleep(100 * time.Millisecond)
		if left := leftovers(t, e, []runstate.Record{rec}); len(left) > 0 {
			t.Errorf("trial %d, Ctrl-C after %s: left %v\n%s", trial, delay, left, out.String())
			// Leave the machine clean for the next test all the same.
			r := rec
			_, _ = (&r).Clean(context.Background(), e)
		}
		if n := len(records(t, state)); n != 0 {
			t.Errorf("trial %d: %d records kept after a clean exit", trial, n)
		}
	}
}
