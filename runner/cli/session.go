package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/runstate"
	"github.com/gantry-ci/gantry/runner/scheduler"
)

// session is one `gantry run` process's identity on disk (runstate): its
// work folder, the run ids of its Docker resources and the tracking id of
// its step processes, so a later run or `gantry clean` can remove what it
// leaves if it is killed.
type session struct {
	rec     *runstate.Record
	keep    bool
	baseRun int64
	n       int
}

// startSession reports and removes the leftovers of earlier runs whose
// process is gone, then records this one: it gets its own work root under
// workRoot (the system temp dir when empty) and a tracking id in every
// step's environment.
func startSession(ctx context.Context, stdio IO, opts *scheduler.Options, workRoot string, keep bool) (*session, error) {
	dir := runstate.Dir()
	sweep(ctx, stdio, stdio.Err, dir, "gantry: removed what an earlier run (pid %d, gone) left: %s\n")
	if workRoot == "" {
		workRoot = os.TempDir()
	}
	if err := os.MkdirAll(workRoot, 0o755); err != nil {
		return nil, fmt.Errorf("work root: %w", err)
	}
	rec, err := runstate.Begin(dir, "")
	if err != nil {
		return nil, err
	}
	// Recorded first, made second: a kill in between leaves nothing unknown.
	root := filepath.Join(workRoot, "gantry-"+rec.ID)
	if err := rec.SetWorkRoot(root); err != nil {
		rec.End()
		return nil, err
	}
	if err := os.Mkdir(root, 0o700); err != nil {
		rec.End()
		return nil, fmt.Errorf("make work root: %w", err)
	}
	opts.WorkRoot = root
	env := map[string]string{}
	for k, v := range opts.Env {
		env[k] = v
	}
	env[runstate.TrackingEnv] = rec.Tracking
	opts.Env = env
	return &session{rec: rec, keep: keep, baseRun: time.Now().UnixNano() / 1e6 % 1e10}, nil
}

// nextRunID is the run id of the next workflow, recorded before any
// container is made under its label.
func (s *session) nextRunID() int64 {
	if s == nil {
		return 0 // the scheduler picks one
	}
	id := uniqueRunID(s.baseRun + int64(s.n))
	s.n++
	_ = s.rec.AddRun(strconv.FormatInt(id, 10))
	return id
}

// end is a run that cleaned up after itself.
func (s *session) end() {
	if s == nil {
		return
	}
	if !s.keep {
		_ = os.RemoveAll(s.rec.WorkRoot)
	}
	s.rec.End()
}

// abandon is the second Ctrl-C: say what is left and how to remove it.
// The record stays, so the next run or `gantry clean` finds it.
func (s *session) abandon(stdio IO) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d runstate.Docker
	if e, err := container.Connect(ctx); err == nil {
		defer e.Close()
		d = e
	}
	left, _ := s.rec.Find(ctx, d)
	what := left.String()
	if d == nil && len(s.rec.RunIDs) > 0 {
		what += "; and maybe Docker resources labelled " + container.LabelRun + "=" + s.rec.RunIDs[0]
	}
	fmt.Fprintf(stdio.Err, "gantry: exiting at once; left behind: %s\ngantry: remove it with: gantry clean (the next gantry run also does)\n", what)
}

// sweep removes the leftovers of every recorded run whose process is gone,
// printing format (pid, what) for each that left something.
func sweep(ctx context.Context, stdio IO, w io.Writer, dir, format string) int {
	stale, err := runstate.Stale(dir)
	if err != nil || len(stale) == 0 {
		if err != nil {
			fmt.Fprintf(stdio.Err, "gantry: warning: %v\n", err)
		}
		return 0
	}
	var d runstate.Docker
	needDocker := false
	for _, r := range stale {
		needDocker = needDocker || len(r.RunIDs) > 0
	}
	if needDocker {
		if e, err := container.Connect(ctx); err == nil {
			defer e.Close()
			d = e
		}
	}
	n := 0
	for _, r := range stale {
		left, err := r.Clean(ctx, d)
		if !left.Empty() {
			fmt.Fprintf(w, format, r.PID, left)
			n++
		}
		if err != nil {
			fmt.Fprintf(stdio.Err, "gantry: warning: clean up after run %s: %v\n", r.ID, err)
		}
	}
	return n
}
