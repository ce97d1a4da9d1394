package gitea_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	icontainer "github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

var (
	engineOnce sync.Once
	dockerEng  *icontainer.Engine
	dockerErr  error
)

func dockerEngine() (*icontainer.Engine, error) {
	engineOnce.Do(func() {
		dockerEng, dockerErr = icontainer.Connect(context.Background())
		if dockerErr == nil && !dockerEng.ImageExists(context.Background(), engine.DefaultImage) {
			dockerErr = fmt.Errorf("local image %s missing: run scripts/setup.sh", engine.DefaultImage)
		}
	})
	return dockerEng, dockerErr
}

// containers is the Docker backend for tests that map a docker label; a
// test that needs it skips without an engine (fails in CI).
func containers(t *testing.T, labels []string) jobenv.ContainerBackend {
	if !strings.Contains(t.Name(), "Container") {
		return nil // host-only tests do not need the engine
	}
	e, err := dockerEngine()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	_ = labels
	return dockerbackend.New(e)
}

// leftoverContainers counts containers the job of task id left behind.
func leftoverContainers(t *testing.T, id int64) int {
	e, err := dockerEngine()
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.Client().ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", icontainer.LabelRun))})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range list {
		if strings.HasPrefix(c.Labels[icontainer.LabelRun], fmt.Sprintf("job-%d-", id)) {
			n++
		}
	}
	return n
}

func scrape(t *testing.T, m *selfhosted.Metrics, path string) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
