// Package router shifts traffic between the stable and the canary version.
// Every router can set a weight, read it back to verify it, and finalize.
package router

import (
	"context"
	"fmt"
)

// Router moves traffic between two backends.
type Router interface {
	// SetWeight sends percent of the traffic to the canary, the rest to stable.
	SetWeight(ctx context.Context, percent int) error
	// Weight reads back the share the router really applies.
	Weight(ctx context.Context) (int, error)
}

// SetAndVerify sets the weight and reads it back: a router that accepted a
// command but routes differently must not pass unnoticed.
func SetAndVerify(ctx context.Context, r Router, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("weight %d%% is outside 0-100", percent)
	}
	if err := r.SetWeight(ctx, percent); err != nil {
		return err
	}
	got, err := r.Weight(ctx)
	if err != nil {
		return fmt.Errorf("read back weight: %w", err)
	}
	if got != percent {
		return fmt.Errorf("router reports %d%% to the canary after setting %d%%", got, percent)
	}
	return nil
}
