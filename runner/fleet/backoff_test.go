package fleet_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/fleet"
	"github.com/gantry-ci/gantry/runner/forge"
)

// refusing is a forge whose sessions are always refused (a revoked
// runner group, say): registrations work, every worker fails at Connect.
type refusing struct{ provisioned, removed atomic.Int64 }

func (r *refusing) Register(context.Context, forge.Registration) (*forge.Credentials, error) {
	return nil, errors.New("unused")
}
func (r *refusing) Connect(context.Context, *forge.Credentials, []string) (forge.Session, error) {
	return nil, errors.New("401 the runner's credentials are refused")
}
func (r *refusing) Remove(context.Context, *forge.Credentials) error { return nil }
func (r *refusing) Provision(_ context.Context, name string) (*forge.Credentials, error) {
	r.provisioned.Add(1)
	return &forge.Credentials{Forge: "test", Name: name}, nil
}
func (r *refusing) Deprovision(context.Context, *forge.Credentials, bool) error {
	r.removed.Add(1)
	return nil
}

// Workers that keep failing before they take a job are replaced with
// backoff, not in a tight loop, and each is deprovisioned.
func TestFailingWorkersBackOff(t *testing.T) {
	f := &refusing{}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	err := (&fleet.Supervisor{Max: 2, Dir: dir, Prefix: "x", Protocol: f, Provisioner: f, Executor: newGauge(t),
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, Logger: logger()}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Without backoff this is thousands; with it: 2 at once, then waits of
	// 50, 100, 200, 200 ms...
	if n := f.provisioned.Load(); n < 2 || n > 14 {
		t.Errorf("%d runners registered in 600ms", n)
	}
	if f.removed.Load() != f.provisioned.Load() {
		t.Errorf("%d registered, %d removed", f.provisioned.Load(), f.removed.Load())
	}
	emptyDir(t, dir)
}
