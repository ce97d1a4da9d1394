// Package records tells the outside world about a canary rollout: GitHub
// deployments, Grafana annotations, Pushgateway metrics and webhooks.
//
// Records are best effort. The controller logs their errors as warnings, and
// Multi bounds every call so that a slow endpoint never holds up a rollback.
package records

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-multierror"
)

// Phases of an Event.
const (
	Started    = "started"
	Step       = "step"
	Paused     = "paused"
	Promoted   = "promoted"
	RolledBack = "rolled-back"
	Aborted    = "aborted"
	Failed     = "failed"
)

// Event is one thing that happened to a rollout.
type Event struct {
	Phase          string    `json:"phase"` // started, step, paused, promoted, rolled-back, aborted, failed
	Version        string    `json:"version"`
	Environment    string    `json:"environment"`
	Ref            string    `json:"ref,omitempty"`
	SHA            string    `json:"sha,omitempty"`
	Strategy       string    `json:"strategy,omitempty"`
	Description    string    `json:"description,omitempty"`
	LogURL         string    `json:"log_url,omitempty"`
	EnvironmentURL string    `json:"environment_url,omitempty"`
	Weight         int       `json:"weight"`
	Time           time.Time `json:"time"`
}

// Terminal reports whether the rollout ends with this event.
func (e Event) Terminal() bool {
	switch e.Phase {
	case Promoted, RolledBack, Aborted, Failed:
		return true
	}
	return false
}

func (e Event) when() time.Time {
	if e.Time.IsZero() {
		return time.Now()
	}
	return e.Time
}

func validPhase(p string) bool {
	switch p {
	case Started, Step, Paused, Promoted, RolledBack, Aborted, Failed:
		return true
	}
	return false
}

// Recorder records rollout events somewhere.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// DefaultTimeout bounds one Record call of one recorder in Multi.
const DefaultTimeout = 20 * time.Second

// Multi sends every event to all its recorders at once and waits at most
// Timeout (DefaultTimeout if zero) for them. A recorder that ignores its
// context is abandoned after the timeout and reported as timed out, so a
// record never holds up a rollback.
type Multi struct {
	Recorders []Recorder
	Timeout   time.Duration
}

// Record fans e out; the error, if any, is a *multierror.Error with one entry
// per failed recorder.
func (m *Multi) Record(ctx context.Context, e Event) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// Records still go out while the run is being cancelled: that is when a
	// rollback most needs recording.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()

	errs := make([]error, len(m.Recorders))
	done := make([]bool, len(m.Recorders))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, r := range m.Recorders {
		if r == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Record(ctx, e)
			mu.Lock()
			errs[i], done[i] = err, true
			mu.Unlock()
		}()
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		// A little grace for recorders that are returning their ctx error.
		select {
		case <-all:
		case <-time.After(time.Second):
		}
	}

	var result *multierror.Error
	mu.Lock()
	defer mu.Unlock()
	for i, r := range m.Recorders {
		if r == nil {
			continue
		}
		switch {
		case !done[i]:
			result = multierror.Append(result, fmt.Errorf("%s: no answer within %s, gave up (the %s event may be missing there)", name(r), timeout, e.Phase))
		case errs[i] != nil:
			result = multierror.Append(result, errs[i])
		}
	}
	return result.ErrorOrNil()
}

func name(r Recorder) string {
	if n, ok := r.(interface{ String() string }); ok {
		return n.String()
	}
	return fmt.Sprintf("recorder %T", r)
}

// serial lets one recorder handle one event at a time (events depend on the
// ones before, e.g. a status needs the deployment), giving up when ctx ends.
type serial chan struct{}

func newSerial() serial { return make(serial, 1) }

func (s serial) lock(ctx context.Context) error {
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("still busy with the previous event: %w", ctx.Err())
	}
}

func (s serial) unlock() { <-s }

// scrubbed is an error whose message has the secrets blanked out; it still
// unwraps to the original so that errors.Is works.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// scrub blanks secrets out of err's message, and replaces URLs that appear in
// a *url.Error with their scheme and host, since webhook URLs often carry a
// token in the path or query.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = strings.ReplaceAll(msg, ue.URL, redactURL(ue.URL))
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return &scrubbed{msg: msg, err: err}
}

// redactURL keeps scheme and host of raw, which is what one needs to tell
// which endpoint failed.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	if u.Path == "" && u.RawQuery == "" && u.User == nil {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
