// Package guard decides whether a flip stays: it watches a health signal (an
// HTTP endpoint or a Prometheus query) for a while after the flip and reports
// the first unhealthy verdict, so the action can flip the flag back.
package guard

import (
	"context"
	"fmt"
	"time"
)

// Result is one health verdict.
type Result struct {
	Healthy bool
	Detail  string // what was seen, for the log, the summary and the failure message
}

// Check reads the health signal once. A signal that cannot be read is
// unhealthy: a flip nobody can observe is not known to be safe.
type Check interface {
	Check(ctx context.Context) Result
	String() string // what is checked, for messages
}

// Watch checks c every interval until window has passed (once, right away,
// when window is 0) and returns the first verdict made of failures unhealthy
// checks in a row, or the last healthy one. log sees every check.
func Watch(ctx context.Context, c Check, window, interval time.Duration, failures int, log func(Result)) (Result, error) {
	if failures < 1 {
		failures = 1
	}
	if interval <= 0 {
		interval = 10 * time.Second
	}
	deadline := time.Now().Add(window)
	bad := 0
	var last Result
	for {
		last = c.Check(ctx)
		if ctx.Err() != nil {
			return last, fmt.Errorf("guard %s interrupted: %w", c, ctx.Err())
		}
		if log != nil {
			log(last)
		}
		if last.Healthy {
			bad = 0
		} else if bad++; bad >= failures {
			return last, nil
		}
		// The window closes on a healthy check only: a run of failures that
		// has started is seen to its verdict.
		if !time.Now().Before(deadline) && bad == 0 {
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("guard %s interrupted: %w", c, ctx.Err())
		case <-time.After(interval):
		}
	}
}
