package scheduler

import (
	"fmt"
	"os"
	"sync"

	"github.com/gantry-ci/gantry/runner/workspace"
)

// overlays are the copy-on-write providers, one per repository, shared by
// every run of the process so that a machine without overlay mounts is
// told once, not once per workflow.
var overlays sync.Map // repo -> *workspace.Overlay

// defaultWorkspace gives each job a copy-on-write overlay of the
// repository (one mount, whatever its size), falling back to a full copy
// where overlay mounts are not allowed.
func defaultWorkspace(repo string) workspace.Provider {
	o, _ := overlays.LoadOrStore(repo, &workspace.Overlay{
		Repo: repo,
		Fallback: func(reason string) {
			fmt.Fprintf(os.Stderr, "gantry: %s (-b binds the repository itself)\n", reason)
		},
	})
	return o.(*workspace.Overlay)
}
