// Package router shifts traffic between the stable and the canary version.
// Every router sets a weight and reads it back to verify it; both routers
// here can also pin requests to the canary by header or cookie, point a
// slot at a new address, finalize onto one version, and swap roles.
package router

import (
	"context"
	"fmt"
	"strings"
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

// Role names a version's part in the rollout.
type Role int

const (
	Stable Role = iota
	Canary
)

func (r Role) String() string {
	switch r {
	case Stable:
		return "stable"
	case Canary:
		return "canary"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

func (r Role) valid() error {
	if r != Stable && r != Canary {
		return fmt.Errorf("unknown %v: use router.Stable or router.Canary", r)
	}
	return nil
}

// Match picks requests that go to the canary whatever the weights: those
// carrying header Header with value Value, or cookie Cookie=Value. Set
// exactly one of Header and Cookie. Values compare case-insensitively (nginx
// maps do, so HAProxy is made to agree).
type Match struct{ Header, Cookie, Value string }

// Matcher is implemented by routers that can pin matching requests to the
// canary.
type Matcher interface {
	// RouteMatch adds a route; routes added before stay.
	RouteMatch(ctx context.Context, m Match) error
	// ClearMatches removes every route, so only the weights decide.
	ClearMatches(ctx context.Context) error
}

func (m Match) String() string {
	if m.Header != "" {
		return fmt.Sprintf("header %s: %s", m.Header, m.Value)
	}
	return fmt.Sprintf("cookie %s=%s", m.Cookie, m.Value)
}

// The character sets are the ones both routers can express without
// quoting: nginx turns names into variable names, HAProxy puts them in a
// regex sent over its line-based CLI.
const (
	nameChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
	valueChars = nameChars + "_.~!*+/:=@%^|&?"
)

func (m Match) validate() error {
	only := func(what, s, set string) error {
		if s == "" {
			return fmt.Errorf("route %s: the %s is empty", m, what)
		}
		if len(s) > 128 {
			return fmt.Errorf("route %s: the %s is longer than 128 characters", m, what)
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(set, r) }); i >= 0 {
			return fmt.Errorf("route %s: the %s may not contain %q (allowed: letters, digits and %s)",
				m, what, s[i:i+1], strings.TrimLeft(set, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
		}
		return nil
	}
	switch {
	case m.Header != "" && m.Cookie != "":
		return fmt.Errorf("route %+v: give a header or a cookie, not both", m)
	case m.Header != "":
		if err := only("header name", m.Header, nameChars); err != nil {
			return err
		}
	case m.Cookie != "":
		if err := only("cookie name", m.Cookie, nameChars+"_"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("route %+v: give a header or a cookie to match", m)
	}
	return only("value", m.Value, valueChars)
}
