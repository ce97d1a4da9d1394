package cli

// The forge protocols `gantry runner` knows; each registers itself in init.
import (
	_ "github.com/gantry-ci/gantry/runner/forge/gitea"
	_ "github.com/gantry-ci/gantry/runner/forge/github"
)
