// Command demo is what scripts/demo.sh runs: the shop's delivery pipeline
// under Gantry against a production stack on loopback, for a good and a bad
// release, with a short report.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/gantry-ci/gantry/examples/delivery"
)

func main() {
	keep := flag.Bool("keep", false, "leave the stack running after the demo (until Ctrl-C)")
	blueGreen := flag.Bool("blue-green", false, "release blue-green instead of as a canary")
	verbose := flag.Bool("v", false, "stream the pipeline's log")
	flag.Parse()
	repo, err := filepath.Abs(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strategy := "canary"
	if *blueGreen {
		strategy = "blue-green"
	}
	v := strings.SplitN(strings.TrimPrefix(runtime.Version(), "go"), ".", 3)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = delivery.Demo(ctx, delivery.DemoOptions{Repo: repo, Strategy: strategy, Keep: *keep, Verbose: *verbose,
		Out: os.Stdout, GoImage: "gantry/golang:" + v[0] + "." + v[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
