// Command gantry runs GitHub Actions workflows on your own machine.
package main

import (
	"context"
	"os"

	"github.com/gantry-ci/gantry/runner/cli"
	"github.com/mattn/go-isatty"
)

func main() {
	tty := isatty.IsTerminal(os.Stdout.Fd())
	os.Exit(cli.Main(context.Background(), os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, IsTTY: tty}))
}
