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

// reaper removes the folders of finished jobs in the background, one at a
// time, so that a job's dependents need not wait for its clean-up (on a
// busy disk, removing folders costs milliseconds each); the run waits for
// it before it ends, so nothing is left behind.
type reaper struct {
	mu    sync.Mutex
	queue chan string
	done  chan struct{}
}

func (r *reaper) remove(dir string) {
	r.mu.Lock()
	if r.queue == nil {
		r.queue, r.done = make(chan string, 1024), make(chan struct{})
		go func(q <-chan string, done chan<- struct{}) {
			defer close(done)
			for d := range q {
				_ = os.RemoveAll(d)
			}
		}(r.queue, r.done)
	}
	q := r.queue
	r.mu.Unlock()
	q <- dir
}

// wait removes what is queued and stops the worker.
func (r *reaper) wait() {
	r.mu.Lock()
	q, done := r.queue, r.done
	r.queue = nil
	r.mu.Unlock()
	if q != nil {
		close(q)
		<-done
	}
}
