package router

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// HAProxy drives weights through HAProxy's runtime API (no reload): the
// stable and canary servers of one backend get weights that add up to 100.
//
// Header and cookie routes live in a map file that only gantry edits, through
// the runtime API (add/del/clear map), so they need no reload either. Each
// entry is a regex over the request's header block whose value is the server
// to use; this is what lets the header or cookie name be chosen at run time.
// The backend needs these lines (testdata/haproxy.cfg is a tested example;
// the map file must exist, it may be empty; blue and green are the two
// server slots):
//
//	backend app
//	  balance roundrobin
//	  http-request set-var(txn.gantry_canary) req.hdrs,map_reg(/etc/haproxy/gantry-canary.map)
//	  use-server blue if { var(txn.gantry_canary) -m str blue }
//	  use-server green if { var(txn.gantry_canary) -m str green }
//	  server blue 10.0.0.1:8080 weight 100
//	  server green 10.0.0.2:8080 weight 0
//
// The regexes use POSIX classes only; they are tested with PCRE2, which
// Debian's and the official images use.
//
// Runtime changes live in memory: a reload brings back the file's weights,
// addresses and (empty) map, unless StateFile is set and the config loads
// it, which keeps a rollout's traffic split across reloads:
//
//	global
//	  server-state-file /var/lib/haproxy/gantry.state
//	defaults
//	  load-server-state-from-file global
type HAProxy struct {
	// Socket is the stats socket: a unix path, or host:port for a TCP socket.
	Socket  string
	Backend string
	Stable  string // server name of the stable version
	Canary  string // server name of the canary version
	Timeout time.Duration
	// MapFile is the map file's path exactly as the config names it in
	// map_reg(...); empty when no header or cookie routes are configured.
	MapFile string
	// StateFile is HAProxy's server-state-file. When set, every change is
	// followed by writing `show servers state` there (HAProxy's own format)
	// and the route entries into MapFile, so both must be paths this
	// process can write and HAProxy reads on its next start.
	StateFile string
}

var (
	_ Router  = (*HAProxy)(nil)
	_ Matcher = (*HAProxy)(nil)
)

// Admin state bits of `show servers state`: maintenance of any kind or
// drain means the server gets no load-balanced traffic whatever its weight.
const (
	adminForcedMaint = 0x01
	adminForcedDrain = 0x08
)

func (h *HAProxy) String() string {
	s := fmt.Sprintf("haproxy backend %s at %s (stable %s, canary %s", h.Backend, h.Socket, h.Stable, h.Canary)
	if h.MapFile != "" {
		s += ", routes in " + h.MapFile
	}
	return s + ")"
}

// Swapped is the same router with the roles exchanged: after a promotion
// the canary's slot serves as stable and the old stable slot takes the next
// canary.
func (h *HAProxy) Swapped() *HAProxy {
	c := *h
	c.Stable, c.Canary = h.Canary, h.Stable
	return &c
}

func (h *HAProxy) server(role Role) string {
	if role == Canary {
		return h.Canary
	}
	return h.Stable
}

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

// silent runs a command whose success is an empty answer; anything else is
// HAProxy's error message.
func (h *HAProxy) silent(ctx context.Context, cmd, hint string) error {
	out, err := h.command(ctx, cmd)
	if err != nil {
		return err
	}
	if out != "" {
		if hint != "" {
			return fmt.Errorf("haproxy %q: %s (%s)", cmd, out, hint)
		}
		return fmt.Errorf("haproxy %q: %s", cmd, out)
	}
	return nil
}

func (h *HAProxy) setServer(ctx context.Context, server string, weight int) error {
	return h.silent(ctx, fmt.Sprintf("set server %s/%s weight %d", h.Backend, server, weight),
		fmt.Sprintf("check that backend %s has a server %s", h.Backend, server))
}

func (h *HAProxy) setState(ctx context.Context, server, state string) error {
	return h.silent(ctx, fmt.Sprintf("set server %s/%s state %s", h.Backend, server, state), "")
}

