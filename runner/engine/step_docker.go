package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/safepath"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// Paths inside a docker action's container, as GitHub mounts them.
const (
	actWorkspace    = "/github/workspace"
	actHome         = "/github/home"
	actWorkflow     = "/github/workflow"
	actFileCommands = "/github/file_commands"
	actRunnerTemp   = "/github/runner_temp"
)

// dockerKind runs a runs.using: docker action: pre-entrypoint, entrypoint
// and post-entrypoint, each in a container of its own.
type dockerKind struct{}

func (dockerKind) hasPre(la *loadedAction) bool  { return la.meta.Runs.PreEntrypoint != "" }
func (dockerKind) preIf(la *loadedAction) string { return la.meta.Runs.PreIf }

func (dockerKind) pre(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error {
	return j.dockerEntrypoint(ctx, c, la, inputs, nil, c.st, la.meta.Runs.PreEntrypoint)
}

func (dockerKind) run(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error {
	st := c.st
	// What pre-entrypoint saved is the main and post entrypoints' STATE_*.
	if pre := j.preState(c.s); len(pre) > 0 {
		if st.state == nil {
			st.state = map[string]string{}
		}
		for k, v := range pre {
			st.state[k] = v
		}
	}
	if err := j.dockerEntrypoint(ctx, c, la, inputs, c.stepEnv, st, mainEntrypoint(la, inputs)); err != nil {
		return err
	}
	if pe := la.meta.Runs.PostEntrypoint; pe != "" {
		state := st.state
		j.addPost(postStep{
			step: report.Step{Index: c.index, ID: c.s.ID, Name: "Post " + stepTitle(c.s), Stage: report.Post},
			cond: la.meta.Runs.PostIf,
			env:  j.postEnv(c.sc, inputs),
			run: func(ctx context.Context) error {
				pst := &stepState{id: c.s.ID, action: st.action, outputs: map[string]any{}, state: state}
				return j.dockerEntrypoint(ctx, c, la, inputs, c.stepEnv, pst, pe)
			},
		})
	}
	return nil
}

// dockerEntrypoint runs one container of a docker action with entrypoint
// (empty: the image's own).
func (j *jobRun) dockerEntrypoint(ctx context.Context, c stepCall, la *loadedAction, inputs map[string]string, stepEnv map[string]string, st *stepState, entrypoint string) error {
	s := c.s
	if j.deps.Containers == nil {
		return fmt.Errorf("%s: %s is a docker action and needs a Docker engine; none is available (run scripts/setup.sh)", s.Pos, s.Uses)
	}
	m := la.meta
	image := m.Runs.Image
	if strings.HasPrefix(image, "docker://") {
		image = strings.TrimPrefix(image, "docker://")
	} else {
		j.rep.infof("Build container for action %s", s.Uses)
		// As GitHub's runner does, the Dockerfile's folder is the build context
		// (image: ../../Dockerfile builds from the repository root).
		dockerfile := filepath.Join(la.dir, image)
		// The build context is the Dockerfile's folder, sent whole to the
		// engine: never a folder outside the action's repository.
		if _, err := safepath.Within(j.actionRoot(la), dockerfile); err != nil {
			return fmt.Errorf("%s: %s: runs.image: %w", s.Pos, s.Uses, err)
		}
		built, err := j.deps.Containers.BuildActionImage(ctx, filepath.Dir(dockerfile), dockerfile, j.deps.BuildArgs)
		if err != nil {
			return fmt.Errorf("%s: build %s: %w", s.Pos, s.Uses, err)
		}
		image = built
	}
	asc := actionScope(c.sc, la, inputs)
	env := j.exprEnv(ctx, asc, j.envContext(asc, stepEnv))
	var args []string
	for _, a := range m.Runs.Args {
		v, err := evaluate.String(a, env)
		if err != nil {
			return fmt.Errorf("action %s: args: %w", s.Uses, err)
		}
		args = append(args, v)
	}
	if len(m.Runs.Args) == 0 {
		wa, _, err := withArgs(inputs)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Pos, err)
		}
		args = wa
	}
	extra := inputEnv(inputs)
	for _, kv := range m.Runs.Env {
		v, err := evaluate.String(kv.Value, env)
		if err != nil {
			return fmt.Errorf("action %s: env %s: %w", s.Uses, kv.Key, err)
		}
		extra[kv.Key] = v
	}
	for k, v := range stateEnv(st.state) {
		extra[k] = v
	}
	var ep []string
	if entrypoint != "" {
		ep = []string{entrypoint}
	}
	return j.runContainer(ctx, asc, st, image, ep, args, stepEnv, extra)
}

// runContainer runs a one-shot action container with GitHub's mounts and env.
func (j *jobRun) runContainer(ctx context.Context, sc *scope, st *stepState, image string, entrypoint, args []string, stepEnv, extra map[string]string) error {
	fcDir := filepath.Join(j.temp, "_runner_file_commands")
	workflowDir := filepath.Join(j.base, "workflow")
	for _, d := range []string{fcDir, workflowDir} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return err
		}
	}
	if err := workspace.CopyFile(j.req.EventPath, filepath.Join(workflowDir, "event.json"), 0o644); err != nil {
		return fmt.Errorf("copy event payload: %w", err)
	}
	mounts := []jobenv.Mount{
		{Source: j.workspace, Target: actWorkspace},
		{Source: j.home, Target: actHome},
		{Source: workflowDir, Target: actWorkflow},
		{Source: fcDir, Target: actFileCommands},
		{Source: j.temp, Target: actRunnerTemp},
	}
	pathFn := func(p string) string {
		best, target := "", ""
		for _, m := range mounts {
			if (p == m.Source || strings.HasPrefix(p, m.Source+"/")) && len(m.Source) > len(best) {
				best, target = m.Source, m.Target
			}
		}
		if best == "" {
			return p
		}
		return target + strings.TrimPrefix(p, best)
	}
	env := map[string]string{"HOME": actHome}
	for k, v := range j.req.Env {
		env[k] = v
	}
	for k, v := range j.req.ContainerEnv {
		env[k] = v
	}
	for k, v := range j.defaultEnv(sc, st) {
		env[k] = v
	}
	for k, v := range j.envContext(sc, stepEnv) {
		env[k] = v.(string)
	}
	for k, v := range extra {
		env[k] = v
	}
	env["GITHUB_WORKSPACE"] = actWorkspace
	env["GITHUB_EVENT_PATH"] = actWorkflow + "/event.json"
	env["RUNNER_TEMP"] = actRunnerTemp
	delete(env, "RUNNER_TOOL_CACHE")
	if sc.actionPath != "" {
		delete(env, "GITHUB_ACTION_PATH")
	}
	network := j.network
	if network == "" {
		network = j.deps.Network
	}
	return j.runWith(ctx, st, pathFn, env, func(ctx context.Context, env map[string]string, out io.Writer) (int, error) {
		return j.deps.Containers.RunAction(ctx, jobenv.DockerActionSpec{
			RunID: j.req.RunID, Image: image, Entrypoint: entrypoint, Args: args,
			Env: env, Mounts: mounts, WorkDir: actWorkspace, Network: network, Stdout: out, Stderr: out,
		})
	})
}
