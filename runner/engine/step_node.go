package engine

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gantry-ci/gantry/runner/report"
)

// nodeKind runs a node action: pre, main and post scripts with state.
type nodeKind struct{}

func (nodeKind) hasPre(la *loadedAction) bool  { return la.meta.Runs.Pre != "" }
func (nodeKind) preIf(la *loadedAction) string { return la.meta.Runs.PreIf }

func (nodeKind) pre(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error {
	return j.nodeScript(ctx, actionScope(c.sc, la, inputs), c.st, la, la.meta.Runs.Pre, nil, inputEnv(inputs))
}

func (nodeKind) run(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error {
	m := la.meta
	if m.Runs.Using == "node12" || m.Runs.Using == "node16" {
		j.rep.warnf("%s uses %s, which GitHub no longer supports; running it with this machine's node", c.s.Uses, m.Runs.Using)
	}
	asc := actionScope(c.sc, la, inputs)
	extra := inputEnv(inputs)
	pre := j.preState(c.s)
	for k, v := range stateEnv(pre) {
		extra[k] = v
	}
	if err := j.nodeScript(ctx, asc, c.st, la, m.Runs.Main, c.stepEnv, extra); err != nil {
		return j.toolCacheHint(la, inputs, err)
	}
	if m.Runs.Post == "" {
		return nil
	}
	state := map[string]string{}
	for k, v := range pre {
		state[k] = v
	}
	for k, v := range c.st.state {
		state[k] = v
	}
	j.addPost(postStep{
		step: report.Step{Index: c.index, ID: c.s.ID, Name: "Post " + stepTitle(c.s), Stage: report.Post},
		cond: m.Runs.PostIf,
		env:  j.postEnv(c.sc, inputs),
		run: func(ctx context.Context) error {
			ex := inputEnv(inputs)
			for k, v := range stateEnv(state) {
				ex[k] = v
			}
			pst := &stepState{id: c.s.ID, action: c.st.action, outputs: map[string]any{}}
			return j.nodeScript(ctx, asc, pst, la, m.Runs.Post, c.stepEnv, ex)
		},
	})
	return nil
}

func (j *jobRun) nodeScript(ctx context.Context, sc *scope, st *stepState, la *loadedAction, script string, stepEnv, extra map[string]string) error {
	procEnv := j.processEnv(sc, stepEnv, st, extra)
	node, err := j.nodeFor(ctx, la.meta.Runs.Using, procEnv["PATH"])
	if err != nil {
		return fmt.Errorf("action %s: %w", la.ref, err)
	}
	argv := []string{node, j.path(filepath.Join(la.dir, script))}
	return j.runProcess(ctx, st, argv, j.path(j.workspace), procEnv)
}
