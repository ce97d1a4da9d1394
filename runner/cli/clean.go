package cli

import (
	"context"
	"fmt"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/runstate"
	"github.com/spf13/cobra"
)

func newCleanCmd(stdio IO) *cobra.Command {
	var dry bool
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove what killed gantry runs left behind",
		Long: `Remove the containers, networks, volumes, work folders and step processes of
gantry runs whose process is gone (killed, or left with a second Ctrl-C).
Runs still in progress are not touched. Every gantry run does this too
when it starts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return clean(cmd.Context(), stdio, dry)
		},
	}
	cmd.Flags().BoolVarP(&dry, "dry-run", "n", false, "list what would be removed, remove nothing")
	return cmd
}

func clean(ctx context.Context, stdio IO, dry bool) error {
	dir := runstate.Dir()
	if !dry {
		if sweep(ctx, stdio, stdio.Out, dir, "removed what run pid %d left: %s\n") == 0 {
			fmt.Fprintln(stdio.Out, "nothing to clean")
		}
		return nil
	}
	stale, err := runstate.Stale(dir)
	if err != nil {
		return withCode(ExitFailure, err)
	}
	var d runstate.Docker
	if e, err := container.Connect(ctx); err == nil {
		defer e.Close()
		d = e
	}
	n := 0
	for _, r := range stale {
		left, _ := r.Find(ctx, d)
		if !left.Empty() {
			fmt.Fprintf(stdio.Out, "run pid %d (started %s) left: %s\n", r.PID, r.Started.Format("2006-01-02 15:04:05"), left)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(stdio.Out, "nothing to clean")
	}
	return nil
}
