package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/internal/npmtest"
)

// servicesRepo lays out a repository whose workflow saves a cache and
// uploads an artifact in one job with the real npm clients, and restores
// and downloads them in the next.
func servicesRepo(t *testing.T) string {
	t.Helper()
	bundle := npmtest.Bundle(t, filepath.Join("testdata", "services", "action", "index.js"))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "services", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := repoWith(t, map[string]string{
		".github/workflows/ci.yml":       read("ci.yml"),
		".github/actions/svc/action.yml": read("action/action.yml"),
		".github/actions/svc/index.js":   readText(t, bundle),
		"probe.sh":                       read("probe.sh"),
	})
	return dir
}

func readText(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func needDocker(t *testing.T) {
	t.Helper()
	e, err := container.Connect(context.Background())
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	e.Close()
}

func checkServicesRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cacheDir := t.TempDir()
	code, out, errOut := gantry(t, append([]string{"run", "-C", dir, "-b", "--cache-dir", cacheDir, "--workdir", t.TempDir()}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"matched=data-Linux-v1 cache=cached-hello artifact=artifact-hello", "probe ok: the docker action sees the cache", "Artifacts (.gantry/artifacts/"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	m := regexp.MustCompile(`Artifacts \((\.gantry/artifacts/\d+)\):\n\s+report\s+\d+ B\s+report\.zip`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no artifact listing with sizes:\n%s", out)
	}
	if st, err := os.Stat(filepath.Join(dir, m[1], "report.zip")); err != nil || st.Size() == 0 {
		t.Fatalf("artifact file: %v", err)
	}
	if strings.Contains(out, "eyJ") {
		t.Errorf("the runtime token reached the log:\n%s", out)
	}
}

func TestServicesWorkflowOnHost(t *testing.T) {
	t.Parallel()
	needDocker(t) // the docker action step
	checkServicesRun(t, servicesRepo(t), "-P", "ubuntu-latest=host")
}

func TestServicesWorkflowInJobContainer(t *testing.T) {
	t.Parallel()
	needDocker(t)
	checkServicesRun(t, servicesRepo(t))
}
