package engine

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/shellwords"
)

// A step's with.args and with.entrypoint stand in for a docker action's
// runs.args and runs.entrypoint when action.yml has none, as GitHub's runner
// does (its container action handler takes runs.entrypoint, else the
// entryPoint input, for the main stage; runs.args, else the args input).
// The args string is split like a shell's words, as docker's command line
// receives it.

// withArgs returns the step's with.args as container arguments, or ok=false
// when the step gives none.
func withArgs(inputs map[string]string) (args []string, ok bool, err error) {
	a, ok := lookupFold(inputs, "args")
	if !ok || a == "" {
		return nil, false, nil
	}
	args, err = shellwords.Split(a)
	if err != nil {
		return nil, false, fmt.Errorf("with.args: %w", err)
	}
	return args, true, nil
}

// mainEntrypoint is runs.entrypoint, else the step's with.entrypoint.
func mainEntrypoint(la *loadedAction, inputs map[string]string) string {
	if la.meta.Runs.Entrypoint != "" {
		return la.meta.Runs.Entrypoint
	}
	e, _ := lookupFold(inputs, "entrypoint")
	return e
}
