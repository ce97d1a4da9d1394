package selfhosted

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
)

// Runner is the daemon: it connects to the forge, reports jobs a previous
// process left running as failed, then takes jobs until stopped.
type Runner struct {
	Protocol forge.Protocol
	Creds    *forge.Credentials
	Labels   []Label
	Executor forge.Executor
	// Dir is the runner's folder, for the in-flight job records.
	Dir string
	// Capacity is how many jobs run at once (1 when < 1).
	Capacity int
	// Once takes a single job, runs it and returns; Ephemeral runners do
	// the same (the server forgets them after their job).
	Once      bool
	Ephemeral bool
	// Grace is how long running jobs may go on after the stop context is
	// done before they are cancelled (and reported cancelled).
	Grace   time.Duration
	Logger  *slog.Logger
	Metrics *Metrics
}

// errShutdown is the cause of a job's context cancelled after the grace period.
var errShutdown = errors.New("the runner is shutting down")

// errServerCancel is the cause when the server cancelled the job.
var errServerCancel = errors.New("the job was cancelled on the server")

// Run serves until stop is done (SIGTERM), the single job of Once or
// Ephemeral has ended, or the session cannot go on. Running jobs get Grace
// to finish after stop; then they are cancelled and reported.
func (r *Runner) Run(stop context.Context) error {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	capacity := r.Capacity
	if capacity < 1 || r.Once || r.Ephemeral {
		capacity = 1
	}
	if r.Metrics != nil {
		r.Metrics.capacity.Set(float64(capacity))
	}
	sess, err := r.Protocol.Connect(stop, r.Creds, Names(r.Labels))
	if err != nil {
		return fmt.Errorf("connect to the forge: %w", err)
	}
	log.Info("runner connected", "forge", r.Creds.Forge, "name", r.Creds.Name, "labels", Names(r.Labels), "capacity", capacity)
	r.setHealthy(true)
	defer r.setHealthy(false)
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(stop), 10*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			log.Warn("close the session", "err", err)
		}
	}()

	flight := inflight{dir: r.Dir}
	r.failOrphans(stop, flight, log)

	// Jobs run on their own context: stop only ends polling; the grace
	// timer below cancels them.
	jobsCtx, cancelJobs := context.WithCancelCause(context.WithoutCancel(stop))
	defer cancelJobs(nil)
	var wg sync.WaitGroup
	slots := make(chan struct{}, capacity)
	var fatal error
	taken := 0

	pollCtx, cancelPoll := context.WithCancel(stop)
	defer cancelPoll()
loop:
	for {
		select {
		case slots <- struct{}{}:
		case <-pollCtx.Done():
			break loop
		}
		readyAt := time.Now()
		a, err := sess.Next(pollCtx)
		if err != nil {
			<-slots
			if pollCtx.Err() != nil {
				break loop
			}
			fatal = fmt.Errorf("the session ended: %w", err)
			log.Error("the session ended", "err", err)
			break loop
		}
		if a == nil {
			<-slots
			continue
		}
		taken++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.runOne(jobsCtx, a, flight, readyAt, log)
		}()
		if r.Once || r.Ephemeral {
			break loop
		}
	}
	cancelPoll()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if stop.Err() != nil {
		log.Info("stopping: no new jobs; waiting for running ones", "grace", r.Grace)
		grace := time.NewTimer(r.Grace)
		select {
		case <-done:
		case <-grace.C:
			log.Warn("grace period over: cancelling running jobs")
			cancelJobs(errShutdown)
			<-done
		}
		grace.Stop()
	} else {
		<-done
	}
	log.Info("runner stopped", "jobs", taken)
	return fatal
}

func (r *Runner) setHealthy(v bool) {
	if r.Metrics != nil {
		r.Metrics.healthy.Store(v)
	}
}