// serverState is one server's line of `show servers state`.
type serverState struct {
	addr   string
	port   int
	admin  int
	weight int
}

// states reads `show servers state` for the backend. Columns are looked up
// by the header line's names, which stay stable across versions.
func (h *HAProxy) states(ctx context.Context) (map[string]serverState, error) {
	out, err := h.command(ctx, "show servers state "+h.Backend)
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	servers := map[string]serverState{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "#" {
			for i, name := range f[1:] {
				col[name] = i
			}
			continue
		}
		if len(col) == 0 || len(f) < len(col) || f[col["be_name"]] != h.Backend {
			continue
		}
		var s serverState
		var errs [3]error
		s.addr = f[col["srv_addr"]]
		s.admin, errs[0] = strconv.Atoi(f[col["srv_admin_state"]])
		s.weight, errs[1] = strconv.Atoi(f[col["srv_uweight"]])
		s.port, errs[2] = strconv.Atoi(f[col["srv_port"]])
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("haproxy show servers state %s: unexpected line %q", h.Backend, line)
			}
		}
		servers[f[col["srv_name"]]] = s
	}
	for _, name := range []string{"be_name", "srv_name", "srv_addr", "srv_admin_state", "srv_uweight", "srv_port"} {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("haproxy show servers state %s: unexpected answer %q (does backend %s exist?)", h.Backend, out, h.Backend)
		}
	}
	return servers, nil
}

func (h *HAProxy) state(all map[string]serverState, server string) (serverState, error) {
	s, ok := all[server]
	if !ok {
		return s, fmt.Errorf("haproxy backend %s has no server %s (check the server lines in the config)", h.Backend, server)
	}
	return s, nil
}

// undrain puts a drained server back to ready for the weight it is about to
// carry. Maintenance is left alone: an operator set it, so it is an error.
func (h *HAProxy) undrain(ctx context.Context, all map[string]serverState, server string) error {
	s, err := h.state(all, server)
	if err != nil {
		return err
	}
	if s.admin&^adminForcedDrain != 0 {
		return fmt.Errorf("haproxy server %s/%s is in maintenance (admin state %#x): bring it back with `set server %s/%s state ready` or check it in the config",
			h.Backend, server, s.admin, h.Backend, server)
	}
	if s.admin&adminForcedDrain != 0 {
		return h.setState(ctx, server, "ready")
	}
	return nil
}

// SetWeight implements Router. The canary is lowered first when shifting
// back, so the pair never sums to more than both could serve. A server
// drained by Finalize is made ready again once it gets weight.
func (h *HAProxy) SetWeight(ctx context.Context, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("weight %d%% is outside 0-100", percent)
	}
	if err := h.setServer(ctx, h.Canary, percent); err != nil {
		return err
	}
	if err := h.setServer(ctx, h.Stable, 100-percent); err != nil {
		return err
	}
	all, err := h.states(ctx)
	if err != nil {
		return err
	}
	for _, sw := range []struct {
		server string
		weight int
	}{{h.Canary, percent}, {h.Stable, 100 - percent}} {
		if sw.weight > 0 {
			if err := h.undrain(ctx, all, sw.server); err != nil {
				return err
			}
		}
	}
	return h.persist(ctx)
}

// Weight implements Router: the canary's share of the two weights, counting
// a drained or maintained server as weight 0 since it gets no traffic.
func (h *HAProxy) Weight(ctx context.Context) (int, error) {
	all, err := h.states(ctx)
	if err != nil {
		return 0, err
	}
	effective := func(server string) (int, error) {
		s, err := h.state(all, server)
		if s.admin != 0 {
			return 0, err
		}
		return s.weight, err
	}
	c, err := effective(h.Canary)
	if err != nil {
		return 0, err
	}
	s, err := effective(h.Stable)
	if err != nil {
		return 0, err
	}
	if c+s == 0 {
		return 0, fmt.Errorf("haproxy backend %s has no weight on either server %s or %s (drained or in maintenance?)", h.Backend, h.Stable, h.Canary)
	}
	return (100*c + (c+s)/2) / (c + s), nil
}

