package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// stepCall is what a step kind needs to run one step.
type stepCall struct {
	sc      *scope
	s       *workflow.Step
	env     *expr.Env
	stepEnv map[string]string
	st      *stepState
	index   int
}

// stepKind runs the main part of a step. Each kind lives in its own file:
// run (step_run.go), docker:// image (step_image.go), and actions
// (step_uses.go) of kind node, composite or docker.
type stepKind interface {
	main(ctx context.Context, j *jobRun, c stepCall) error
}

// actionRunner runs a loaded action with its inputs.
type actionRunner interface {
	run(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error
}

// preRunner is an action kind with a pre part.
type preRunner interface {
	hasPre(la *loadedAction) bool
	preIf(la *loadedAction) string
	pre(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error
}

// kindOf chooses the step's kind.
func (j *jobRun) kindOf(_ context.Context, s *workflow.Step, _ *expr.Env) (stepKind, error) {
	switch {
	case s.Run != "":
		return runKind{}, nil
	case strings.HasPrefix(s.Uses, "docker://"):
		return imageKind{}, nil
	case s.Uses != "":
		return usesKind{}, nil
	}
	return nil, fmt.Errorf("%s: step has neither run nor uses", s.Pos)
}

// actionKind chooses how a loaded action runs.
func actionKind(la *loadedAction) actionRunner {
	u := la.meta.Runs.Using
	switch {
	case u == "composite":
		return compositeKind{}
	case strings.HasPrefix(u, "node"):
		return nodeKind{}
	case u == "docker":
		return dockerKind{}
	}
	return unsupportedKind{using: u}
}

type unsupportedKind struct{ using string }

func (k unsupportedKind) run(_ context.Context, _ *jobRun, c stepCall, _ *loadedAction, _ map[string]string) error {
	return fmt.Errorf("%s: action %s: runs.using %q is not supported; use node20, node24, composite or docker", c.s.Pos, c.s.Uses, k.using)
}

// evalWith evaluates a step's with: values.
func (j *jobRun) evalWith(s *workflow.Step, env *expr.Env) (map[string]string, error) {
	with := map[string]string{}
	for _, kv := range s.With {
		v, err := evaluate.String(kv.Value, env)
		if err != nil {
			return nil, fmt.Errorf("%s: with.%s: %w", kv.Pos, kv.Key, err)
		}
		with[kv.Key] = v
	}
	return with, nil
}
