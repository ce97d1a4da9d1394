// Package flags holds the provider-neutral model of a feature flag and the
// interfaces every flag system implements, so the flag action can read,
// change, validate and prove a change the same way for files and services.
package flags

import (
	"context"
	"encoding/json"
)

// State is what the action reads and reports about one flag.
type State struct {
	Key            string         `json:"key"`
	Enabled        bool           `json:"enabled"`                   // on/off (flagd "state", GOFF "disable" negated, Unleash environment enabled, ...)
	DefaultVariant string         `json:"default-variant,omitempty"` // served when no rule matches
	Variants       map[string]any `json:"variants,omitempty"`
	// Rollout is the share of users given RolloutVariant by the default rule,
	// 0-100; -1 when the flag has no percentage rollout.
	Rollout        int             `json:"rollout"`
	RolloutVariant string          `json:"rollout-variant,omitempty"`
	Targeting      json.RawMessage `json:"targeting,omitempty"` // provider-native rules, as JSON
}

// Change is what one flip asks for; nil fields stay as they are.
type Change struct {
	Enabled        *bool
	DefaultVariant *string
	// Rollout sends Percent% of users to Variant and the rest to the default
	// variant (or "off"/false for boolean flags).
	Rollout *Rollout
	// Targeting replaces the flag's targeting rules with provider-native JSON
	// (flagd JsonLogic, GOFF rules, an Unleash strategy list, ...).
	Targeting json.RawMessage
}

// Rollout is a percentage rollout of one variant.
type Rollout struct {
	Variant string
	Percent int
}

// Provider is a flag system the action talks to.
type Provider interface {
	// Name is the provider's input value (flagd, goff, unleash, launchdarkly, flipt).
	Name() string
	// Get reads one flag.
	Get(ctx context.Context, key string) (State, error)
	// Set applies c and returns the state before and after. With dryRun
	// nothing is changed and After is what the change would give.
	Set(ctx context.Context, key string, c Change, dryRun bool) (Outcome, error)
	// Validate checks the provider's configuration or files as a whole.
	Validate(ctx context.Context) error
}

// Outcome is the result of one Set.
type Outcome struct {
	Before, After State
	Changed       bool
	// Diff is a unified diff of the files changed (file providers) or of the
	// flag's JSON (services), for dry runs and summaries.
	Diff string
	// Files holds the new contents of changed files by repository-relative
	// path, for committing them (file providers only).
	Files map[string][]byte
}

// Document is a flag file format: the file providers are a Document plus a
// place the bytes live (the checkout, a path, or a GitHub branch).
type Document interface {
	Format() string // "flagd", "goff"
	Read(src []byte, key string) (State, error)
	// Edit returns src with only the flag's changed values rewritten: keys,
	// comments, indentation and the other flags stay byte for byte.
	Edit(src []byte, key string, c Change) ([]byte, error)
	// Validate checks the whole file against the format's schema/library and
	// names the line and column of problems.
	Validate(src []byte) error
	// Evaluate runs the format's own evaluation library over n synthetic
	// users (targetingKey user-0 ... user-n-1) and counts the variants served.
	Evaluate(src []byte, key string, n int) (map[string]int, error)
}
