// Command build is the build action: reproducible binaries, archives,
// checksums and SBOMs.
package main

import (
	"os"

	"github.com/gantry-ci/gantry/actions/build/internal/buildaction"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func main() { os.Exit(actionkit.Main(buildaction.Run)) }
