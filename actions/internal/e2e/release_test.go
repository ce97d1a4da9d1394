package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/internal/release"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// startRegistry runs Debian's docker-registry on a free loopback port.
func startRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must have docker-registry (scripts/setup.sh installs it)")
		}
		t.Skip("docker-registry is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("registry did not start")
	return ""
}

// releaseEnv is what a release test needs: an engine with the local base
// images, the registry, and the build action built once.
type releaseEnv struct {
	cli      *client.Client
	engine   *container.Engine
	registry string
	buildBin string
	root     string
}

func newReleaseEnv(t testing.TB) *releaseEnv {
	t.Helper()
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	for _, img := range []string{goImage(), "gantry/debian:bookworm", "gantry/busybox:latest"} {
		if !e.ImageExists(context.Background(), img) {
			t.Skipf("image %s missing: run scripts/setup.sh", img)
		}
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	root, _ := filepath.Abs("../../..")
	bin := filepath.Join(t.TempDir(), "build")
	build := exec.Command("go", "build", "-o", bin, "./actions/build")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the build action: %v %s", err, out)
	}
	return &releaseEnv{cli: cli, engine: e, registry: startRegistry(t), buildBin: bin, root: root}
}

// removeImages removes references this test made, whatever happens.
func (r *releaseEnv) removeImages(t testing.TB, refs ...string) {
	for _, ref := range refs {
		_, _ = r.cli.ImageRemove(context.Background(), ref, dockerimage.RemoveOptions{Force: true, PruneChildren: true})
	}
}

func getManifest(t testing.TB, url string, accept ...string) (map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", strings.Join(accept, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m, resp.Header.Get("Docker-Content-Digest")
}

