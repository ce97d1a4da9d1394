package dockerbackend

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/jobenv"
)

// Issue 14.7: Ctrl-C at a random moment of a job's set-up (network,
// services, job container, named volumes) or of a step leaves nothing
// behind once the run's clean-up has run: every create the client gave up
// on is waited for and removed. Leftovers are counted by the run's label.
func TestCancelAtRandomMomentsLeavesNothing(t *testing.T) {
	e := connect(t)
	b := New(e)
	for trial := 0; trial < 8; trial++ {
		runID := fmt.Sprintf("cancel-%d-%d", runSeq, trial)
		delay := time.Duration(rand.IntN(700)) * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		timer := time.AfterFunc(delay, cancel)
		spec := jobenv.ContainerJobSpec{
			RunID: runID, Job: "j", Image: engine.DefaultImage,
			Volumes: []string{"gantry-test-" + runID + ":/data"},
		}
		if trial%2 == 0 {
			// A service that exits at once still makes the job network
			// and a container before the set-up fails or is cancelled.
			spec.Services = []jobenv.ServiceSpec{{ID: "svc", Image: "gantry/busybox:latest", Options: "--entrypoint sh",
				Volumes: []string{"gantry-svc-" + runID + ":/svc"}}}
		}
		job, err := b.StartJob(ctx, spec)
		if err == nil {
			_, _ = job.Run(ctx, jobenv.Process{Argv: []string{"sleep", "5"}, Stdout: io.Discard, Stderr: io.Discard})
			_ = job.Close(context.WithoutCancel(ctx))
		}
		timer.Stop()
		cancel()
		// What the scheduler does when the run ends.
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		if err := b.Cleanup(cctx, runID); err != nil {
			t.Errorf("trial %d (%s): clean-up: %v", trial, delay, err)
		}
		// A create the engine finishes after the client gave up shows up
		// late; give it the time a loaded engine takes before counting.
		time.Sleep(500 * time.Millisecond)
		left, err := e.Leftovers(cctx, runID)
		ccancel()
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("trial %d, cancelled after %s: left %v", trial, delay, left)
		}
	}
}