// Finalize sends all traffic to the winner and drains the loser, so its
// open connections finish while it gets nothing new; routes are cleared
// first so no pinned request reaches the loser.
func (h *HAProxy) Finalize(ctx context.Context, winner Role) error {
	if err := winner.valid(); err != nil {
		return err
	}
	if err := h.ClearMatches(ctx); err != nil {
		return err
	}
	win, lose := h.server(winner), h.server(1-winner)
	if err := h.setServer(ctx, win, 100); err != nil {
		return err
	}
	all, err := h.states(ctx)
	if err != nil {
		return err
	}
	if err := h.undrain(ctx, all, win); err != nil {
		return err
	}
	if err := h.setServer(ctx, lose, 0); err != nil {
		return err
	}
	if err := h.setState(ctx, lose, "drain"); err != nil {
		return err
	}
	if all, err = h.states(ctx); err != nil {
		return err
	}
	if s, err := h.state(all, lose); err != nil {
		return err
	} else if s.admin&adminForcedDrain == 0 {
		return fmt.Errorf("haproxy server %s/%s is not draining after `set server ... state drain` (admin state %#x)", h.Backend, lose, s.admin)
	}
	if s, err := h.state(all, win); err != nil {
		return err
	} else if s.admin != 0 || s.weight == 0 {
		return fmt.Errorf("haproxy server %s/%s does not take traffic after finalizing (admin state %#x, weight %d)", h.Backend, win, s.admin, s.weight)
	}
	return h.persist(ctx)
}

// SetAddress points a role's server at host:port through `set server ...
// addr`, then reads it back. The runtime API takes IPs only, so a host name
// is resolved here (IPv4 preferred).
func (h *HAProxy) SetAddress(ctx context.Context, role Role, host string, port int) error {
	if err := role.valid(); err != nil {
		return err
	}
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s address %s:%d: the port is outside 1-65535", role, host, port)
	}
	ip, err := resolve(ctx, host)
	if err != nil {
		return fmt.Errorf("%s address for haproxy server %s/%s: %w", role, h.Backend, h.server(role), err)
	}
	server := h.server(role)
	cmd := fmt.Sprintf("set server %s/%s addr %s port %d", h.Backend, server, ip, port)
	out, err := h.command(ctx, cmd)
	if err != nil {
		return err
	}
	// Success reads "... changed from ..." or "no need to change ...".
	if !strings.Contains(out, "change") {
		return fmt.Errorf("haproxy %q: %s (check that backend %s has a server %s)", cmd, out, h.Backend, server)
	}
	all, err := h.states(ctx)
	if err != nil {
		return err
	}
	s, err := h.state(all, server)
	if err != nil {
		return err
	}
	if got := net.ParseIP(s.addr); got == nil || !got.Equal(ip) || s.port != port {
		return fmt.Errorf("haproxy server %s/%s is at %s port %d after setting %s port %d", h.Backend, server, s.addr, s.port, ip, port)
	}
	return h.persist(ctx)
}

func resolve(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	if host == "" {
		return nil, fmt.Errorf("no host given")
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	return ips[0], nil
}

// RouteMatch pins matching requests to the canary server: the map entry's
// key matches the header line in req.hdrs, its value names the server for
// the config's use-server rules. An existing entry for the same match is
// replaced, so repeating a call is harmless.
func (h *HAProxy) RouteMatch(ctx context.Context, m Match) error {
	if err := m.validate(); err != nil {
		return err
	}
	if h.MapFile == "" {
		return fmt.Errorf("route %s for haproxy backend %s: no map file is set; configure one as the HAProxy type's documentation shows and pass its path", m, h.Backend)
	}
	key := m.haproxyRegex()
	if out, err := h.command(ctx, fmt.Sprintf("del map %s %s", cliEscape(h.MapFile), cliEscape(key))); err != nil {
		return err
	} else if out != "" && !strings.Contains(out, "not found") {
		return h.mapError("route "+m.String(), "del map", out)
	}
	if out, err := h.command(ctx, fmt.Sprintf("add map %s %s %s", cliEscape(h.MapFile), cliEscape(key), cliEscape(h.Canary))); err != nil {
		return err
	} else if out != "" {
		return h.mapError("route "+m.String(), "add map", out)
	}
	// Read back: the entry must be there, naming the canary.
	out, err := h.command(ctx, "show map "+cliEscape(h.MapFile))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[1] == key && f[2] == h.Canary {
			return h.persist(ctx)
		}
	}
	return fmt.Errorf("route %s: haproxy map %s lacks the entry after adding it: %q", m, h.MapFile, out)
}

