package cli

import (
	"errors"
	"fmt"

	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/spf13/cobra"
)

func newValidateCmd(stdio IO) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Check workflow files; print file:line:col: message for each problem",
		Long: `Check workflow files (default: .github/workflows). Each PATH is a file or a
directory of *.yml/*.yaml files. Exit 0 when all are valid, 1 when not.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{".github/workflows"}
			}
			bad := 0
			for _, p := range args {
				wfs, err := workflow.Load(p)
				printWarnings(stdio, wfs)
				if err == nil {
					continue
				}
				bad++
				printWorkflowErrors(stdio, err)
			}
			if bad > 0 {
				return withCode(ExitFailure, nil)
			}
			return nil
		},
	}
}

// printWorkflowErrors prints one problem a line.
func printWorkflowErrors(stdio IO, err error) {
	var list workflow.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stdio.Err, e.Error())
		}
		return
	}
	fmt.Fprintln(stdio.Err, err)
}

// printWarnings prints problems GitHub ignores (the workflows stay valid).
func printWarnings(stdio IO, wfs []*workflow.Workflow) {
	for _, wf := range wfs {
		for _, w := range wf.Warnings {
			fmt.Fprintf(stdio.Err, "%s: warning: %s\n", w.Pos, w.Msg)
		}
	}
}
