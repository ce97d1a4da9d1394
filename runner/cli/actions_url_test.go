package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/githttptest"
)

// gantry actions list|fetch with full-URL actions from two hosts, then
// gantry run using them from the cache, offline.
func TestActionsFetchURLActions(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	composite := func(say string) map[string]string {
		return map[string]string{"action.yml": "name: say\nruns:\n  using: composite\n  steps:\n    - run: echo " + say + "\n      shell: bash\n"}
	}
	githttptest.Repo(t, rootA, "owner", "say", "v1", composite("said-by-host-a"))
	githttptest.Repo(t, rootB, "owner", "say", "v1", composite("said-by-host-b"))
	a, b := githttptest.Serve(t, rootA), githttptest.Serve(t, rootB)
	repo := t.TempDir()
	wf := "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - uses: " + a.URL + "/owner/say@v1\n      - uses: " + b.URL + "/owner/say@v1\n"
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".github", "workflows", "ci.yml"), []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	code, out, errs := runGantry(t, "actions", "list", "-C", repo, "--action-cache", cache)
	if code != ExitFailure || strings.Count(out, "missing") != 2 {
		t.Fatalf("list before fetch: %d %s %s", code, out, errs)
	}
	code, out, errs = runGantry(t, "actions", "fetch", "-C", repo, "--action-cache", cache)
	if code != 0 || strings.Count(out, "cached") != 2 {
		t.Fatalf("fetch: %d %s %s", code, out, errs)
	}
	code, out, errs = runGantry(t, "actions", "list", "-C", repo, "--action-cache", cache)
	if code != 0 || strings.Count(out, "cached") != 2 || !strings.Contains(out, a.URL+"/owner/say@v1") {
		t.Fatalf("list after fetch: %d %s %s", code, out, errs)
	}
	a.Close()
	b.Close()
	code, out, errs = runGantry(t, "run", "-C", repo, "--action-cache", cache, "--platform", "self-hosted=host")
	if code != 0 || !strings.Contains(out, "said-by-host-a") || !strings.Contains(out, "said-by-host-b") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
}

// A reusable workflow called by full URL: fetched by `gantry actions
// fetch` (no --mirror) and run from the cache.
func TestReusableWorkflowByURL(t *testing.T) {
	root := t.TempDir()
	githttptest.Repo(t, root, "org", "shared", "v1", map[string]string{
		".gitea/workflows/build.yml": "on: workflow_call\njobs:\n  inner:\n    runs-on: self-hosted\n    steps:\n      - run: echo reusable-by-url\n",
	})
	srv := githttptest.Serve(t, root)
	repo := t.TempDir()
	wf := "on: push\njobs:\n  call:\n    uses: " + srv.URL + "/org/shared/.gitea/workflows/build.yml@v1\n"
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".github", "workflows", "ci.yml"), []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	if code, out, errs := runGantry(t, "actions", "fetch", "-C", repo, "--action-cache", cache); code != 0 || !strings.Contains(out, "cached") {
		t.Fatalf("fetch: %d %s %s", code, out, errs)
	}
	srv.Close()
	code, out, errs := runGantry(t, "run", "-C", repo, "--action-cache", cache, "--platform", "self-hosted=host")
	if code != 0 || !strings.Contains(out, "reusable-by-url") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errs)
	}
}
