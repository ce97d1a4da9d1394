package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestConcurrencyCancelInProgressAndSupersede(t *testing.T) {
	c := NewConcurrency()
	ctx := context.Background()
	firstCtx, cancelFirst := context.WithCancelCause(ctx)
	release1, err := c.Acquire(ctx, "g", false, cancelFirst)
	if err != nil {
		t.Fatal(err)
	}
	// A second arrival waits; a third supersedes it (GitHub keeps one pending).
	second := make(chan error, 1)
	go func() {
		_, err := c.Acquire(ctx, "g", false, nil)
		second <- err
	}()
	time.Sleep(50 * time.Millisecond)
	third := make(chan func(), 1)
	go func() {
		rel, err := c.Acquire(ctx, "g", true, nil)
		if err != nil {
			t.Errorf("third: %v", err)
		}
		third <- rel
	}()
	select {
	case err := <-second:
		if !errors.Is(err, errSuperseded) {
			t.Errorf("second: %v, want superseded", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("second was not superseded")
	}
	// cancel-in-progress of the third cancelled the first's work.
	select {
	case <-firstCtx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("cancel-in-progress did not cancel the running holder")
	}
	release1()
	select {
	case rel := <-third:
		rel()
	case <-time.After(2 * time.Second):
		t.Fatal("third never got the group")
	}
	// Empty groups do not serialise anything.
	r1, _ := c.Acquire(ctx, "", false, nil)
	r2, _ := c.Acquire(ctx, "", false, nil)
	r1()
	r2()
}
