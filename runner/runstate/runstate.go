// Package runstate records who a gantry run is, so that what a killed run
// left behind (Docker resources under its labels, its work folder, step
// processes that outlived it) can be found and removed by a later run or
// by `gantry clean`.
package runstate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/runner/workspace"
)

// TrackingEnv is set in every step process of a run, as GitHub's runner
// sets it, so processes that outlive the run can be found by it.
const TrackingEnv = "RUNNER_TRACKING_ID"

// Record is one gantry process's identity, kept in a file while it runs.
type Record struct {
	ID       string    `json:"id"`
	PID      int       `json:"pid"`
	Start    uint64    `json:"start"` // the process's start time (clock ticks since boot): pids are reused
	Started  time.Time `json:"started"`
	RunIDs   []string  `json:"run_ids"` // values of the gantry.run label of its Docker resources
	WorkRoot string    `json:"work_root,omitempty"`
	Tracking string    `json:"tracking"` // TrackingEnv of its steps
	// Host and PIDNS say where PID means something: a record from another
	// machine sharing the home folder, or another pid namespace, is never
	// judged dead by a pid that happens to be free here.
	Host  string `json:"host"`
	PIDNS string `json:"pid_ns"`

	path string
}

// Dir is where records live: $XDG_STATE_HOME/gantry/runs, else
// ~/.local/state/gantry/runs.
func Dir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "gantry", "runs")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "gantry", "runs")
	}
	return filepath.Join(os.TempDir(), "gantry-runs-"+strconv.Itoa(os.Getuid()))
}

// Begin writes the record of this process into dir.
func Begin(dir, workRoot string) (*Record, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	start, err := startTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	r := &Record{ID: time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:]), PID: os.Getpid(), Start: start,
		Started: time.Now().UTC(), WorkRoot: workRoot, Host: hostname(), PIDNS: pidNS()}
	r.Tracking = "gantry_" + r.ID
	r.path = filepath.Join(dir, r.ID+".json")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("run records: %w", err)
	}
	return r, r.save()
}

// SetWorkRoot records the work folder before it is made, so a kill right
// after its creation still finds it.
func (r *Record) SetWorkRoot(dir string) error {
	r.WorkRoot = dir
	return r.save()
}

// AddRun records a Docker run label before anything is made under it.
func (r *Record) AddRun(runID string) error {
	r.RunIDs = append(r.RunIDs, runID)
	return r.save()
}

// End removes the record: the process cleaned up after itself.
func (r *Record) End() { _ = os.Remove(r.path) }

// save writes the record atomically, so a kill mid-write leaves the old one.
func (r *Record) save() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write run record: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return fmt.Errorf("write run record: %w", err)
	}
	return nil
}

// Alive reports whether the process that wrote the record still runs.
func (r *Record) Alive() bool {
	st, err := startTime(r.PID)
	return err == nil && st == r.Start
}

// Stale returns the records in dir whose process is gone, oldest first.
// Unreadable records are returned too (with only their path known), so
// they are removed rather than kept forever.
func Stale(dir string) ([]*Record, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run records: %w", err)
	}
	var out []*Record
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		r := &Record{path: p}
		if b, err := os.ReadFile(p); err != nil || json.Unmarshal(b, r) != nil {
			r.ID = strings.TrimSuffix(e.Name(), ".json")
		}
		if r.PID > 0 && (r.Host != hostname() || r.PIDNS != pidNS() || r.Alive()) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// Docker is what a clean-up needs of a container engine.
type Docker interface {
	Leftovers(ctx context.Context, runID string) ([]string, error)
	Cleanup(ctx context.Context, runID string) error
}

// Leftovers is what a run left behind.
type Leftovers struct {
	Docker    []string // "container abc", "network x", "volume y"
	Processes []int
	Dirs      []string
}

// Empty reports that nothing is left.
func (l Leftovers) Empty() bool { return len(l.Docker)+len(l.Processes)+len(l.Dirs) == 0 }

func (l Leftovers) String() string {
	var parts []string
	if len(l.Docker) > 0 {
		parts = append(parts, strings.Join(l.Docker, ", "))
	}
	if len(l.Processes) > 0 {
		ps := make([]string, len(l.Processes))
		for i, p := range l.Processes {
			ps[i] = strconv.Itoa(p)
		}
		parts = append(parts, "processes "+strings.Join(ps, " "))
	}
	for _, d := range l.Dirs {
		parts = append(parts, "folder "+d)
	}
	return strings.Join(parts, "; ")
}

// Find lists what the record's run left, without removing anything. d may
// be nil when no engine answers (Docker leftovers are then not known).
func (r *Record) Find(ctx context.Context, d Docker) (Leftovers, error) {
	var l Leftovers
	var errs []error
	if d != nil {
		for _, id := range r.RunIDs {
			left, err := d.Leftovers(ctx, id)
			if err != nil {
				errs = append(errs, err)
			}
			l.Docker = append(l.Docker, left...)
		}
	}
	if r.Tracking != "" {
		l.Processes = Processes(r.Tracking)
	}
	if r.WorkRoot != "" {
		if _, err := os.Stat(r.WorkRoot); err == nil {
			l.Dirs = append(l.Dirs, r.WorkRoot)
		}
	}
	return l, errors.Join(errs...)
}

// Clean removes what the record's run left and then the record. The record
// stays when something could not be removed, so a later clean retries.
func (r *Record) Clean(ctx context.Context, d Docker) (Leftovers, error) {
	l, err := r.Find(ctx, d)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, pid := range l.Processes {
		// The whole group: a step's shell leads one, its children are in it.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if d != nil {
		for _, id := range r.RunIDs {
			if err := d.Cleanup(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Without an engine there is nothing of the run's to find there (most
	// runs of a machine without Docker never used one); keeping the record
	// would only repeat a warning on every later run.
	for _, dir := range l.Dirs {
		if err := workspace.UnmountUnder(dir); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		_ = os.Remove(r.path)
	}
	return l, errors.Join(errs...)
}

// Processes returns the processes whose environment holds TrackingEnv=id.
func Processes(id string) []int {
	want := []byte(TrackingEnv + "=" + id + "\x00")
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		env = append(env, 0)
		if containsEntry(env, want) && !zombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

func containsEntry(env, want []byte) bool {
	return bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...))
}

// stat returns the fields of /proc/pid/stat after the command name.
func stat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return strings.Fields(s[i+1:]), nil
}

func startTime(pid int) (uint64, error) {
	f, err := stat(pid)
	if err != nil {
		return 0, err
	}
	// Field 22 of stat, the 20th after the name.
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func zombie(pid int) bool {
	f, err := stat(pid)
	return err != nil || len(f) > 0 && f[0] == "Z"
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func pidNS() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}
