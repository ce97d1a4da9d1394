package dockerbackend

import (
	"fmt"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/internal/shellwords"
	"github.com/gantry-ci/gantry/runner/jobenv"
)

// serviceOverrides applies a service's entrypoint: (the program, as
// docker --entrypoint takes it) and command: (its arguments, split like a
// shell) to the container spec.
func serviceOverrides(cs *container.Spec, s jobenv.ServiceSpec) error {
	if s.Entrypoint != "" {
		cs.Entrypoint = []string{s.Entrypoint}
	}
	if s.Command != "" {
		args, err := shellwords.Split(s.Command)
		if err != nil {
			return fmt.Errorf("command %q: %w", s.Command, err)
		}
		cs.Cmd = args
	}
	return nil
}