// failOrphans reports the jobs a previous process left in flight as failed.
func (r *Runner) failOrphans(ctx context.Context, flight inflight, log *slog.Logger) {
	orphans, err := flight.list()
	if err != nil {
		log.Error("read the in-flight jobs", "err", err)
		return
	}
	if len(orphans) == 0 {
		return
	}
	rep, ok := r.Protocol.(forge.OrphanReporter)
	for _, o := range orphans {
		if !ok {
			log.Warn("job of a previous runner process left unfinished; this forge cannot be told", "job", o.ServerID)
			_ = flight.remove(o.ServerID)
			continue
		}
		err := rep.FailOrphan(ctx, r.Creds, o, "the runner stopped while it ran this job (the process died or the machine restarted); gantry reports it failed rather than run it twice")
		if err != nil {
			log.Error("report a job of a previous runner process failed", "job", o.ServerID, "err", err)
			continue
		}
		log.Warn("reported a job of a previous runner process failed", "job", o.ServerID)
		_ = flight.remove(o.ServerID)
	}
}

// runOne runs one assignment to its end and reports it.
func (r *Runner) runOne(jobsCtx context.Context, a forge.Assignment, flight inflight, readyAt time.Time, log *slog.Logger) {
	ctx, cancel := context.WithCancelCause(jobsCtx)
	defer cancel(nil)
	go func() {
		select {
		case <-a.Cancelled():
			cancel(errServerCancel)
		case <-ctx.Done():
		}
	}()
	// Reports after the job's context is done still go out.
	reportCtx := context.WithoutCancel(ctx)

	job, err := a.Job()
	if err != nil {
		log.Error("job could not be read", "err", err)
		r.count(report.Failure, 0)
		if ferr := a.Fail(reportCtx, fmt.Errorf("gantry could not read the job: %w", err)); ferr != nil {
			log.Error("report the job failed", "err", ferr)
		}
		return
	}
	masker := mask.New()
	for _, v := range job.Secrets {
		masker.Add(v)
	}
	for _, v := range job.Masks {
		masker.Add(v)
	}
	jlog := log.With("job", job.ServerID, "workflow_job", job.JobID)
	o := forge.Orphan{ServerID: job.ServerID}
	if s, ok := a.(forge.Resumable); ok {
		o.State = s.State()
	}
	if err := flight.add(o); err != nil {
		// Without the record a crash could leave the job running forever
		// on the server; refuse it now rather than risk that.
		jlog.Error("record the job in flight", "err", err)
		if ferr := a.Fail(reportCtx, fmt.Errorf("the runner could not record the job: %v", err)); ferr != nil {
			jlog.Error("report the job failed", "err", ferr)
		}
		r.count(report.Failure, 0)
		return
	}
	if r.Metrics != nil {
		if !job.Queued.IsZero() {
			r.Metrics.queueWait.Observe(time.Since(job.Queued).Seconds())
		} else {
			r.Metrics.queueWait.Observe(time.Since(readyAt).Seconds())
		}
		r.Metrics.running.Inc()
	}
	start := time.Now()
	jlog.Info("job started")
	out, err := r.Executor.Execute(ctx, job, a.Reporter())
	elapsed := time.Since(start)
	if r.Metrics != nil {
		r.Metrics.running.Dec()
	}
	if err != nil {
		reason := errors.New(masker.Replace(err.Error()))
		jlog.Error("job could not run", "err", reason)
		r.count(report.Failure, elapsed)
		if ferr := a.Fail(reportCtx, reason); ferr != nil {
			jlog.Error("report the job failed", "err", ferr)
			return // keep the record: the next start reports it
		}
		_ = flight.remove(job.ServerID)
		return
	}
	if cause := context.Cause(ctx); cause != nil && out.Result == report.Cancelled {
		jlog.Warn("job cancelled", "why", cause.Error())
	}
	r.count(out.Result, elapsed)
	if err := a.Complete(reportCtx, out); err != nil {
		jlog.Error("report the job's end", "err", err)
		return
	}
	_ = flight.remove(job.ServerID)
	jlog.Info("job finished", "result", string(out.Result), "seconds", elapsed.Seconds())
}

func (r *Runner) count(result report.Result, d time.Duration) {
	if r.Metrics == nil {
		return
	}
	r.Metrics.jobs.WithLabelValues(string(result)).Inc()
	if d > 0 {
		r.Metrics.duration.Observe(d.Seconds())
	}
}
