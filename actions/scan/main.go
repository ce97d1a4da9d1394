// Command scan is the security scan action: secrets, risky workflows and
// Dockerfiles, reported as SARIF, annotations and a summary, failing by policy.
package main

import (
	"os"

	"github.com/gantry-ci/gantry/actions/scan/internal/scanaction"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func main() { os.Exit(actionkit.Main(scanaction.Run)) }
