// Command canary is the canary-deploy action: it deploys a new version
// beside the stable one, shifts real traffic to it in steps, judges every
// step from metrics, and promotes or rolls back on its own.
package main

import (
	"os"

	"github.com/gantry-ci/gantry/actions/canary/internal/canaryaction"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func main() { os.Exit(actionkit.Main(canaryaction.Run)) }
