package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// loadedAction is an action resolved and loaded at job start.
type loadedAction struct {
	ref  action.Ref
	dir  string
	meta *action.Metadata
	self bool // actions/checkout of this repository: served from the workspace
}

// usesKind is a uses: step of a local or remote action.
type usesKind struct{}

func (usesKind) main(ctx context.Context, j *jobRun, c stepCall) error {
	with, err := j.evalWith(c.s, c.env)
	if err != nil {
		return err
	}
	la, err := j.loadAction(ctx, c.s, with)
	if err != nil {
		return err
	}
	if la.self {
		return j.selfCheckout(with["path"])
	}
	inputs, err := j.actionInputs(la, with, c.env, c.s)
	if err != nil {
		return err
	}
	return actionKind(la).run(ctx, j, c, la, inputs)
}

// resolveActions fetches and loads every remote action of the job up front, as
// GitHub does, so a missing action fails the job before any step runs.
func (j *jobRun) resolveActions(ctx context.Context) error {
	for _, s := range j.job.Steps {
		if s.Uses == "" || strings.HasPrefix(s.Uses, "./") || strings.HasPrefix(s.Uses, "docker://") {
			continue
		}
		if _, err := j.loadAction(ctx, s, nil); err != nil {
			return err
		}
	}
	return nil
}

// loadAction resolves a step's uses: (cached per job).
func (j *jobRun) loadAction(ctx context.Context, s *workflow.Step, with map[string]string) (*loadedAction, error) {
	j.mu.Lock()
	la, ok := j.actions[s.Uses]
	j.mu.Unlock()
	if ok {
		return la, nil
	}
	ref, err := action.ParseRef(s.Uses)
	if err != nil {
		return nil, fmt.Errorf("%s: uses: %w", s.Pos, err)
	}
	la = &loadedAction{ref: ref}
	if action.IsSelfCheckout(ref, with, expr.ToString(j.github["repository"])) {
		la.self = true
	} else {
		dir, err := j.deps.Actions.Resolve(ctx, ref, j.workspace)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Pos, err)
		}
		if dir, err = j.stageAction(ref, dir); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Pos, err)
		}
		la.dir = dir
		if la.meta, err = action.Load(dir); err != nil {
			return nil, fmt.Errorf("%s: load action %s: %w", s.Pos, s.Uses, err)
		}
	}
	j.mu.Lock()
	j.actions[s.Uses] = la
	j.mu.Unlock()
	return la, nil
}

// actionInputs merges with: values and the action's defaults (which may hold
// expressions such as ${{ github.token }}).
func (j *jobRun) actionInputs(la *loadedAction, with map[string]string, env *expr.Env, s *workflow.Step) (map[string]string, error) {
	inputs := map[string]string{}
	known := map[string]bool{}
	for _, in := range la.meta.Inputs {
		known[strings.ToLower(in.Name)] = true
		if v, ok := lookupFold(with, in.Name); ok {
			inputs[in.Name] = v
			continue
		}
		if in.Default != "" {
			v, err := evaluate.String(in.Default, env)
			if err != nil {
				return nil, fmt.Errorf("%s: input %s default: %w", s.Pos, in.Name, err)
			}
			inputs[in.Name] = v
			continue
		}
		if in.Required {
			// GitHub warns, it does not fail.
			j.rep.warnf("Input required and not supplied: %s", in.Name)
		}
		inputs[in.Name] = ""
	}
	for k, v := range with {
		if !known[strings.ToLower(k)] {
			j.rep.warnf("%s: unexpected input '%s'; valid inputs are %s", s.Pos, k, strings.Join(inputNames(la.meta), ", "))
			inputs[k] = v
		}
	}
	return inputs, nil
}

