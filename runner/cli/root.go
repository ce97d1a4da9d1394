// Package cli implements the gantry command line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitFailure = 1 // a job failed, a workflow is invalid for validate, an expression failed
	ExitUsage   = 2 // bad flags, unreadable input, invalid workflow for run
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// IO is where commands read and write.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	IsTTY    bool
}

// Main runs gantry with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdio IO) int {
	root := newRoot(stdio)
	root.SetArgs(args)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stdio.Err, "gantry:", ee.err)
		}
		return ee.code
	}
	// cobra's own errors: unknown flags and commands.
	fmt.Fprintln(stdio.Err, "gantry:", err)
	return ExitUsage
}

func newRoot(stdio IO) *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Run GitHub Actions workflows on your own machine, faithfully",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(newRunCmd(stdio), newValidateCmd(stdio), newExprCmd(stdio), newVersionCmd(stdio))
	root.AddCommand(newActionsCmd(stdio))
	root.AddCommand(newToolsCmd(stdio))
	root.AddCommand(newRunnerCmd(stdio))
	root.AddCommand(newCleanCmd(stdio))
	return root
}

// Version is stamped at build time with -ldflags "-X .../runner/cli.Version=...".
var Version = "dev"

func newVersionCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gantry version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(stdio.Out, "gantry", Version)
			return nil
		},
	}
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
