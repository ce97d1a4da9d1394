package services_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/runner/internal/npmtest"
	"github.com/gantry-ci/gantry/runner/services"
)

type fixture struct {
	t        *testing.T
	svc      *services.Services
	script   string
	ws       string
	cacheDir string
	artDir   string
}

func start(t *testing.T, cfg services.Config) *fixture {
	t.Helper()
	// Bundled (esbuild) as published actions ship: node starts it in a
	// fraction of the time it takes to resolve hundreds of modules.
	script := npmtest.Bundle(t, filepath.Join("testdata", "client.js"))
	root := t.TempDir()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(root, "cache")
	}
	if cfg.ArtifactDir == "" {
		cfg.ArtifactDir = filepath.Join(root, "artifacts", "1")
	}
	if cfg.RunID == "" {
		cfg.RunID = "1"
	}
	if cfg.Repo == "" {
		cfg.Repo = "octo/repo"
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"refs/heads/feature", "refs/heads/main"}
	}
	svc, err := services.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	ws := filepath.Join(root, "ws")
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, svc: svc, script: script, ws: ws, cacheDir: cfg.CacheDir, artDir: cfg.ArtifactDir}
}

// node runs testdata/client.js with the services' env; it returns the
// RESULT json (or "" when the client failed), the ERROR message and the
// whole output.
func (f *fixture) node(env map[string]string, args ...string) (result, errMsg, out string) {
	f.t.Helper()
	cmd := exec.Command("node", append([]string{f.script}, args...)...)
	cmd.Dir = f.ws
	tmp := f.t.TempDir()
	vars := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME"),
		"GITHUB_WORKSPACE": f.ws, "RUNNER_TEMP": tmp, "GITHUB_SERVER_URL": "https://github.com",
		"GITHUB_REF": "refs/heads/feature",
	}
	for k, v := range f.svc.Env {
		vars[k] = v
	}
	for k, v := range env {
		if v == "-" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	b, _ := cmd.CombinedOutput()
	out = string(b)
	for _, line := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(line, "RESULT "); ok {
			result = r
		}
		if e, ok := strings.CutPrefix(line, "ERROR "); ok {
			errMsg = e
		}
	}
	return result, errMsg, out
}

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.ws, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(rel string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.ws, rel))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func jsonList(v ...string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func testCacheSaveRestore(t *testing.T, env map[string]string) {
	f := start(t, services.Config{})
	f.write("deps/a.txt", "alpha")
	if res, e, out := f.node(env, "save", jsonList("deps"), "linux-deps-111"); res == "" || res == "-1" || e != "" {
		t.Fatalf("save: result %q error %q\n%s", res, e, out)
	}
	f.write("deps/a.txt", "beta")
	if res, _, out := f.node(env, "save", jsonList("deps"), "linux-deps-222"); res == "" || res == "-1" {
		t.Fatalf("second save: %q\n%s", res, out)
	}
	os.RemoveAll(filepath.Join(f.ws, "deps"))

	// Exact hit.
	if res, _, out := f.node(env, "restore", jsonList("deps"), "linux-deps-111"); res != `"linux-deps-111"` || f.read("deps/a.txt") != "alpha" {
		t.Fatalf("exact restore: %q, file %q\n%s", res, f.read("deps/a.txt"), out)
	}
	// Miss on the key, restore-keys prefix: the newest entry wins.
	if res, _, out := f.node(env, "restore", jsonList("deps"), "linux-deps-333", jsonList("windows-", "linux-deps-")); res != `"linux-deps-222"` || f.read("deps/a.txt") != "beta" {
		t.Fatalf("restore-keys: %q, file %q\n%s", res, f.read("deps/a.txt"), out)
	}
	// Another version (other paths) does not match.
	if res, _, out := f.node(env, "restore", jsonList("deps", "other"), "linux-deps-111"); res != "null" {
		t.Fatalf("version mismatch restored %q\n%s", res, out)
	}
	// Saving an existing key again is refused: entries are immutable.
	if res, _, out := f.node(env, "save", jsonList("deps"), "linux-deps-111"); res != "-1" || !strings.Contains(out, "Unable to reserve cache") {
		t.Fatalf("resave: %q\n%s", res, out)
	}
}

func TestCacheV2WithNpmClient(t *testing.T) {
	t.Parallel()
	testCacheSaveRestore(t, nil)
}

func TestCacheLegacyWithNpmClient(t *testing.T) {
	t.Parallel()
	testCacheSaveRestore(t, map[string]string{"ACTIONS_CACHE_SERVICE_V2": "-"})
}

func TestCacheBranchScope(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	cacheDir := filepath.Join(root, "cache")
	// A run on main saves; a run on a feature branch restores it (default
	// branch), a run on another feature branch saves its own, which main
	// never sees.
	main := start(t, services.Config{CacheDir: cacheDir, Scopes: []string{"refs/heads/main"}})
	main.write("d/x", "from-main")
	if res, _, out := main.node(nil, "save", jsonList("d"), "k-main"); res == "-1" || res == "" {
		t.Fatalf("save on main: %s", out)
	}
	feat := start(t, services.Config{CacheDir: cacheDir, Scopes: []string{"refs/heads/feat", "refs/heads/main"}})
	if res, _, out := feat.node(nil, "restore", jsonList("d"), "k-", jsonList()); res != `"k-main"` || feat.read("d/x") != "from-main" {
		t.Fatalf("feature restores main's: %q\n%s", res, out)
	}
	feat.write("d/x", "from-feat")
	if res, _, out := feat.node(nil, "save", jsonList("d"), "k-feat"); res == "-1" || res == "" {
		t.Fatalf("save on feature: %s", out)
	}
	if res, _, _ := feat.node(nil, "restore", jsonList("d"), "k-", jsonList()); res != `"k-feat"` {
		t.Fatalf("feature prefers its own scope: %q", res)
	}
	main2 := start(t, services.Config{CacheDir: cacheDir, Scopes: []string{"refs/heads/main"}})
	if res, _, _ := main2.node(nil, "restore", jsonList("d"), "k-feat", jsonList()); res != "null" {
		t.Fatalf("main restored a feature branch's cache: %q", res)
	}
	other := start(t, services.Config{CacheDir: cacheDir, Repo: "octo/other", Scopes: []string{"refs/heads/main"}})
	if res, _, _ := other.node(nil, "restore", jsonList("d"), "k-", jsonList()); res != "null" {
		t.Fatalf("another repository restored octo/repo's cache: %q", res)
	}
}

func TestCacheConcurrentSaves(t *testing.T) {
	t.Parallel()
	f := start(t, services.Config{})
	f.write("c/x", strings.Repeat("x", 100000))
	var wg sync.WaitGroup
	results := make([]string, 4)
	outs := make([]string, 4)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], _, outs[i] = f.node(nil, "save", jsonList("c"), "same-key")
		}(i)
	}
	wg.Wait()
	saved := 0
	for i, r := range results {
		if r != "-1" {
			saved++
		} else if !strings.Contains(outs[i], "Unable to reserve cache") && !strings.Contains(outs[i], "another") {
			t.Errorf("a losing save said:\n%s", outs[i])
		}
	}
	if saved != 1 {
		t.Fatalf("%d of 4 concurrent saves of one key succeeded, want 1: %v", saved, results)
	}
	entries, err := f.svc.Cache.Entries("")
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v %v", entries, err)
	}
	os.RemoveAll(filepath.Join(f.ws, "c"))
	if res, _, _ := f.node(nil, "restore", jsonList("c"), "same-key"); res != `"same-key"` || len(f.read("c/x")) != 100000 {
		t.Fatalf("restore after concurrent saves: %q", res)
	}
}

