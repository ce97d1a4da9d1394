package github

import "time"

func init() {
	// Tests retry in milliseconds, not seconds.
	retryMin, retryMax = 5*time.Millisecond, 50*time.Millisecond
}

// SetFlushLimit shortens how long a job's reports may take, for a test.
func SetFlushLimit(d time.Duration) (restore func()) {
	old := flushLimit
	flushLimit = d
	return func() { flushLimit = old }
}
