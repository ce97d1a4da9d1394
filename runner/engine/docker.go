package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/internal/shellwords"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// Paths inside a docker action's container, as GitHub mounts them.
const (
	actWorkspace    = "/github/workspace"
	actHome         = "/github/home"
	actWorkflow     = "/github/workflow"
	actFileCommands = "/github/file_commands"
	actRunnerTemp   = "/github/runner_temp"
)

// runDockerAction runs a runs.using: docker action's entrypoint and registers its post-entrypoint.
func (j *jobRun) runDockerAction(ctx context.Context, sc *scope, s *workflow.Step, la *loadedAction, inputs map[string]string, stepEnv map[string]string, st *stepState) error {
	// What pre-entrypoint saved is the main and post entrypoints' STATE_*.
	if pre := j.preState(s); len(pre) > 0 {
		if st.state == nil {
			st.state = map[string]string{}
		}
		for k, v := range pre {
			st.state[k] = v
		}
	}
	if err := j.dockerEntrypoint(ctx, sc, s, la, inputs, stepEnv, st, la.meta.Runs.Entrypoint); err != nil {
		return err
	}
	if pe := la.meta.Runs.PostEntrypoint; pe != "" {
		cond := la.meta.Runs.PostIf
		if cond == "" {
			cond = "always()"
		}
		state := st.state
		j.addPost(postStep{title: "Post " + stepTitle(s), cond: cond, run: func(ctx context.Context) string {
			pst := &stepState{id: s.ID, action: st.action, outputs: map[string]any{}, state: state}
			if err := j.dockerEntrypoint(ctx, sc, s, la, inputs, stepEnv, pst, pe); err != nil {
				j.log.Styled(ansiRed, "Error: %v", err)
				return "failure"
			}
			return "success"
		}})
	}
	return nil
}

// dockerEntrypoint runs one container of a docker action with entrypoint
// (empty: the image's own).
func (j *jobRun) dockerEntrypoint(ctx context.Context, sc *scope, s *workflow.Step, la *loadedAction, inputs map[string]string, stepEnv map[string]string, st *stepState, entrypoint string) error {
	if j.r.opts.Containers == nil {
		return fmt.Errorf("%s: %s is a docker action and needs a Docker engine; none is available (run scripts/setup.sh)", s.Pos, s.Uses)
	}
	m := la.meta
	image := m.Runs.Image
	if strings.HasPrefix(image, "docker://") {
		image = strings.TrimPrefix(image, "docker://")
	} else {
		j.log.Info("Build container for action %s", s.Uses)
		// As GitHub's runner does, the Dockerfile's folder is the build context
		// (image: ../../Dockerfile builds from the repository root).
		dockerfile := filepath.Join(la.dir, image)
		built, err := j.r.opts.Containers.BuildActionImage(ctx, filepath.Dir(dockerfile), dockerfile, j.r.opts.ActionBuildArgs)
		if err != nil {
			return fmt.Errorf("%s: build %s: %w", s.Pos, s.Uses, err)
		}
		image = built
	}
	asc := actionScope(sc, la, inputs)
	contexts := j.contexts(asc, j.envContext(asc, stepEnv))
	env := &expr.Env{Contexts: contexts}
	var args []string
	for _, a := range m.Runs.Args {
		v, err := evalString(a, env)
		if err != nil {
			return fmt.Errorf("action %s: args: %w", s.Uses, err)
		}
		args = append(args, v)
	}
	extra := inputEnv(inputs)
	for _, kv := range m.Runs.Env {
		v, err := evalString(kv.Value, env)
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

// runDockerImageStep runs a uses: docker://image step: with.args and
// with.entrypoint replace the image's own.
func (j *jobRun) runDockerImageStep(ctx context.Context, sc *scope, s *workflow.Step, with map[string]string, stepEnv map[string]string, st *stepState) error {
	if j.r.opts.Containers == nil {
		return fmt.Errorf("%s: %s needs a Docker engine; none is available (run scripts/setup.sh)", s.Pos, s.Uses)
	}
	image := strings.TrimPrefix(s.Uses, "docker://")
	var ep, args []string
	if e := with["entrypoint"]; e != "" {
		ep = []string{e}
	}
	if a := with["args"]; a != "" {
		var err error
		if args, err = shellwords.Split(a); err != nil {
			return fmt.Errorf("%s: with.args: %w", s.Pos, err)
		}
	}
	extra := map[string]string{}
	for k, v := range with {
		if k != "args" && k != "entrypoint" {
			extra["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
		}
	}
	return j.runContainer(ctx, sc, st, image, ep, args, stepEnv, extra)
}

// runContainer runs a one-shot action container with GitHub's mounts and env.
func (j *jobRun) runContainer(ctx context.Context, sc *scope, st *stepState, image string, entrypoint, args []string, stepEnv, extra map[string]string) error {
	fcDir := filepath.Join(j.temp, "_runner_file_commands")
	workflowDir := filepath.Join(filepath.Dir(j.temp), "workflow")
	for _, d := range []string{fcDir, workflowDir} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return err
		}
	}
	if err := copyFile(j.r.eventPath, filepath.Join(workflowDir, "event.json"), 0o644); err != nil {
		return fmt.Errorf("copy event payload: %w", err)
	}
	mounts := []Mount{
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
		network = j.r.opts.Network
	}
	return j.runWith(ctx, st, pathFn, env, func(ctx context.Context, env map[string]string, out io.Writer) (int, error) {
		return j.r.opts.Containers.RunAction(ctx, DockerActionSpec{
			RunID: fmt.Sprint(j.r.opts.RunID), Image: image, Entrypoint: entrypoint, Args: args,
			Env: env, Mounts: mounts, WorkDir: actWorkspace, Network: network, Stdout: out, Stderr: out,
		})
	})
}