// TestReleaseThenRunEachActionFromItsImage does the release flow against a
// registry on loopback: every action's image built by the build action for
// its platforms through the Engine API and pushed with a multi-arch index,
// each action.yml pinned to docker://IMAGE@sha256:...; the local images are
// removed, and a workflow then runs each action under gantry from the
// registry's image.
func TestReleaseThenRunEachActionFromItsImage(t *testing.T) {
	r := newReleaseEnv(t)
	ctx := context.Background()

	repo := t.TempDir()
	reg := r.registry + "/gantry-ci"
	const version = "v0.9.0-test"
	opts := release.Options{
		Repo: r.root, Registry: reg, Version: version, Commit: "0123456789abcdef0123456789abcdef01234567",
		Bases: map[string]string{"go": goImage(), "git": "gantry/debian:bookworm", "static": "gantry/busybox:latest"},
		Push:  true, OutDir: repo, BuildBin: r.buildBin,
	}
	var all []release.Result
	// This machine's engine (API 1.41, classic builder) commits images for its
	// own platform only: one platform here; the index is the same shape with more.
	for _, run := range []struct {
		only      []string
		platforms []string
	}{{[]string{"build", "test", "scan", "canary", "flag"}, []string{"linux/amd64"}}} {
		o := opts
		o.Only, o.Platforms = run.only, run.platforms
		// Removed whatever happens, also after a release that failed half-way.
		for _, name := range o.Only {
			for _, p := range o.Platforms {
				defer r.removeImages(t, reg+"/gantry-"+name+":"+version+"-"+strings.ReplaceAll(p, "/", "-"))
			}
		}
		res, err := release.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, res...)
	}
	if len(all) != 5 {
		t.Fatalf("released %d actions: %+v", len(all), all)
	}
	sizes := map[string]int64{}
	for _, x := range all {
		defer r.removeImages(t, x.Image+"@"+x.Digest)
		pinned, err := os.ReadFile(x.Pinned)
		if err != nil {
			t.Fatal(err)
		}
		want := "  image: docker://" + x.Image + "@" + x.Digest + "\n"
		if !strings.Contains(string(pinned), want) || !strings.Contains(string(pinned), "  args: ["+x.Name+"]") {
			t.Errorf("%s is not pinned to its image:\n%s", x.Pinned, pinned)
		}
		// The index the digest names is in the registry, with each platform.
		name := strings.TrimPrefix(x.Image, r.registry+"/")
		idx, _ := getManifest(t, "http://"+r.registry+"/v2/"+name+"/manifests/"+x.Digest,
			"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json")
		var plats []string
		for _, m := range idx["manifests"].([]any) {
			p := m.(map[string]any)["platform"].(map[string]any)
			plats = append(plats, p["os"].(string)+"/"+p["architecture"].(string))
		}
		want2 := "linux/amd64"
		if strings.Join(plats, ",") != want2 {
			t.Errorf("%s index platforms %v, want %s", x.Name, plats, want2)
		}
		ii, err := r.cli.ImageInspect(ctx, x.Image+":"+version+"-linux-amd64")
		if err == nil {
			sizes[x.Name] = ii.Size
		}
	}
	// Each image carries only what its action needs.
	goSize := sizes["test"]
	for name, s := range sizes {
		t.Logf("image gantry-%s: %.0f MB", name, float64(s)/1e6)
	}
	if sizes["scan"] >= goSize || sizes["canary"] >= sizes["scan"] {
		t.Errorf("scan (%d) and canary (%d) images should be smaller than the Go ones (%d)", sizes["scan"], sizes["canary"], goSize)
	}
	// From now on only the registry has the images.
	for _, x := range all {
		r.removeImages(t, x.Image+":"+version+"-linux-amd64", x.Image+":"+version+"-linux-arm64")
		if r.engine.ImageExists(ctx, x.Image+"@"+x.Digest) {
			t.Fatalf("%s@%s still present locally", x.Image, x.Digest)
		}
	}

	copyPath(t, filepath.Join(r.root, "actions/test/testdata/sample/good"), filepath.Join(repo, "sample", "good"))
	copyPath(t, filepath.Join(r.root, "actions/test/testdata/sample/go.mod"), filepath.Join(repo, "sample", "go.mod"))
	copyPath(t, filepath.Join(r.root, "actions/build/testdata/hello"), filepath.Join(repo, "hello"))
	copyPath(t, filepath.Join(r.root, "actions/scan/testdata/monorepo/web"), filepath.Join(repo, "site"))
	if err := os.WriteFile(filepath.Join(repo, "site", "deploy.env"), []byte("AWS_ACCESS_KEY_ID="+"AKIA"+"Z7VRSQ4QK3XWUJ2M"+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "flags"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "flags", "flags.json"), []byte(e2eFlags), 0o644); err != nil {
		t.Fatal(err)
	}
	wfText := `
on: push
jobs:
  ci:
    runs-on: self-hosted
    steps:
      - id: tests
        uses: ./actions/test
        with:
          working-directory: sample
      - run: echo "test outcome=${{ steps.tests.outcome }} passed=${{ steps.tests.outputs.passed }}"
      - id: build
        uses: ./actions/build
        with:
          working-directory: hello
          targets: linux/amd64
          version: v9.9.9
      - run: ./hello/dist/linux_amd64/hello
      - id: scan
        uses: ./actions/scan
        continue-on-error: true
        with:
          path: site
          sarif-file: scan.sarif
      - run: echo "scan outcome=${{ steps.scan.outcome }} critical=${{ steps.scan.outputs.critical }}"
      - id: flag
        uses: ./actions/flag
        with:
          flag: new-checkout
          file: flags/flags.json
          state: on
          dry-run: true
      - run: echo "flag changed=${{ steps.flag.outputs.changed }}"
      - id: canary
        uses: ./actions/canary
        continue-on-error: true
        with:
          version: v2
      - run: echo "canary outcome=${{ steps.canary.outcome }}"
`
	if err := os.MkdirAll(filepath.Join(repo, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repo, ".github", "workflows", "ci.yml")
	if err := os.WriteFile(path, []byte(wfText), 0o644); err != nil {
		t.Fatal(err)
	}
	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuf{}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	res, err := scheduler.Run(rctx, wf, scheduler.Options{
		RepoDir: repo, EventName: "push", Out: out, WorkRoot: t.TempDir(), SummaryDir: t.TempDir(),
		Payload:    map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/sample"}},
		Containers: dockerbackend.New(r.engine),
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if !res.Success {
		t.Fatalf("run failed:\n%s", out.String())
	}
	for _, want := range []string{
		"test outcome=success passed=", "hello v9.9.9",
		// A scan of a repository without Go, on an image without Go.
		"scan outcome=failure critical=1",
		"flag changed=false",
		// The canary ran from its image: its own error about its inputs.
		"canary outcome=failure",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, x := range all {
		if !r.engine.ImageExists(ctx, x.Image+"@"+x.Digest) {
			t.Errorf("%s was not pulled from the registry by its digest", x.Name)
		}
	}
}
