package engine

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/jobenv"
)

// runKind is a run: step: a script in a shell.
type runKind struct{}

func (runKind) main(ctx context.Context, j *jobRun, c stepCall) error {
	s, sc, env := c.s, c.sc, c.env
	script, err := evaluate.String(s.Run, env)
	if err != nil {
		return fmt.Errorf("%s: run: %w", s.Pos, err)
	}
	shell := s.Shell
	dir := s.WorkingDirectory
	if !sc.composite {
		wf := j.req.Workflow
		if shell == "" {
			shell = j.job.Defaults.Shell
		}
		if shell == "" {
			shell = wf.Defaults.Shell
		}
		if dir == "" {
			dir = j.job.Defaults.WorkingDirectory
		}
		if dir == "" {
			dir = wf.Defaults.WorkingDirectory
		}
	}
	if shell != "" {
		if shell, err = evaluate.String(shell, env); err != nil {
			return fmt.Errorf("%s: shell: %w", s.Pos, err)
		}
	}
	if dir != "" {
		if dir, err = evaluate.String(dir, env); err != nil {
			return fmt.Errorf("%s: working-directory: %w", s.Pos, err)
		}
	}
	wsInEnv := j.path(j.workspace)
	workDir := wsInEnv
	if dir != "" {
		if path.IsAbs(dir) {
			workDir = dir
		} else {
			workDir = path.Join(wsInEnv, dir)
		}
	}

	ext := jobenv.ScriptExtension(shell)
	scriptHost := filepath.Join(j.temp, randomSuffix()+ext)
	if strings.HasPrefix(strings.TrimSpace(shell), "pwsh") || strings.HasPrefix(strings.TrimSpace(shell), "powershell") {
		script = "$ErrorActionPreference = 'stop'\n" + script + "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n"
	}
	if err := os.WriteFile(scriptHost, []byte(script), 0o755); err != nil {
		return fmt.Errorf("write script: %w", err)
	}
	defer os.Remove(scriptHost)

	procEnv := j.processEnv(sc, c.stepEnv, c.st, nil)
	look := func(name string) (string, error) { return j.env.LookPath(ctx, name, procEnv["PATH"]) }
	var argv []string
	if j.inside && shell == "" {
		// bash when the image has it, else sh (GitHub's default), decided in
		// the same exec instead of a separate look-up round trip.
		argv = []string{"sh", "-c", `if command -v bash >/dev/null 2>&1; then exec bash -e "$0"; else exec sh -e "$0"; fi`, j.path(scriptHost)}
	} else if argv, err = jobenv.ShellCommand(shell, j.path(scriptHost), look); err != nil {
		return fmt.Errorf("%s: shell: %w", s.Pos, err)
	}
	if !j.inside {
		if fi, err := os.Stat(workDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s: working-directory %s does not exist; create it in an earlier step or fix the path", s.Pos, workDir)
		}
	}
	return j.runProcess(ctx, c.st, argv, workDir, procEnv)
}

// processEnv is the environment of a step's process.
func (j *jobRun) processEnv(sc *scope, stepEnv map[string]string, st *stepState, extra map[string]string) map[string]string {
	env := map[string]string{}
	if !j.inside {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	} else {
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		env["HOME"] = "/github/home"
	}
	for k, v := range j.req.Env {
		env[k] = v
	}
	if j.inside {
		for k, v := range j.req.ContainerEnv {
			env[k] = v
		}
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
	j.mu.Lock()
	if len(j.paths) > 0 {
		env["PATH"] = strings.Join(j.paths, ":") + ":" + env["PATH"]
	}
	j.mu.Unlock()
	return env
}

// defaultEnv holds GitHub's default environment variables.
func (j *jobRun) defaultEnv(sc *scope, st *stepState) map[string]string {
	gh := j.github
	g := func(k string) string { return expr.ToString(gh[k]) }
	env := map[string]string{
		"CI":                       "true",
		"GITHUB_ACTIONS":           "true",
		"GITHUB_ACTION":            st.action,
		"GITHUB_ACTOR":             g("actor"),
		"GITHUB_ACTOR_ID":          g("actor_id"),
		"GITHUB_API_URL":           g("api_url"),
		"GITHUB_BASE_REF":          g("base_ref"),
		"GITHUB_EVENT_NAME":        g("event_name"),
		"GITHUB_EVENT_PATH":        j.eventPath(),
		"GITHUB_GRAPHQL_URL":       g("graphql_url"),
		"GITHUB_HEAD_REF":          g("head_ref"),
		"GITHUB_JOB":               j.id,
		"GITHUB_REF":               g("ref"),
		"GITHUB_REF_NAME":          g("ref_name"),
		"GITHUB_REF_PROTECTED":     "false",
		"GITHUB_REF_TYPE":          g("ref_type"),
		"GITHUB_REPOSITORY":        g("repository"),
		"GITHUB_REPOSITORY_ID":     g("repository_id"),
		"GITHUB_REPOSITORY_OWNER":  g("repository_owner"),
		"GITHUB_RETENTION_DAYS":    g("retention_days"),
		"GITHUB_RUN_ATTEMPT":       g("run_attempt"),
		"GITHUB_RUN_ID":            g("run_id"),
		"GITHUB_RUN_NUMBER":        g("run_number"),
		"GITHUB_SERVER_URL":        g("server_url"),
		"GITHUB_SHA":               g("sha"),
		"GITHUB_TRIGGERING_ACTOR":  g("triggering_actor"),
		"GITHUB_WORKFLOW":          g("workflow"),
		"GITHUB_WORKFLOW_REF":      g("workflow_ref"),
		"GITHUB_WORKFLOW_SHA":      g("workflow_sha"),
		"GITHUB_WORKSPACE":         j.path(j.workspace),
		"RUNNER_ARCH":              expr.ToString(j.runnerContext()["arch"]),
		"RUNNER_ENVIRONMENT":       "self-hosted",
		"RUNNER_NAME":              "gantry",
		"RUNNER_OS":                "Linux",
		"RUNNER_TEMP":              j.path(j.temp),
		"RUNNER_TOOL_CACHE":        j.path(j.toolCache),
		"ACTIONS_RUNNER_DEBUG":     "",
		"GITHUB_STEP_SUMMARY":      "",
		"GITHUB_OUTPUT":            "",
		"GITHUB_ENV":               "",
		"GITHUB_PATH":              "",
		"GITHUB_STATE":             "",
		"GITHUB_ACTION_REPOSITORY": sc.actionRepo,
		"GITHUB_ACTION_REF":        sc.actionRef,
	}
	if sc.actionPath != "" {
		env["GITHUB_ACTION_PATH"] = j.path(sc.actionPath)
	}
	if env["RUNNER_ARCH"] == "" {
		delete(env, "RUNNER_ARCH")
	}
	return env
}

func (j *jobRun) eventPath() string {
	if j.eventPathOverride != "" {
		return j.eventPathOverride
	}
	return j.req.EventPath
}
