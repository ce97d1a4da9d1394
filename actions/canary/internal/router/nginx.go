package router

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Nginx drives weights by rendering an upstream block into a file the
// user's nginx configuration includes, checking it with `nginx -t`, and
// reloading. Open-source nginx has no runtime API, so the weight read back
// is the one in the file nginx accepted, and header/cookie routes are kept
// in that file too.
//
// The file is included in the http block. Besides upstream <Upstream> (the
// weighted pair) it defines upstream <Upstream>__gantry_canary (the canary
// alone) and the variable $gantry_<Upstream> (non-alphanumerics as _),
// which names the upstream a request should go to. Weights work with
// `proxy_pass http://app;`; header and cookie routes need the variable
// (testdata/nginx.conf is a tested example):
//
//	http {
//	  include /etc/nginx/gantry-upstream.conf;
//	  server {
//	    location / { proxy_pass http://$gantry_app; }
//	  }
//	}
//
// nginx turns the names into variables ($http_x_canary, $cookie_beta), so a
// cookie name may not contain '-'; a header name with '_' needs
// `underscores_in_headers on`, which is why Match rejects it.
type Nginx struct {
	UpstreamFile string   // the file holding the upstream block (included by nginx.conf)
	Upstream     string   // upstream name
	Stable       string   // host:port of the stable version
	Canary       string   // host:port of the canary version; empty until SetAddress gives one
	Binary       string   // nginx; default "nginx"
	Args         []string // extra arguments for nginx -t and -s reload, e.g. -c FILE -p DIR
	PidFile      string   // the master's pid file, to wait until old workers are gone
}

var (
	_ Router  = (*Nginx)(nil)
	_ Matcher = (*Nginx)(nil)
)

func (n *Nginx) String() string {
	canary := n.Canary
	if canary == "" {
		canary = "not set"
	}
	return fmt.Sprintf("nginx upstream %s in %s (stable %s, canary %s)", n.Upstream, n.UpstreamFile, n.Stable, canary)
}

// Swapped is the same router with the roles exchanged: after a promotion
// the canary's address serves as stable.
func (n *Nginx) Swapped() *Nginx {
	c := *n
	c.Args = append([]string(nil), n.Args...)
	c.Stable, c.Canary = n.Canary, n.Stable
	return &c
}

// Variable is the nginx variable naming the upstream for each request, for
// proxy_pass http://$gantry_<upstream>;.
func (n *Nginx) Variable() string {
	return "$gantry_" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, n.Upstream)
}

func (n *Nginx) canaryUpstream() string { return n.Upstream + "__gantry_canary" }

// Render is the upstream block for a canary share, without routes.
func (n *Nginx) Render(percent int) string {
	return n.render(percent, nil)
}

const matchComment = "# gantry match: "

// render writes the weighted upstream, the canary-only upstream and a chain
// of maps, one per route: each sends its match to the canary and falls
// through to the next; the last falls through to the weighted upstream.
// nginx has no weight 0: a server with no traffic is marked down. The
// routes are also written as comments, which is how they are read back.
func (n *Nginx) render(percent int, matches []Match) string {
	var b strings.Builder
	server := func(addr string, w int) {
		if w == 0 {
			fmt.Fprintf(&b, "    server %s down;\n", addr)
		} else {
			fmt.Fprintf(&b, "    server %s weight=%d;\n", addr, w)
		}
	}
	fmt.Fprintf(&b, "# written by gantry canary: %d%% to the canary\nupstream %s {\n", percent, n.Upstream)
	server(n.Stable, 100-percent)
	if n.Canary != "" {
		server(n.Canary, percent)
	}
	b.WriteString("}\n")
	if n.Canary == "" {
		matches = nil
	} else {
		fmt.Fprintf(&b, "upstream %s {\n    server %s;\n}\n", n.canaryUpstream(), n.Canary)
	}
	variable := strings.TrimPrefix(n.Variable(), "$")
	if len(matches) == 0 {
		fmt.Fprintf(&b, "map \"\" $%s {\n    default %s;\n}\n", variable, n.Upstream)
	}
	for i, m := range matches {
		source, key := "$cookie_"+m.Cookie, m.Value
		if m.Header != "" {
			source = "$http_" + strings.ReplaceAll(strings.ToLower(m.Header), "-", "_")
			fmt.Fprintf(&b, "%sheader %s %s\n", matchComment, m.Header, m.Value)
		} else {
			fmt.Fprintf(&b, "%scookie %s %s\n", matchComment, m.Cookie, m.Value)
		}
		name, next := variable, n.Upstream
		if i > 0 {
			name = fmt.Sprintf("%s_%d", variable, i)
		}
		if i+1 < len(matches) {
			next = fmt.Sprintf("$%s_%d", variable, i+1)
		}
		// The leading backslash keeps a value such as "default" or "~x"
		// literal; nginx strips it.
		fmt.Fprintf(&b, "map %s $%s {\n    \"\\\\%s\" %s;\n    default %s;\n}\n", source, name, key, n.canaryUpstream(), next)
	}
	return b.String()
}

