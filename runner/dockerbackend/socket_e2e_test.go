package dockerbackend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/scheduler"
)

// TestJobContainersReachTheEngine: the engine's socket is in job
// containers (and the image's docker CLI talks to it), unless turned off.
func TestJobContainersReachTheEngine(t *testing.T) {
	e := connect(t)
	withCLI := false
	if v, _ := e.ImageLabel(context.Background(), engine.DefaultImage, "org.gantry-ci.image-version"); v >= "2" {
		withCLI = true // scripts/setup.sh's image version 2 has the docker CLI
	}
	wf := `
on: push
jobs:
  inside:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -S /var/run/docker.sock ]; then
            echo "ping=$(curl -sf --unix-socket /var/run/docker.sock http://docker/_ping)"
            if command -v docker >/dev/null; then echo "cli=$(docker version --format '{{.Server.Os}}')"; fi
          else
            echo "no socket"
          fi
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if !res.Success || !strings.Contains(out, "ping=OK") {
		t.Fatalf("the job container did not reach the engine:\n%s", out)
	}
	if withCLI && !strings.Contains(out, "cli=linux") {
		t.Errorf("the docker CLI of %s did not reach the engine:\n%s", engine.DefaultImage, out)
	} else if !withCLI {
		t.Logf("%s predates the docker CLI (run scripts/setup.sh); only the socket was checked", engine.DefaultImage)
	}

	res, out = runOnEngineWith(t, context.Background(), e, wf, nil, nil, func(o *scheduler.Options) {
		b := New(e)
		b.SetDockerSocket("")
		o.Containers = b
	})
	if !res.Success || !strings.Contains(out, "no socket") {
		t.Errorf("with the socket off, the job container still has one:\n%s", out)
	}
}

// TestContainerJobsGetTheirOwnWorkspace: a container job sees the
// repository through its copy-on-write workspace, and its writes reach
// neither the repository nor a later job.
func TestContainerJobsGetTheirOwnWorkspace(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  writer:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "writer sees $(cat data/file.txt)"
          awk '$5 == "/__w/e2e/e2e" {print "workspace fstype", $(NF-2)}' /proc/self/mountinfo
          echo changed > data/file.txt
          echo new > made-by-writer.txt
          rm keep.txt
          echo "writer now $(cat data/file.txt)"
  reader:
    needs: writer
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "reader sees $(cat data/file.txt)"
          if [ -e made-by-writer.txt ]; then echo "reader sees the writer's file"; fi
          if [ -e keep.txt ]; then echo "reader has keep.txt"; fi
  host:
    needs: writer
    runs-on: self-hosted
    steps:
      - run: echo "host sees $(cat data/file.txt) $(ls made-by-writer.txt 2>&1 | grep -c 'No such')"
`
	var repo string
	res, out := runOnEngineWith(t, context.Background(), e, wf, func(dir string) {
		repo = dir
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, content := range map[string]string{"data/file.txt": "original", "keep.txt": "k"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}, nil, func(o *scheduler.Options) { o.Platforms = map[string]string{"self-hosted": "host"} })
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{"writer sees original", "writer now changed", "reader sees original", "reader has keep.txt", "host sees original 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if overlayable() && !strings.Contains(out, "workspace fstype overlay") {
		t.Errorf("overlay mounts work here, but the container's workspace is not one:\n%s", out)
	}
	if strings.Contains(out, "reader sees the writer's file") {
		t.Errorf("a later job saw the writer's file:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "data", "file.txt")); string(b) != "original" {
		t.Errorf("the repository's file is now %q", b)
	}
	if _, err := os.Stat(filepath.Join(repo, "made-by-writer.txt")); err == nil {
		t.Error("the writer's file landed in the repository")
	}
	if _, err := os.Stat(filepath.Join(repo, "keep.txt")); err != nil {
		t.Error("the writer's delete reached the repository")
	}
}

// overlayable: root on a kernel with overlayfs, where workspaces are overlays.
func overlayable() bool {
	data, _ := os.ReadFile("/proc/filesystems")
	return os.Geteuid() == 0 && strings.Contains(string(data), "\toverlay\n")
}
