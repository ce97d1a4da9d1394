package engine

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// envPairs evaluates an env: level, written either as a mapping (m) or as
// one whole-value expression (whole, e.g. ${{ matrix.env }}).
func envPairs(m workflow.Map, whole string, env *expr.Env) ([]evaluate.Pair, error) {
	if whole != "" {
		pairs, err := evaluate.Mapping(whole, env)
		if err != nil {
			return nil, fmt.Errorf("env: %w", err)
		}
		return pairs, nil
	}
	out := make([]evaluate.Pair, 0, len(m))
	for _, kv := range m {
		v, err := evaluate.String(kv.Value, env)
		if err != nil {
			return nil, fmt.Errorf("%s: env %s: %w", kv.Pos, kv.Key, err)
		}
		out = append(out, evaluate.Pair{Key: kv.Key, Value: v})
	}
	return out, nil
}
