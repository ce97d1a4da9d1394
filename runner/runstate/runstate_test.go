package runstate

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeDocker struct{ left map[string][]string }

func (f *fakeDocker) Leftovers(_ context.Context, id string) ([]string, error) {
	return f.left[id], nil
}
func (f *fakeDocker) Cleanup(_ context.Context, id string) error { delete(f.left, id); return nil }

// A record whose process is gone is stale; its processes (found by the
// tracking id in their environment), folder and Docker resources are
// removed by Clean, and the record with them. A live record is left alone.
func TestStaleRecordCleaned(t *testing.T) {
	dir := t.TempDir()
	live, err := Begin(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer live.End()
	if stale, _ := Stale(dir); len(stale) != 0 {
		t.Fatalf("this process's own record is stale: %+v", stale[0])
	}

	// A record as a killed run leaves it: a pid that is gone.
	work := filepath.Join(t.TempDir(), "work")
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := &Record{ID: "dead", PID: gone.Process.Pid, Start: 1, Started: time.Now(), RunIDs: []string{"r1"},
		WorkRoot: work, Tracking: "gantry_test_" + t.Name(), Host: hostname(), PIDNS: pidNS(), path: filepath.Join(dir, "dead.json")}
	if err := dead.save(); err != nil {
		t.Fatal(err)
	}
	// An orphan step process carrying the dead run's tracking id.
	orphan := exec.Command("sleep", "60")
	orphan.Env = append(os.Environ(), TrackingEnv+"="+dead.Tracking)
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = orphan.Wait(); close(exited) }()
	defer func() { _ = orphan.Process.Kill() }()

	stale, err := Stale(dir)
	if err != nil || len(stale) != 1 || stale[0].ID != "dead" {
		t.Fatalf("Stale = %v, %v", stale, err)
	}
	d := &fakeDocker{left: map[string][]string{"r1": {"container abc", "network n"}}}
	left, err := stale[0].Clean(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Docker) != 2 || len(left.Processes) != 1 || left.Processes[0] != orphan.Process.Pid || len(left.Dirs) != 1 {
		t.Errorf("found %+v", left)
	}
	if !strings.Contains(left.String(), "container abc") || !strings.Contains(left.String(), "folder "+work) {
		t.Errorf("report %q", left.String())
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("the orphan process survived Clean")
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work folder kept: %v", err)
	}
	if len(d.left) != 0 {
		t.Errorf("docker clean-up not called: %v", d.left)
	}
	if _, err := os.Stat(filepath.Join(dir, "dead.json")); !os.IsNotExist(err) {
		t.Errorf("record kept after a full clean")
	}
}

// A record from another pid namespace (or host) is never judged by pids here.
func TestForeignRecordsNotJudged(t *testing.T) {
	dir := t.TempDir()
	b, _ := json.Marshal(Record{ID: "x", PID: 999999, Start: 1, Host: hostname(), PIDNS: "pid:[1]"})
	if err := os.WriteFile(filepath.Join(dir, "x.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if stale, _ := Stale(dir); len(stale) != 0 {
		t.Errorf("a record of another pid namespace was judged dead")
	}
}
