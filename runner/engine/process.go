package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/envfile"
	"github.com/gantry-ci/gantry/internal/wfcmd"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
)

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fileCommands are the per-step files behind GITHUB_OUTPUT and friends.
type fileCommands struct {
	output, env, path, summary, state string
}

func (j *jobRun) newFileCommands() (*fileCommands, error) {
	dir := filepath.Join(j.temp, "_runner_file_commands")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("make file commands dir: %w", err)
	}
	id := randomSuffix()
	f := &fileCommands{
		output:  filepath.Join(dir, "set_output_"+id),
		env:     filepath.Join(dir, "set_env_"+id),
		path:    filepath.Join(dir, "add_path_"+id),
		summary: filepath.Join(dir, "step_summary_"+id),
		state:   filepath.Join(dir, "save_state_"+id),
	}
	for _, p := range []string{f.output, f.env, f.path, f.summary, f.state} {
		// World-writable: a container may run as another user.
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return nil, fmt.Errorf("make file command %s: %w", p, err)
		}
		_ = os.Chmod(p, 0o666)
	}
	return f, nil
}

// takeFileCommands hands a step empty file-command files: the set the
// previous step used, emptied, when one is free (creating five files per
// step was most of a host step's cost), else a new set. A nested step
// (inside a composite action) gets a set of its own.
func (j *jobRun) takeFileCommands() (*fileCommands, error) {
	j.mu.Lock()
	fc := j.spareFC
	j.spareFC = nil
	j.mu.Unlock()
	if fc != nil {
		if fc.empty() == nil {
			return fc, nil
		}
		fc.remove()
	}
	return j.newFileCommands()
}

// giveBackFileCommands keeps fc for the next step, or removes it when a set
// is already kept.
func (j *jobRun) giveBackFileCommands(fc *fileCommands) {
	j.mu.Lock()
	if j.spareFC == nil {
		j.spareFC = fc
		fc = nil
	}
	j.mu.Unlock()
	if fc != nil {
		fc.remove()
	}
}

// empty truncates every file; an error (a step removed one) means the set
// cannot be reused.
func (f *fileCommands) empty() error {
	for _, p := range []string{f.output, f.env, f.path, f.summary, f.state} {
		if err := os.Truncate(p, 0); err != nil {
			return err
		}
	}
	return nil
}

func (f *fileCommands) remove() {
	for _, p := range []string{f.output, f.env, f.path, f.summary, f.state} {
		_ = os.Remove(p)
	}
}

// runProcess runs argv for a step in the job's environment.
func (j *jobRun) runProcess(ctx context.Context, st *stepState, argv []string, dir string, env map[string]string) error {
	return j.runWith(ctx, st, j.path, env, func(ctx context.Context, env map[string]string, out io.Writer) (int, error) {
		return j.env.Run(ctx, jobenv.Process{Argv: argv, Dir: dir, Env: env, Stdout: out, Stderr: out})
	})
}

// runWith sets up the file commands (paths as the process sees them through
// pathFn), runs the process, carries out workflow commands on its output and
// masks every line on its way to the console, then applies the file commands.
func (j *jobRun) runWith(ctx context.Context, st *stepState, pathFn func(string) string, env map[string]string, exec func(context.Context, map[string]string, io.Writer) (int, error)) error {
	fc, err := j.takeFileCommands()
	if err != nil {
		return err
	}
	defer j.giveBackFileCommands(fc)
	env["GITHUB_OUTPUT"] = pathFn(fc.output)
	env["GITHUB_ENV"] = pathFn(fc.env)
	env["GITHUB_PATH"] = pathFn(fc.path)
	env["GITHUB_STEP_SUMMARY"] = pathFn(fc.summary)
	env["GITHUB_STATE"] = pathFn(fc.state)

	proc := wfcmd.NewProcessor(func(ev wfcmd.Event) { j.handleEvent(ev, st) })
	proc.AllowUnsecure = env["ACTIONS_ALLOW_UNSECURE_COMMANDS"] == "true"
	lw := &lineWriter{fn: proc.Line, m: j.deps.Masker}
	exit, runErr := exec(ctx, env, lw)
	_ = lw.Close()

	if err := j.applyFileCommands(fc, st); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	if exit != 0 {
		return fmt.Errorf("process completed with exit code %d", exit)
	}
	return nil
}