// parseMatches reads the routes back from the rendered file.
func parseMatches(data []byte) ([]Match, error) {
	var out []Match
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, matchComment)
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		var m Match
		switch {
		case len(f) == 3 && f[0] == "header":
			m = Match{Header: f[1], Value: f[2]}
		case len(f) == 3 && f[0] == "cookie":
			m = Match{Cookie: f[1], Value: f[2]}
		default:
			return nil, fmt.Errorf("unreadable route line %q", line)
		}
		if err := m.validate(); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// current is the weight and routes in the file. A missing file, or one
// without both servers (written by hand, or before the canary had an
// address), counts as 0% with no routes: the state a rollout starts from.
func (n *Nginx) current() (int, []Match, error) {
	data, err := os.ReadFile(n.UpstreamFile)
	if os.IsNotExist(err) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", n.UpstreamFile, err)
	}
	matches, err := parseMatches(data)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w (remove the gantry lines to start over)", n.UpstreamFile, err)
	}
	percent, err := n.weightIn(data)
	if err != nil {
		return 0, matches, nil
	}
	return percent, matches, nil
}

func (n *Nginx) nginx(ctx context.Context, args ...string) error {
	_, err := n.output(ctx, args...)
	return err
}

func (n *Nginx) output(ctx context.Context, args ...string) (string, error) {
	bin := n.Binary
	if bin == "" {
		bin = "nginx"
	}
	cmd := exec.CommandContext(ctx, bin, append(append([]string{}, n.Args...), args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nginx %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// SetWeight implements Router: the new block replaces the file atomically;
// when nginx rejects it, the old file is put back and nothing is reloaded.
// Routes in the file stay.
func (n *Nginx) SetWeight(ctx context.Context, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("weight %d%% is outside 0-100", percent)
	}
	if percent > 0 && n.Canary == "" {
		return fmt.Errorf("nginx upstream %s: no canary address to send %d%% to (set one with SetAddress)", n.Upstream, percent)
	}
	_, matches, err := n.current()
	if err != nil {
		return err
	}
	return n.apply(ctx, n.render(percent, matches), "weights", nil)
}

// apply writes the rendered file, has nginx check it, and reloads. When
// nginx rejects it the old file is put back. check, if given, vets the
// output of `nginx -T` (test and dump) before the reload.
func (n *Nginx) apply(ctx context.Context, rendered, what string, check func(dump string) error) error {
	old, err := os.ReadFile(n.UpstreamFile)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", n.UpstreamFile, err)
	}
	restore := func() {
		if old != nil {
			_ = writeAtomic(n.UpstreamFile, old)
		} else {
			_ = os.Remove(n.UpstreamFile)
		}
	}
	if err := writeAtomic(n.UpstreamFile, []byte(rendered)); err != nil {
		return err
	}
	if check == nil {
		err = n.nginx(ctx, "-t")
	} else {
		var dump string
		if dump, err = n.output(ctx, "-T"); err == nil {
			err = check(dump)
		}
	}
	if err != nil {
		restore()
		return fmt.Errorf("nginx rejected the new %s (the old ones stay): %w", what, err)
	}
	workers := n.workers()
	if err := n.nginx(ctx, "-s", "reload"); err != nil {
		return err
	}
	n.waitReloaded(ctx, workers)
	return nil
}

// Weight implements Router: the canary share in the file nginx accepted.
func (n *Nginx) Weight(ctx context.Context) (int, error) {
	data, err := os.ReadFile(n.UpstreamFile)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", n.UpstreamFile, err)
	}
	return n.weightIn(data)
}

func (n *Nginx) weightIn(data []byte) (int, error) {
	weight := func(addr string) (int, error) {
		// The weighted upstream is the only one with down/weight= markers.
		re := regexp.MustCompile(`server\s+` + regexp.QuoteMeta(addr) + `\s+(down|weight=(\d+))\s*;`)
		m := re.FindSubmatch(data)
		switch {
		case m == nil:
			return 0, fmt.Errorf("%s has no server %s in upstream %s", n.UpstreamFile, addr, n.Upstream)
		case string(m[1]) == "down":
			return 0, nil
		}
		return strconv.Atoi(string(m[2]))
	}
	c := 0
	if n.Canary != "" {
		var err error
		if c, err = weight(n.Canary); err != nil {
			return 0, err
		}
	}
	s, err := weight(n.Stable)
	if err != nil {
		return 0, err
	}
	if c+s == 0 {
		return 0, fmt.Errorf("%s sends traffic to neither server", n.UpstreamFile)
	}
	return (100*c + (c+s)/2) / (c + s), nil
}

