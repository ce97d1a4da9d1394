package router

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Nginx drives weights by rendering an upstream block into a file the
// user's nginx configuration includes, checking it with `nginx -t`, and
// reloading. Open-source nginx has no runtime API, so the weight read back
// is the one in the file nginx accepted.
type Nginx struct {
	UpstreamFile string   // the file holding the upstream block (included by nginx.conf)
	Upstream     string   // upstream name
	Stable       string   // host:port of the stable version
	Canary       string   // host:port of the canary version
	Binary       string   // nginx; default "nginx"
	Args         []string // extra arguments for nginx -t and -s reload, e.g. -c FILE -p DIR
	PidFile      string   // the master's pid file, to wait until old workers are gone
}

var _ Router = (*Nginx)(nil)

// Render is the upstream block for a canary share. nginx has no weight 0:
// a server with no traffic is marked down.
func (n *Nginx) Render(percent int) string {
	server := func(addr string, w int) string {
		if w == 0 {
			return fmt.Sprintf("    server %s down;\n", addr)
		}
		return fmt.Sprintf("    server %s weight=%d;\n", addr, w)
	}
	return fmt.Sprintf("# written by gantry canary: %d%% to the canary\nupstream %s {\n%s%s}\n",
		percent, n.Upstream, server(n.Stable, 100-percent), server(n.Canary, percent))
}

func (n *Nginx) nginx(ctx context.Context, args ...string) error {
	bin := n.Binary
	if bin == "" {
		bin = "nginx"
	}
	cmd := exec.CommandContext(ctx, bin, append(append([]string{}, n.Args...), args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nginx %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// SetWeight implements Router: the new block replaces the file atomically;
// when nginx rejects it, the old file is put back and nothing is reloaded.
func (n *Nginx) SetWeight(ctx context.Context, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("weight %d%% is outside 0-100", percent)
	}
	old, err := os.ReadFile(n.UpstreamFile)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read %s: %w", n.UpstreamFile, err)
	}
	if err := writeAtomic(n.UpstreamFile, []byte(n.Render(percent))); err != nil {
		return err
	}
	if err := n.nginx(ctx, "-t"); err != nil {
		if old != nil {
			_ = writeAtomic(n.UpstreamFile, old)
		}
		return fmt.Errorf("nginx rejected the new weights (the old ones stay): %w", err)
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
	weight := func(addr string) (int, error) {
		re := regexp.MustCompile(`server\s+` + regexp.QuoteMeta(addr) + `\s+(down|weight=(\d+))\s*;`)
		m := re.FindSubmatch(data)
		switch {
		case m == nil:
			return 0, fmt.Errorf("%s has no server %s", n.UpstreamFile, addr)
		case string(m[1]) == "down":
			return 0, nil
		}
		return strconv.Atoi(string(m[2]))
	}
	c, err := weight(n.Canary)
	if err != nil {
		return 0, err
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
