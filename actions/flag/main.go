// Command flag is the feature-flag action: it flips a flag in a flag file
// (GitOps) or a flag service, safely (expectations, guards, temporary flips)
// and with an audit trail.
package main

import (
	"os"

	"github.com/gantry-ci/gantry/actions/flag/internal/flagaction"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func main() { os.Exit(actionkit.Main(flagaction.Run)) }