// RouteMatch implements Matcher. The configuration must use the variable,
// else the route would be accepted and silently ignored; nginx -T shows the
// whole configuration to check that.
func (n *Nginx) RouteMatch(ctx context.Context, m Match) error {
	if err := m.validate(); err != nil {
		return err
	}
	if m.Cookie != "" && strings.Contains(m.Cookie, "-") {
		return fmt.Errorf("route %s: nginx cannot read a cookie whose name has '-' (its variable $cookie_NAME stops at the '-'); rename the cookie", m)
	}
	if n.Canary == "" {
		return fmt.Errorf("route %s: nginx upstream %s has no canary address yet (set one with SetAddress)", m, n.Upstream)
	}
	percent, matches, err := n.current()
	if err != nil {
		return err
	}
	if !slices.Contains(matches, m) {
		matches = append(matches, m)
	}
	used := regexp.MustCompile(`\$(` + regexp.QuoteMeta(strings.TrimPrefix(n.Variable(), "$")) + `\b|\{` +
		regexp.QuoteMeta(strings.TrimPrefix(n.Variable(), "$")) + `\})`)
	check := func(dump string) error {
		for _, line := range strings.Split(dump, "\n") {
			line, _, _ = strings.Cut(line, "#")
			if f := strings.Fields(line); len(f) > 0 && f[0] != "map" && used.MatchString(line) {
				return nil
			}
		}
		return fmt.Errorf("no location uses %s, so the route would be ignored: write proxy_pass http://%s; instead of proxy_pass http://%s;",
			n.Variable(), n.Variable(), n.Upstream)
	}
	return n.apply(ctx, n.render(percent, matches), "routes", check)
}

// ClearMatches implements Matcher.
func (n *Nginx) ClearMatches(ctx context.Context) error {
	percent, matches, err := n.current()
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		return nil
	}
	return n.apply(ctx, n.render(percent, nil), "routes", nil)
}

// Finalize sends all traffic to the winner; the loser is marked down and
// the routes are dropped, in one reload.
func (n *Nginx) Finalize(ctx context.Context, winner Role) error {
	if err := winner.valid(); err != nil {
		return err
	}
	percent := 0
	if winner == Canary {
		if n.Canary == "" {
			return fmt.Errorf("nginx upstream %s: cannot finalize onto the canary, it has no address", n.Upstream)
		}
		percent = 100
	}
	return n.apply(ctx, n.render(percent, nil), "final weights", nil)
}

// SetAddress points a role at host:port, keeping the weight and routes the
// file has. On success the Stable or Canary field holds the new address.
func (n *Nginx) SetAddress(ctx context.Context, role Role, host string, port int) error {
	if err := role.valid(); err != nil {
		return err
	}
	if host == "" || port < 1 || port > 65535 {
		return fmt.Errorf("%s address %q port %d for nginx upstream %s: give a host and a port in 1-65535", role, host, port, n.Upstream)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	percent, matches, err := n.current()
	if err != nil {
		return err
	}
	next := *n
	if role == Canary {
		next.Canary = addr
	} else {
		next.Stable = addr
	}
	if next.Stable == next.Canary {
		return fmt.Errorf("nginx upstream %s: stable and canary would both be %s", n.Upstream, addr)
	}
	if err := next.apply(ctx, next.render(percent, matches), role.String()+" address", nil); err != nil {
		return err
	}
	n.Stable, n.Canary = next.Stable, next.Canary
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gantry-upstream-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	_ = os.Chmod(tmp.Name(), 0o644)
	return os.Rename(tmp.Name(), path)
}

// workers lists the master's worker pids, to tell when a reload took effect.
func (n *Nginx) workers() map[int]bool {
	out := map[int]bool{}
	if n.PidFile == "" {
		return out
	}
	b, err := os.ReadFile(n.PidFile)
	if err != nil {
		return out
	}
	master := strings.TrimSpace(string(b))
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == master {
				out[pid] = true
			}
		}
	}
	return out
}

// waitReloaded waits (bounded) until none of the old workers is left, so
// traffic after SetWeight follows the new weights.
func (n *Nginx) waitReloaded(ctx context.Context, old map[int]bool) {
	deadline := time.Now().Add(10 * time.Second)
	if len(old) == 0 {
		time.Sleep(500 * time.Millisecond)
		return
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cur := n.workers()
		fresh := len(cur) > 0
		for pid := range cur {
			if old[pid] {
				fresh = false
			}
		}
		if fresh {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