// handleEvent carries out one workflow command or prints one line.
func (j *jobRun) handleEvent(ev wfcmd.Event, st *stepState) {
	switch ev.Kind {
	case wfcmd.EventLine, wfcmd.EventEcho:
		j.rep.Line(report.Output, ev.Line)
	case wfcmd.EventMask:
		j.deps.Masker.Add(ev.Value)
	case wfcmd.EventGroup:
		j.rep.Group(ev.Value)
	case wfcmd.EventEndGroup:
		j.rep.EndGroup()
	case wfcmd.EventDebug:
		if os.Getenv("ACTIONS_STEP_DEBUG") == "true" || j.req.Secrets["ACTIONS_STEP_DEBUG"] == "true" || j.req.Vars["ACTIONS_STEP_DEBUG"] == "true" {
			j.rep.Line(report.Command, "::debug::"+ev.Value)
		}
	case wfcmd.EventAnnotation:
		a := ev.Annotation
		j.rep.Annotate(report.Annotation{Level: a.Level, Title: a.Title, Message: a.Message, File: a.File,
			Line: a.Line, EndLine: a.EndLine, Col: a.Col, EndCol: a.EndColumn, Step: st.action})
	case wfcmd.EventSetOutput:
		st.outputs[ev.Name] = ev.Value
	case wfcmd.EventSaveState:
		if st.state == nil {
			st.state = map[string]string{}
		}
		st.state[ev.Name] = ev.Value
	case wfcmd.EventSetEnv:
		if err := checkSetEnv(ev.Name, ev.Value); err != nil {
			j.rep.warnf("::set-env: %v", err)
			return
		}
		j.setEnv(ev.Name, ev.Value)
	case wfcmd.EventAddPath:
		j.addPath(ev.Value)
	case wfcmd.EventWarning:
		j.rep.warnf("%s", ev.Value)
	}
}

func (j *jobRun) setEnv(k, v string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.fileEnv[k] = v
}

func (j *jobRun) addPath(p string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.paths = append([]string{p}, j.paths...)
}

// applyFileCommands reads what the step wrote to its file commands.
func (j *jobRun) applyFileCommands(fc *fileCommands, st *stepState) error {
	read := func(p string) (io.ReadCloser, error) {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			// The step removed it: as GitHub's runner, read nothing.
			return io.NopCloser(strings.NewReader("")), nil
		}
		if err != nil {
			return nil, fmt.Errorf("read file command %s: %w", filepath.Base(p), err)
		}
		return f, nil
	}
	f, err := read(fc.output)
	if err != nil {
		return err
	}
	kvs, err := envfile.ParseKV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("GITHUB_OUTPUT: %w", err)
	}
	for _, kv := range kvs {
		st.outputs[kv.Key] = kv.Value
	}

	if f, err = read(fc.env); err != nil {
		return err
	}
	kvs, err = envfile.ParseKV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("GITHUB_ENV: %w", err)
	}
	if err := refuseUnsettable("GITHUB_ENV", kvs); err != nil {
		return err
	}
	for _, kv := range kvs {
		if err := envfile.CheckEnvName(kv.Key); err != nil {
			j.rep.warnf("GITHUB_ENV: %v", err)
			continue
		}
		j.setEnv(kv.Key, kv.Value)
	}

	if f, err = read(fc.state); err != nil {
		return err
	}
	kvs, err = envfile.ParseKV(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("GITHUB_STATE: %w", err)
	}
	if err := refuseUnsettable("GITHUB_STATE", kvs); err != nil {
		return err
	}
	for _, kv := range kvs {
		if st.state == nil {
			st.state = map[string]string{}
		}
		st.state[kv.Key] = kv.Value
	}

	if f, err = read(fc.path); err != nil {
		return err
	}
	for _, p := range envfile.ParsePath(f) {
		j.addPath(p)
	}
	f.Close()

	summary, err := os.ReadFile(fc.summary)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read step summary: %w", err)
	}
	const maxSummary = 1 << 20 // GitHub's limit per step
	if len(summary) > maxSummary {
		j.rep.warnf("step summary is %d bytes, over GitHub's 1 MiB limit; it was not kept", len(summary))
	} else if strings.TrimSpace(string(summary)) != "" {
		j.rep.Summary(report.Step{ID: st.id, Name: st.action}, string(summary))
	}
	return nil
}