func TestArtifactsWithNpmClient(t *testing.T) {
	t.Parallel()
	f := start(t, services.Config{})
	f.write("out/a.txt", "hello")
	f.write("out/sub/b.txt", "world")
	res, e, out := f.node(nil, "upload", "build", jsonList(filepath.Join(f.ws, "out/a.txt"), filepath.Join(f.ws, "out/sub/b.txt")), filepath.Join(f.ws, "out"))
	if e != "" || !strings.Contains(res, `"id":1`) {
		t.Fatalf("upload: %q %q\n%s", res, e, out)
	}
	if _, err := os.Stat(filepath.Join(f.artDir, "build.zip")); err != nil {
		t.Fatalf("artifact not stored: %v", err)
	}
	res, _, out = f.node(nil, "list")
	var list struct {
		Artifacts []struct {
			Name string
			ID   int
			Size int
		}
	}
	if err := json.Unmarshal([]byte(res), &list); err != nil || len(list.Artifacts) != 1 || list.Artifacts[0].Name != "build" || list.Artifacts[0].Size == 0 {
		t.Fatalf("list: %q %v\n%s", res, err, out)
	}
	if res, _, out := f.node(nil, "get", "build"); !strings.Contains(res, `"name":"build"`) {
		t.Fatalf("get: %q\n%s", res, out)
	}
	dl := filepath.Join(f.ws, "dl")
	if res, e, out := f.node(nil, "download", "1", dl); e != "" || !strings.Contains(res, dl) {
		t.Fatalf("download: %q %q\n%s", res, e, out)
	}
	if f.read("dl/a.txt") != "hello" || f.read("dl/sub/b.txt") != "world" {
		t.Fatalf("downloaded %q %q", f.read("dl/a.txt"), f.read("dl/sub/b.txt"))
	}
	// The same name again is refused; after a delete it uploads.
	if _, e, _ := f.node(nil, "upload", "build", jsonList(filepath.Join(f.ws, "out/a.txt")), filepath.Join(f.ws, "out")); !strings.Contains(e, "already exists") {
		t.Fatalf("duplicate name: %q", e)
	}
	if res, e, out := f.node(nil, "delete", "build"); e != "" || !strings.Contains(res, `"id":1`) {
		t.Fatalf("delete: %q %q\n%s", res, e, out)
	}
	if _, err := os.Stat(filepath.Join(f.artDir, "build.zip")); !os.IsNotExist(err) {
		t.Fatalf("deleted artifact still on disk: %v", err)
	}
	if res, e, out := f.node(nil, "upload", "build", jsonList(filepath.Join(f.ws, "out/a.txt")), filepath.Join(f.ws, "out")); e != "" || !strings.Contains(res, `"id":2`) {
		t.Fatalf("upload after delete: %q %q\n%s", res, e, out)
	}
	if got := f.svc.Artifacts.List(); len(got) != 1 || got[0].Name != "build" || got[0].ID != 2 {
		t.Fatalf("List %+v", got)
	}
}
