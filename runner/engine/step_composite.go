package engine

import (
	"context"
	"fmt"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
)

// compositeKind runs a composite action's steps in a scope of their own.
type compositeKind struct{}

func (compositeKind) run(ctx context.Context, j *jobRun, c stepCall, la *loadedAction, inputs map[string]string) error {
	asc := actionScope(c.sc, la, inputs)
	asc.composite = true
	asc.env = c.stepEnv
	asc.prefix = c.st.action + "_"
	for _, cs := range la.meta.Runs.Steps {
		j.runStep(ctx, asc, cs, -1)
	}
	// Outputs are evaluated with the composite's own steps context.
	env := &expr.Env{Contexts: j.contexts(asc, j.envContext(asc, nil))}
	for _, o := range la.meta.Outputs {
		if o.Value == "" {
			continue
		}
		v, err := evaluate.String(o.Value, env)
		if err != nil {
			return fmt.Errorf("action %s: output %s: %w", c.s.Uses, o.Name, err)
		}
		c.st.outputs[o.Name] = v
	}
	if asc.failed {
		return fmt.Errorf("a step of composite action %s failed", c.s.Uses)
	}
	return nil
}
