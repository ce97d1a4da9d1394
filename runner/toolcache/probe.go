package toolcache

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// probes remembers what interpreters said about themselves (`node
// --version`, python's prefix), keyed by the executable's path, size and
// modification time, so that a run asks only when a toolchain changed:
// starting Python through a pyenv shim alone costs a few hundred ms.
type probes struct {
	path  string
	mu    sync.Mutex
	m     map[string]string
	dirty bool
}

func (c *Cache) probes() *probes {
	p := &probes{path: filepath.Join(c.Dir, ".gantry-probes.json"), m: map[string]string{}}
	if data, err := os.ReadFile(p.path); err == nil {
		_ = json.Unmarshal(data, &p.m) // a damaged memo is only asked again
	}
	return p
}

// run returns exe's answer to args, from the memo when exe is unchanged.
func (p *probes) run(ctx context.Context, pathEnv, exe string, args ...string) (string, error) {
	key := ""
	if p != nil {
		if fi, err := os.Stat(exe); err == nil {
			key = fmt.Sprintf("%s\x00%d\x00%d\x00%s", exe, fi.Size(), fi.ModTime().UnixNano(), strings.Join(args, "\x00"))
			p.mu.Lock()
			out, ok := p.m[key]
			p.mu.Unlock()
			if ok {
				return out, nil
			}
		}
	}
	out, err := probeCmd(ctx, pathEnv, exe, args...)
	if err == nil && key != "" {
		p.mu.Lock()
		p.m[key], p.dirty = out, true
		p.mu.Unlock()
	}
	return out, err
}

func (p *probes) save() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty {
		return
	}
	data, err := json.Marshal(p.m)
	if err != nil {
		return
	}
	tmp := p.path + ".tmp" + fmt.Sprint(os.Getpid())
	if os.WriteFile(tmp, data, 0o644) == nil {
		_ = os.Rename(tmp, p.path)
	}
}

// throughPyenv sees through a pyenv shim to the interpreter it would run,
// reading pyenv's own version files (PYENV_VERSION, .python-version up from
// the working folder, then PYENV_ROOT/version); "" when bin is not a shim or
// the version is pyenv's "system".
func throughPyenv(bin, name string) string {
	f, err := os.Open(bin)
	if err != nil {
		return ""
	}
	head := make([]byte, 512)
	n, _ := f.Read(head)
	f.Close()
	if !strings.HasPrefix(string(head[:n]), "#!") || !strings.Contains(string(head[:n]), "pyenv") {
		return ""
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		root = filepath.Dir(filepath.Dir(bin)) // PYENV_ROOT/shims/NAME
	}
	version := firstWord(os.Getenv("PYENV_VERSION"))
	if version == "" {
		if wd, err := os.Getwd(); err == nil {
			for d := wd; ; d = filepath.Dir(d) {
				if v := firstWord(readFirstLine(filepath.Join(d, ".python-version"))); v != "" {
					version = v
					break
				}
				if filepath.Dir(d) == d {
					break
				}
			}
		}
	}
	if version == "" {
		version = firstWord(readFirstLine(filepath.Join(root, "version")))
	}
	if version == "" || version == "system" {
		return ""
	}
	exe := filepath.Join(root, "versions", version, "bin", name)
	if !isFile(exe) {
		return ""
	}
	return exe
}

func readFirstLine(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func firstWord(s string) string {
	f := strings.Fields(strings.ReplaceAll(s, ":", " "))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
