package scheduler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFailedSetupActionSaysWhatTheToolCacheHas: a setup-go that fails (as
// it does offline for a version it has to download) gets the versions the
// tool cache has and the command that adds one.
func TestFailedSetupActionSaysWhatTheToolCacheHas(t *testing.T) {
	cache := t.TempDir()
	entry := filepath.Join(cache, "go", "1.26.8", "x64")
	if err := os.MkdirAll(entry, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(entry+".complete", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	actions := t.TempDir()
	dir := filepath.Join(actions, "actions", "setup-go", "v9")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"action.yml": "name: setup-go\ninputs:\n  go-version: {description: v}\nruns:\n  using: node20\n  main: index.js\n",
		"index.js":   "console.log('::error::Unable to download ' + process.env['INPUT_GO-VERSION'] + ' (' + process.env.RUNNER_TOOL_CACHE + ')'); process.exit(1)\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wf := "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-go@v9\n        with: {go-version: '1.13'}\n"
	o := runWorkflow(t, wf, nil, func(opts *Options) {
		opts.ToolCache = cache
		opts.ActionCache = actions
	})
	if o.res.Success {
		t.Fatalf("the run succeeded:\n%s", o.out)
	}
	for _, want := range []string{
		"Unable to download 1.13 (" + cache + ")",
		"the tool cache " + cache + " has go 1.26.8",
		"`gantry tools add go 1.13`",
	} {
		if !strings.Contains(o.out, want) {
			t.Errorf("output lacks %q:\n%s", want, o.out)
		}
	}
}
