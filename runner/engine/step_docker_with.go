package engine

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/shellwords"
)

// A step's with.args and with.entrypoint override a docker action's
// runs.args and runs.entrypoint, as GitHub documents for
// jobs.<job_id>.steps[*].with.args/entrypoint (its example is a repository
// action, not only docker://). The args string is split like a shell's words.

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

// mainEntrypoint is with.entrypoint when the step gives one, else runs.entrypoint.
func mainEntrypoint(la *loadedAction, inputs map[string]string) string {
	if e, ok := lookupFold(inputs, "entrypoint"); ok && e != "" {
		return e
	}
	return la.meta.Runs.Entrypoint
}
