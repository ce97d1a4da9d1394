// Command scan-gocode is the scan action's gocode scanner (gosec) in a
// process of its own: gosec's dependencies cost tens of milliseconds and
// megabytes at start-up, which every other scan would pay if they were
// linked into the action. It reads a gocoderun.Request on stdin and writes
// the findings as JSON on stdout.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/gantry-ci/gantry/actions/scan/internal/gocode"
	"github.com/gantry-ci/gantry/actions/scan/internal/gocoderun"
)

func main() {
	var req gocoderun.Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "scan-gocode: read the request on stdin: %v\n", err)
		os.Exit(2)
	}
	fs, err := gocode.Scan(req.Root, req.Skipper())
	if err != nil {
		fmt.Fprintf(os.Stderr, "scan-gocode: %v\n", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(fs); err != nil {
		fmt.Fprintf(os.Stderr, "scan-gocode: %v\n", err)
		os.Exit(1)
	}
}
