// Package fleet is gantry's small autoscaler: a supervisor that keeps up to
// Max ephemeral runners alive against one forge. Each worker is registered
// anew (a JIT config on GitHub, an ephemeral registration on Gitea and
// Forgejo), takes one job and ends; the supervisor then removes what is
// left of it and starts another, so no more than Max jobs run at once and
// every job gets a runner that never ran another.
package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// Provisioner registers one new ephemeral runner with the forge, and
// removes one that ended; took says whether it ran a job (the server
// forgets such a runner by itself).
type Provisioner interface {
	Provision(ctx context.Context, name string) (*forge.Credentials, error)
	Deprovision(ctx context.Context, creds *forge.Credentials, took bool) error
}

// Supervisor keeps up to Max ephemeral workers serving the forge's queue.
// An idle worker long-polls; a worker that took its job is replaced as
// soon as it ends, so up to Max jobs run at once while jobs wait.
type Supervisor struct {
	Max         int
	Dir         string // each worker's folder is Dir/workers/NAME, removed after it
	Prefix      string // worker names are PREFIX-<8 hex>
	Protocol    forge.Protocol
	Provisioner Provisioner
	Labels      []selfhosted.Label
	Executor    forge.Executor
	// Grace is how long running jobs may go on after stop (SIGTERM).
	Grace  time.Duration
	Logger *slog.Logger
	// Backoff bounds the wait between failed registrations (1s..1m when zero).
	BackoffMin, BackoffMax time.Duration
	// OnWorker, when set, is called as each worker starts and ends (tests,
	// metrics): delta +1 or -1.
	OnWorker func(name string, delta int)
}

// Run serves until stop is done. Then idle workers stop polling at once,
// running ones get Grace to finish, and every worker's registration is
// removed where the protocol can remove one, and its folder deleted.
// A registration that fails before any worker ran (a wrong token) is
// returned as the error; later failures are retried with backoff.
func (s *Supervisor) Run(stop context.Context) error {
	if s.Max < 1 {
		return fmt.Errorf("--max-runners %d: give at least 1", s.Max)
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bmin, bmax := s.BackoffMin, s.BackoffMax
	if bmin <= 0 {
		bmin = time.Second
	}
	if bmax < bmin {
		bmax = max(bmin, time.Minute)
	}
	workers := filepath.Join(s.Dir, "workers")
	// Folders a killed supervisor left: their runners' credentials died
	// with it (they were never written down), so the forge fails their
	// jobs by its own timeout; only the folders remain to tidy.
	if old, _ := os.ReadDir(workers); len(old) > 0 {
		for _, e := range old {
			log.Warn("removing the folder of a runner a previous supervisor left", "runner", e.Name())
			_ = os.RemoveAll(filepath.Join(workers, e.Name()))
		}
	}
	if err := os.MkdirAll(workers, 0o700); err != nil {
		return fmt.Errorf("workers folder: %w", err)
	}
	slots := make(chan struct{}, s.Max)
	var wg sync.WaitGroup
	var started atomic.Int64
	// broken counts workers in a row that ended in an error before taking
	// a job (a session the server refuses): back off as for registrations.
	var broken atomic.Int64
	failures := 0
	backoff := func(n int) time.Duration {
		return min(time.Duration(float64(bmin)*math.Pow(2, float64(min(n-1, 16)))), bmax)
	}
	log.Info("fleet started", "max_runners", s.Max)
loop:
	for {
		select {
		case slots <- struct{}{}:
		case <-stop.Done():
			break loop
		}
		if n := broken.Load(); n > 0 {
			select {
			case <-time.After(backoff(int(n))):
			case <-stop.Done():
				<-slots
				break loop
			}
		}
		name := s.Prefix + "-" + randHex(4)
		// Not cut short by stop: a registration the server made but whose
		// answer we dropped could not be removed.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(stop), time.Minute)
		creds, err := s.Provisioner.Provision(pctx, name)
		cancel()
		if err == nil && stop.Err() != nil {
			s.deprovision(stop, creds, false, log.With("runner", name))
			<-slots
			break loop
		}
		if err != nil {
			<-slots
			if stop.Err() != nil {
				break loop
			}
			if started.Load() == 0 {
				wg.Wait()
				_ = os.Remove(workers)
				return fmt.Errorf("register a runner: %w", err)
			}
			failures++
			wait := backoff(failures)
			log.Error("register a runner; retrying", "err", err, "in", wait)
			select {
			case <-time.After(wait):
			case <-stop.Done():
				break loop
			}
			continue
		}
		failures = 0
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if s.work(stop, filepath.Join(workers, name), name, creds, log) {
				broken.Add(1)
			} else {
				broken.Store(0)
			}
		}()
	}
	wg.Wait()
	_ = os.Remove(workers) // empty: each worker removed its own
	log.Info("fleet stopped", "runners", started.Load())
	return nil
}

// work runs one ephemeral worker to its end and removes what it leaves;
// it reports a worker that failed before it took a job.
func (s *Supervisor) work(stop context.Context, dir, name string, creds *forge.Credentials, log *slog.Logger) (failed bool) {
	wlog := log.With("runner", name)
	if s.OnWorker != nil {
		s.OnWorker(name, +1)
		defer s.OnWorker(name, -1)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			wlog.Warn("remove the worker's folder", "err", err)
		}
	}()
	ex := &tracked{Executor: s.Executor}
	r := &selfhosted.Runner{
		Protocol: s.Protocol, Creds: creds, Labels: s.Labels, Executor: ex,
		Dir: dir, Ephemeral: true, Grace: s.Grace, Logger: wlog,
	}
	err := r.Run(stop)
	if err != nil && stop.Err() == nil {
		wlog.Error("worker ended", "err", err)
		failed = !ex.took.Load()
	}
	// The server forgets an ephemeral runner after its job; one stopped
	// while idle is still registered: remove it where the protocol can.
	s.deprovision(stop, creds, ex.took.Load(), wlog)
	return failed
}

func (s *Supervisor) deprovision(stop context.Context, creds *forge.Credentials, took bool, log *slog.Logger) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(stop), 30*time.Second)
	defer cancel()
	if err := s.Provisioner.Deprovision(rctx, creds, took); err != nil {
		log.Warn("remove the runner's registration", "err", err)
	}
}

// tracked notes whether a worker's runner got to run its job.
type tracked struct {
	forge.Executor
	took atomic.Bool
}

func (t *tracked) Execute(ctx context.Context, job *forge.Job, rep report.Job) (*forge.Outcome, error) {
	t.took.Store(true)
	return t.Executor.Execute(ctx, job, rep)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
