package github

import "time"

func init() {
	// Tests retry in milliseconds, not seconds.
	retryMin, retryMax = 5*time.Millisecond, 50*time.Millisecond
}