func inputNames(m *action.Metadata) []string {
	var out []string
	for _, in := range m.Inputs {
		out = append(out, "'"+in.Name+"'")
	}
	return out
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// inputEnv is INPUT_<NAME> as GitHub mangles it: spaces to _, upper case.
func inputEnv(inputs map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range inputs {
		out["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
	}
	return out
}

func stateEnv(state map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range state {
		out["STATE_"+k] = v
	}
	return out
}

func actionScope(parent *scope, la *loadedAction, inputs map[string]string) *scope {
	repo, ref := "", ""
	if !la.ref.IsLocal() {
		repo, ref = la.ref.Owner+"/"+la.ref.Repo, la.ref.Version
	}
	return &scope{steps: map[string]any{}, inputs: evaluate.StringMap(inputs), actionPath: la.dir, actionRepo: repo, actionRef: ref, parent: parent}
}

// postEnv is the expression env a post-if sees: the job's state when the post runs.
func (j *jobRun) postEnv(sc *scope, inputs map[string]string) func(ctx context.Context) *expr.Env {
	return func(ctx context.Context) *expr.Env {
		env := j.exprEnv(ctx, sc, j.envContext(sc, nil))
		env.Contexts["inputs"] = evaluate.StringMap(inputs)
		return env
	}
}

// stageAction makes a remote action visible inside a job container. The
// action cache is not mounted there, so the action is copied under the
// job's work folder, as GitHub's runner keeps actions in _work/_actions;
// every script, pre and post included, then runs from one path the
// container sees.
func (j *jobRun) stageAction(ref action.Ref, dir string) (string, error) {
	if !j.inside || ref.IsLocal() || j.path(dir) != dir {
		return dir, nil
	}
	segment := func(s string) string {
		if s = safeName(s); s == "" || s == "." || s == ".." {
			return "_"
		}
		return s
	}
	// The whole repository is staged: an action in a sub-folder may use
	// files beside it (actions/cache/restore runs ../dist/restore-only).
	repoDir := dir
	var sub []string
	if ref.SubPath != "" {
		sub = strings.Split(ref.SubPath, "/")
		for range sub {
			repoDir = filepath.Dir(repoDir)
		}
	}
	staged := filepath.Join(j.base, "work", "_actions", segment(ref.Owner), segment(ref.Repo), segment(ref.Version))
	if ref.URL != "" { // two hosts' owner/repo@ref are two actions
		staged = filepath.Join(j.base, "work", "_actions", "_hosts", segment(strings.NewReplacer("://", "_", ":", "_").Replace(ref.URL)), segment(ref.Owner), segment(ref.Repo), segment(ref.Version))
	}
	if _, err := os.Stat(filepath.Join(staged, ".gantry-staged")); err != nil {
		if err := workspace.CopyTree(repoDir, staged); err != nil {
			return "", fmt.Errorf("stage action %s/%s@%s for the job container: %w", ref.Owner, ref.Repo, ref.Version, err)
		}
		if err := os.WriteFile(filepath.Join(staged, ".gantry-staged"), nil, 0o644); err != nil {
			return "", err
		}
	}
	if len(sub) > 0 {
		staged = filepath.Join(append([]string{staged}, sub...)...)
	}
	return staged, nil
}

// selfCheckout serves actions/checkout of the workspace's own repository.
// With path: the repository goes where the job asked for it, inside the
// workspace, as the real action puts it.
func (j *jobRun) selfCheckout(path string) error {
	path = strings.TrimSpace(path)
	if path == "" || path == "." {
		j.rep.Line(report.Output, "actions/checkout of this repository: the workspace already holds it")
		return nil
	}
	if strings.HasPrefix(path, j.path(j.workspace)+"/") {
		path = strings.TrimPrefix(path, j.path(j.workspace)+"/")
	}
	target := filepath.Join(j.workspace, filepath.FromSlash(path))
	if rel, err := filepath.Rel(j.workspace, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(path) {
		return fmt.Errorf("actions/checkout: path %q is outside the workspace %s", path, j.path(j.workspace))
	}
	if err := workspace.CopyTreeInto(j.workspace, target); err != nil {
		return fmt.Errorf("actions/checkout: copy the repository to %s: %w", path, err)
	}
	j.rep.Line(report.Output, "actions/checkout of this repository: copied into "+path)
	return nil
}
