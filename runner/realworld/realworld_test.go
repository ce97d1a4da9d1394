// Package realworld runs real projects' CI workflows, unchanged, under
// `gantry run`: the proof that the world's workflows run, not only ours.
//
// The projects' sources are not part of this repository. Point
// GANTRY_REALWORLD_DIR at a folder of clones named owner+repo (for example
// go-chi+chi), and fill the action cache (GANTRY_TEST_ACTION_CACHE, or the
// default one) with `gantry actions fetch`; without them the tests say what
// is missing and skip.
package realworld

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/cli"
	"github.com/gantry-ci/gantry/runner/toolcache"
)

type entry struct {
	Project         string            `yaml:"project"`
	Commit          string            `yaml:"commit"`
	Workflow        string            `yaml:"workflow"`
	Event           string            `yaml:"event"`
	Args            []string          `yaml:"args"`
	Tools           []string          `yaml:"tools"`
	NeedsActionFile string            `yaml:"needs-action-file"`
	Jobs            map[string]string `yaml:"jobs"`
	NotRun          string            `yaml:"not-run"`
}

func TestRealProjectsCI(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var corpus []entry
	if err := yaml.Unmarshal(data, &corpus); err != nil {
		t.Fatalf("testdata/corpus.yml: %v", err)
	}
	src := os.Getenv("GANTRY_REALWORLD_DIR")
	cache := os.Getenv("GANTRY_TEST_ACTION_CACHE")
	if cache == "" {
		cache = action.DefaultCacheDir()
	}
	for _, e := range corpus {
		t.Run(e.Project+"/"+filepath.Base(e.Workflow), func(t *testing.T) {
			if src == "" {
				t.Skip("GANTRY_REALWORLD_DIR is not set: point it at clones of the projects in testdata/corpus.yml (folders owner+repo)")
			}
			clone := filepath.Join(src, strings.Replace(e.Project, "/", "+", 1))
			if _, err := os.Stat(clone); err != nil {
				t.Skipf("no clone of %s at %s", e.Project, clone)
			}
			if e.NeedsActionFile != "" {
				if _, err := os.Stat(filepath.Join(cache, e.NeedsActionFile)); err != nil {
					t.Skipf("the action cache %s lacks %s", cache, e.NeedsActionFile)
				}
			}
			checkTools(t, e.Tools)
			repo := checkout(t, clone, e)
			args := append([]string{"run", e.Event, "-C", repo, "-W", filepath.Join(mustAbs(t, "testdata"), e.Workflow),
				"--action-cache", cache, "--workdir", t.TempDir()}, e.Args...)
			var out, errOut bytes.Buffer
			code := cli.Main(context.Background(), args, cli.IO{Out: &out, Err: &errOut})
			got := results(out.String())
			for job, want := range e.Jobs {
				if got[job] != want {
					t.Errorf("job %q: %q, want %q", job, got[job], want)
				}
			}
			if t.Failed() {
				t.Logf("gantry %s: exit %d\n%s\n%s", strings.Join(args, " "), code, tail(out.String(), 80), errOut.String())
			}
			if e.NotRun != "" {
				t.Logf("not run: %s", e.NotRun)
			}
		})
	}
}

// checkTools skips when the tool cache lacks a version setup-* will ask for.
func checkTools(t *testing.T, tools []string) {
	t.Helper()
	tc, err := toolcache.Open("")
	if err != nil {
		t.Fatalf("tool cache: %v", err)
	}
	for _, want := range tools {
		name, spec, _ := strings.Cut(want, "/")
		if _, err := tc.Find(name, spec); err != nil {
			t.Skipf("%v", err)
		}
	}
}

// checkout clones the project at its pinned commit with GitHub's remote, so
// github.repository is the project's own.
func checkout(t *testing.T, clone string, e entry) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	for _, argv := range [][]string{
		{"git", "clone", "--quiet", "--no-checkout", clone, dir},
		{"git", "-C", dir, "checkout", "--quiet", e.Commit},
		{"git", "-C", dir, "remote", "set-url", "origin", "https://github.com/" + e.Project},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return dir
}

var resultLine = regexp.MustCompile(`^(.+?)\s{2,}(success|failure|cancelled|skipped)\s{2,}\S+$`)

// results reads the JOB/RESULT table gantry prints at the end of a run.
func results(out string) map[string]string {
	got := map[string]string{}
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "JOB ") && strings.Contains(line, "RESULT") {
			inTable = true
			continue
		}
		if m := resultLine.FindStringSubmatch(line); inTable && m != nil {
			got[strings.TrimSpace(m[1])] = m[2]
		}
	}
	return got
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGitHubsOwnActions runs GitHub's published setup-go, setup-node,
// setup-python and cache actions, from the action cache, on the host and in
// a job container, against gantry's tool cache and cache service.
func TestGitHubsOwnActions(t *testing.T) {
	cache := os.Getenv("GANTRY_TEST_ACTION_CACHE")
	if cache == "" {
		cache = action.DefaultCacheDir()
	}
	for _, a := range []string{"actions/setup-go/v5", "actions/setup-node/v4", "actions/setup-python/v5", "actions/cache/v4"} {
		if _, err := os.Stat(filepath.Join(cache, a, "action.yml")); err != nil {
			t.Skipf("the action cache %s lacks %s: fill it with `gantry actions fetch` where there is network", cache, a)
		}
	}
	checkTools(t, []string{"node/20", "Python/3.11"})
	repo := t.TempDir()
	ver := strings.TrimPrefix(runtime.Version(), "go")
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/own\n\ngo "+ver+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-C", repo, "-W", filepath.Join(mustAbs(t, "testdata"), "ownactions", "actions.yml"),
		"--action-cache", cache, "--workdir", t.TempDir(), "-P", "host-label=host"}
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{Out: &out, Err: &errOut})
	got := results(out.String())
	for _, job := range []string{"save (host-label)", "save (ubuntu-latest)", "restore (host-label)", "restore (ubuntu-latest)"} {
		if got[job] != "success" {
			t.Errorf("job %q: %q, want success", job, got[job])
		}
	}
	if t.Failed() {
		t.Logf("exit %d\n%s\n%s", code, tail(out.String(), 120), errOut.String())
	}
}
