package router

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// HAProxy drives weights through HAProxy's runtime API (no reload): the
// stable and canary servers of one backend get weights that add up to 100.
type HAProxy struct {
	// Socket is the stats socket: a unix path, or host:port for a TCP socket.
	Socket  string
	Backend string
	Stable  string // server name of the stable version
	Canary  string // server name of the canary version
	Timeout time.Duration
}

var _ Router = (*HAProxy)(nil)

// command sends one runtime API command and returns its answer.
func (h *HAProxy) command(ctx context.Context, cmd string) (string, error) {
	network := "unix"
	if !strings.HasPrefix(h.Socket, "/") && strings.Contains(h.Socket, ":") {
		network = "tcp"
	}
	timeout := h.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, network, h.Socket)
	if err != nil {
		return "", fmt.Errorf("haproxy runtime API at %s: %w", h.Socket, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(conn, "%s\n", cmd); err != nil {
		return "", fmt.Errorf("haproxy %q: %w", cmd, err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		out.WriteString(sc.Text())
		out.WriteByte('\n')
	}
	return strings.TrimSpace(out.String()), nil
}

func (h *HAProxy) setServer(ctx context.Context, server string, weight int) error {
	cmd := fmt.Sprintf("set server %s/%s weight %d", h.Backend, server, weight)
	out, err := h.command(ctx, cmd)
	if err != nil {
		return err
	}
	// Success is an empty answer; anything else is HAProxy's error message.
	if out != "" {
		return fmt.Errorf("haproxy %q: %s", cmd, out)
	}
	return nil
}

// SetWeight implements Router. The canary is lowered first when shifting
// back, so the pair never sums to more than both could serve.
func (h *HAProxy) SetWeight(ctx context.Context, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("weight %d%% is outside 0-100", percent)
	}
	if err := h.setServer(ctx, h.Canary, percent); err != nil {
		return err
	}
	return h.setServer(ctx, h.Stable, 100-percent)
}

func (h *HAProxy) getServer(ctx context.Context, server string) (int, error) {
	out, err := h.command(ctx, fmt.Sprintf("get weight %s/%s", h.Backend, server))
	if err != nil {
		return 0, err
	}
	// "25 (initial 50)"
	n, err := strconv.Atoi(strings.Fields(out + " x")[0])
	if err != nil {
		return 0, fmt.Errorf("haproxy get weight %s/%s: unexpected answer %q", h.Backend, server, out)
	}
	return n, nil
}

// Weight implements Router: the canary's share of the two weights.
func (h *HAProxy) Weight(ctx context.Context) (int, error) {
	c, err := h.getServer(ctx, h.Canary)
	if err != nil {
		return 0, err
	}
	s, err := h.getServer(ctx, h.Stable)
	if err != nil {
		return 0, err
	}
	if c+s == 0 {
		return 0, fmt.Errorf("haproxy backend %s has no weight on either server", h.Backend)
	}
	return (100*c + (c+s)/2) / (c + s), nil
}