func (h *HAProxy) mapError(what, op, out string) error {
	if strings.Contains(out, "Unknown map") {
		return fmt.Errorf("%s: haproxy has no map %s loaded: reference it with map_reg(%s) in backend %s (see the HAProxy type's documentation) and make sure the file exists", what, h.MapFile, h.MapFile, h.Backend)
	}
	return fmt.Errorf("%s: haproxy %s %s: %s", what, op, h.MapFile, out)
}

// ClearMatches implements Matcher. Without a map file there are no routes,
// so there is nothing to clear.
func (h *HAProxy) ClearMatches(ctx context.Context) error {
	if h.MapFile == "" {
		return nil
	}
	out, err := h.command(ctx, "clear map "+cliEscape(h.MapFile))
	if err != nil {
		return err
	}
	if out != "" {
		return h.mapError("clear routes", "clear map", out)
	}
	return h.persist(ctx)
}

// persist writes the runtime state where HAProxy's next start reads it:
// the servers' state into StateFile and the routes into MapFile. Each file
// is replaced whole by a rename, so a reload never reads half of one.
func (h *HAProxy) persist(ctx context.Context) error {
	if h.StateFile == "" {
		return nil
	}
	out, err := h.command(ctx, "show servers state")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(out, "1\n") {
		return fmt.Errorf("haproxy `show servers state` answered %q, not a version 1 state file", snippet(out))
	}
	if err := replaceFile(h.StateFile, out+"\n"); err != nil {
		return fmt.Errorf("save haproxy server state: %w", err)
	}
	if h.MapFile == "" {
		return nil
	}
	if out, err = h.command(ctx, "show map "+cliEscape(h.MapFile)); err != nil {
		return err
	}
	// Lines read "<entry id> <key> <value>"; the file wants "<key> <value>".
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasPrefix(f[0], "0x") {
			if strings.TrimSpace(line) != "" {
				return h.mapError("save routes", "show map", out)
			}
			continue
		}
		b.WriteString(f[1] + " " + f[2] + "\n")
	}
	if err := replaceFile(h.MapFile, b.String()); err != nil {
		return fmt.Errorf("save haproxy routes: %w", err)
	}
	return nil
}

func replaceFile(path, content string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func snippet(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// haproxyRegex matches the request's header block as req.hdrs renders it:
// one "name: value" line per header. Only POSIX classes are used for
// whitespace and line ends so the key has no space or newline to send.
// Letters become [xX] classes: header names are case-insensitive, and values
// are made so to agree with nginx.
func (m Match) haproxyRegex() string {
	if m.Header != "" {
		return `(^|[[:cntrl:]])` + foldRegex(m.Header) + `:[[:blank:]]*` + foldRegex(m.Value) + `[[:blank:]]*([[:cntrl:]]|$)`
	}
	return `(^|[[:cntrl:]])` + foldRegex("cookie") + `:([^[:cntrl:]]*[;[:blank:]])?` +
		foldRegex(m.Cookie) + `=` + foldRegex(m.Value) + `([;[:blank:][:cntrl:]]|$)`
}

func foldRegex(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			fmt.Fprintf(&b, "[%c%c]", r|0x20, r&^0x20)
		case strings.ContainsRune(`.*+^|?$()[]{}\`, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cliEscape protects an argument from the runtime API's parser, which
// splits on spaces and semicolons and drops single backslashes.
func cliEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `;`, `\;`, ` `, `\ `).Replace(s)
}
