// Package flaky has a test that fails on its first run and passes after.
package flaky

// Ready says yes.
func Ready() bool { return true }
