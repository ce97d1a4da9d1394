// Command test is the test action: run Go tests (or any runner with JUnit
// XML) and report them where developers look.
package main

import (
	"os"

	"github.com/gantry-ci/gantry/actions/test/internal/testaction"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func main() { os.Exit(actionkit.Main(testaction.Run)) }
