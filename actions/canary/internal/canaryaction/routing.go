package canaryaction

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/canary/internal/rollout"
	"github.com/gantry-ci/gantry/actions/canary/internal/router"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// routerConfig is the router part of the inputs.
type routerConfig struct {
	kind  string
	slots [2]string
	match *router.Match

	socket, backend, mapFile, stateFile string // haproxy

	upstreamFile, upstream, pidFile string // nginx
	nginxArgs                       []string
}

func readRouter(k *actionkit.Kit) routerConfig {
	rc := routerConfig{kind: k.OneOf("router", "haproxy", "haproxy", "nginx")}
	slots := actionkit.SplitList(k.String("slots", "blue,green"))
	if len(slots) != 2 || slots[0] == slots[1] {
		k.Invalid("slots", "name the two server slots the versions take turns in, e.g. blue,green (got %q)", strings.Join(slots, ","))
	} else {
		rc.slots = [2]string{slots[0], slots[1]}
	}
	if m := k.String("canary-header", ""); m != "" {
		name, value, ok := strings.Cut(m, "=")
		if !ok || name == "" || value == "" {
			k.Invalid("canary-header", "use NAME=VALUE, e.g. X-Canary=always")
		} else {
			rc.match = &router.Match{Header: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
		}
	}
	if m := k.String("canary-cookie", ""); m != "" {
		name, value, ok := strings.Cut(m, "=")
		if !ok || name == "" || value == "" {
			k.Invalid("canary-cookie", "use NAME=VALUE, e.g. canary=1")
		} else if rc.match != nil {
			k.Invalid("canary-cookie", "give canary-header or canary-cookie, not both")
		} else {
			rc.match = &router.Match{Cookie: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
		}
	}
	switch rc.kind {
	case "haproxy":
		rc.socket = k.String("haproxy-socket", "")
		if rc.socket == "" {
			k.Invalid("haproxy-socket", "give HAProxy's stats socket (a unix path or host:port, level admin)")
		}
		rc.backend = k.String("haproxy-backend", "")
		if rc.backend == "" {
			k.Invalid("haproxy-backend", "name the HAProxy backend that holds both slots")
		}
		rc.mapFile = k.String("haproxy-map-file", "")
		rc.stateFile = k.String("haproxy-state-file", "")
		if rc.match != nil && rc.mapFile == "" {
			k.Invalid("haproxy-map-file", "header and cookie routes need the map file the backend looks requests up in (see the action's README)")
		}
	case "nginx":
		rc.upstreamFile = k.String("nginx-upstream-file", "")
		if rc.upstreamFile == "" {
			k.Invalid("nginx-upstream-file", "give the file nginx.conf includes for the upstream block")
		}
		rc.upstream = k.String("nginx-upstream", "app")
		rc.pidFile = k.String("nginx-pid-file", "")
		rc.nginxArgs = strings.Fields(k.String("nginx-args", ""))
	}
	return rc
}

// routers builds a rollout.Routers for the configured router.
func (rc routerConfig) routers() rollout.Routers {
	return func(stable, canary state.Release) (rollout.Router, error) {
		canarySlot := canary.Slot
		if canarySlot == "" {
			canarySlot = otherSlot(rc.slots, stable.Slot)
		}
		switch rc.kind {
		case "nginx":
			if stable.Addr == "" {
				return nil, fmt.Errorf("the nginx router needs the stable's address: give stable-address")
			}
			n := &router.Nginx{UpstreamFile: rc.upstreamFile, Upstream: rc.upstream, Stable: stable.Addr,
				Canary: canary.Addr, Args: rc.nginxArgs, PidFile: rc.pidFile}
			return &adapter{r: n, match: rc.match}, nil
		default:
			h := &router.HAProxy{Socket: rc.socket, Backend: rc.backend, MapFile: rc.mapFile, StateFile: rc.stateFile, Stable: stable.Slot, Canary: canarySlot}
			return &adapter{r: h, match: rc.match}, nil
		}
	}
}

func otherSlot(slots [2]string, s string) string {
	if s == slots[0] {
		return slots[1]
	}
	return slots[0]
}

// fullRouter is what the routers package offers beyond weights.
type fullRouter interface {
	router.Router
	SetAddress(ctx context.Context, role router.Role, host string, port int) error
	Finalize(ctx context.Context, winner router.Role) error
	RouteMatch(ctx context.Context, m router.Match) error
	ClearMatches(ctx context.Context) error
}

// adapter gives the controller the router it expects; header routing to the
// canary is switched on once the canary slot points at the new version.
type adapter struct {
	r     fullRouter
	match *router.Match
}

func (a *adapter) SetWeight(ctx context.Context, p int) error { return a.r.SetWeight(ctx, p) }
func (a *adapter) Weight(ctx context.Context) (int, error)    { return a.r.Weight(ctx) }

func (a *adapter) PointCanary(ctx context.Context, addr string) error {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("canary address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("canary address %q: bad port", addr)
	}
	if err := a.r.SetAddress(ctx, router.Canary, host, port); err != nil {
		return err
	}
	if a.match != nil {
		return a.r.RouteMatch(ctx, *a.match)
	}
	return nil
}

func (a *adapter) Finalize(ctx context.Context, canaryWins bool) error {
	if canaryWins {
		return a.r.Finalize(ctx, router.Canary)
	}
	return a.r.Finalize(ctx, router.Stable)
}
