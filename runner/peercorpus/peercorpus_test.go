// Package peercorpus runs a peer runner's own workflow test corpus (nektos/act's
// pkg/runner/testdata, the cases that need no network) through gantry's CLI
// and compares each run's verdict with testdata/golden.yml: act's verdict from
// its test table, or GitHub's where GitHub's documented behaviour differs.
package peercorpus

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/runner/cli"
)

type golden struct {
	// Aliases are the image names the corpus uses, each served by one of
	// gantry's local images for the run (nothing can be pulled here).
	Aliases map[string]string `yaml:"aliases"`
	Cases   []gcase           `yaml:"cases"`
}

type gcase struct {
	Dir    string   `yaml:"dir"`   // workflow folder under testdata/act
	Event  string   `yaml:"event"` // the event act's table runs
	Host   bool     `yaml:"host"`  // TestRunEventHostEnvironment: jobs on the host
	Args   []string `yaml:"args"`
	Act    string   `yaml:"act"`  // act's verdict
	Want   string   `yaml:"want"` // GitHub's verdict
	Reason string   `yaml:"reason"`
}

// verdicts: every job succeeded (exit 0), a job failed (exit 1), the
// workflow is invalid and runs nothing (exit 2).
var verdicts = map[string]bool{"success": true, "failure": true, "invalid": true}

func (c gcase) name() string {
	mode := "container"
	if c.Host {
		mode = "host"
	}
	return mode + "/" + strings.TrimPrefix(c.Dir, "runner/") + "/" + c.Event
}

func TestActCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the corpus runs every case through Docker")
	}
	data, err := os.ReadFile("testdata/golden.yml")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := yaml.Unmarshal(data, &g); err != nil {
		t.Fatalf("testdata/golden.yml: %v", err)
	}
	for _, c := range g.Cases {
		if !verdicts[c.Act] || !verdicts[c.Want] {
			t.Fatalf("golden.yml: %s: act and want must be success, failure or invalid", c.name())
		}
		if c.Act != c.Want && c.Reason == "" {
			t.Fatalf("golden.yml: %s: want differs from act without a reason", c.name())
		}
	}
	docker := dockerClient(t)
	aliasImages(t, docker, g.Aliases)
	roots := map[string]string{
		"runner": repoCopy(t, "testdata/act/runner"),
		"model":  repoCopy(t, "testdata/act/model"),
	}

	var passed, ran atomic.Int32
	// Jobs are mostly waits on Docker, so eight cases run at once whatever
	// -parallel (GOMAXPROCS) is: subtests started from goroutines, not
	// t.Parallel.
	sem := make(chan struct{}, 8)
	t.Run("case", func(t *testing.T) {
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, c := range g.Cases {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t.Run(c.name(), func(t *testing.T) { runCase(t, c, roots, &passed, &ran) })
			}()
		}
	})
	t.Logf("act corpus: %d/%d cases give GitHub's verdict", passed.Load(), ran.Load())
}

// runCase runs one case through gantry's CLI and compares the verdict.
func runCase(t *testing.T, c gcase, roots map[string]string, passed, ran *atomic.Int32) {
	top, _, _ := strings.Cut(c.Dir, "/")
	root := roots[top]
	args := []string{"run", c.Event, "-W", filepath.Join(root, strings.TrimPrefix(c.Dir, top+"/")),
		"-C", root, "--workdir", t.TempDir(), "--no-color", "--action-cache", t.TempDir()}
	if c.Host {
		args = append(args, "-P", "ubuntu-latest=host", "-P", "self-hosted=host")
	} else {
		args = append(args, "-P", "self-hosted=host")
	}
	if ev := filepath.Join(root, strings.TrimPrefix(c.Dir, top+"/"), "event.json"); fileExists(ev) {
		args = append(args, "-e", ev)
	}
	args = append(args, c.Args...)
	ran.Add(1)
	var out bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{Out: &out, Err: &out})
	got := map[int]string{0: "success", 1: "failure", 2: "invalid"}[code]
	if got == "" {
		got = fmt.Sprintf("exit %d", code)
	}
	if got != c.Want {
		t.Errorf("%s, want %s (act: %s)\ngantry %s\n%s", got, c.Want, c.Act, strings.Join(args, " "), tail(out.String(), 40))
		return
	}
	passed.Add(1)
}

// repoCopy copies a corpus folder into a git repository whose origin is
// act's, as act's own tests see it (github.repository is nektos/act).
func repoCopy(t *testing.T, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
	for _, argv := range [][]string{
		{"git", "init", "--quiet", "--initial-branch", "master"},
		{"git", "remote", "add", "origin", "https://github.com/nektos/act"},
		{"git", "add", "-A"},
		{"git", "-c", "user.name=corpus", "-c", "user.email=corpus@example.invalid", "commit", "--quiet", "-m", "corpus"},
	} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return dir
}

// dockerClient talks to the engine's API over its unix socket.
func dockerClient(t *testing.T) *http.Client {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		sock = strings.TrimPrefix(h, "unix://")
	}
	if _, err := os.Stat(sock); err != nil {
		t.Skipf("no Docker engine at %s (run scripts/setup.sh)", sock)
	}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
}

var aliasMu sync.Mutex

// aliasImages tags each local source image with the corpus's image name when
// that name is absent, and removes only the tags it made when the test ends.
func aliasImages(t *testing.T, c *http.Client, aliases map[string]string) {
	t.Helper()
	aliasMu.Lock()
	defer aliasMu.Unlock()
	for name, src := range aliases {
		if imageExists(t, c, name) {
			continue
		}
		if !imageExists(t, c, src) {
			t.Skipf("local image %s is missing (run scripts/setup.sh)", src)
		}
		repo, tag, _ := strings.Cut(name, ":")
		q := url.Values{"repo": {repo}, "tag": {tag}}
		resp, err := c.Post("http://docker/images/"+src+"/tag?"+q.Encode(), "", nil)
		if err != nil {
			t.Fatalf("tag %s as %s: %v", src, name, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("tag %s as %s: %s", src, name, resp.Status)
		}
		t.Cleanup(func() {
			req, _ := http.NewRequest(http.MethodDelete, "http://docker/images/"+name+"?noprune=1", nil)
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
}

func imageExists(t *testing.T, c *http.Client, name string) bool {
	resp, err := c.Get("http://docker/images/" + name + "/json")
	if err != nil {
		t.Fatalf("inspect image %s: %v", name, err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
