package services_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/services"
)

// A container on a job's own bridge network (as jobs with services: get)
// reaches the services at the address ContainerEnv gives.
func TestReachableFromAJobNetwork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := container.Connect(ctx)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	defer e.Close()
	if !e.ImageExists(ctx, "gantry/debian:bookworm") {
		t.Skip("gantry/debian:bookworm is not built (bash scripts/setup.sh builds it)")
	}
	subnets, err := e.BridgeSubnets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host := services.LocalAddressIn(subnets)
	if host == "" {
		t.Skipf("this machine has no address on Docker's bridge %v (a remote engine)", subnets)
	}
	root := t.TempDir()
	svc, err := services.Start(ctx, services.Config{RunID: "1", Repo: "o/r", Scopes: []string{"refs/heads/main"},
		CacheDir: filepath.Join(root, "c"), ArtifactDir: filepath.Join(root, "a"), ContainerHost: host})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if !strings.Contains(svc.ContainerEnv["ACTIONS_RESULTS_URL"], host) || strings.Contains(svc.ContainerEnv["ACTIONS_CACHE_URL"], "127.0.0.1") {
		t.Fatalf("container env %v", svc.ContainerEnv)
	}
	b := make([]byte, 4)
	rand.Read(b)
	runID := "svc-test-" + hex.EncodeToString(b)
	defer e.Cleanup(context.WithoutCancel(ctx), runID)
	nw, err := e.CreateNetwork(ctx, runID, "job", "gantry-"+runID)
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code, err := e.RunOnce(ctx, container.Spec{
		RunID: runID, Job: "job", Name: "gantry-" + runID + "-probe", Image: "gantry/debian:bookworm", Network: nw,
		Env:        svc.ContainerEnv,
		Entrypoint: []string{"bash", "-c"},
		Cmd:        []string{`curl -sS -m 10 -H "Authorization: Bearer $ACTIONS_RUNTIME_TOKEN" "${ACTIONS_CACHE_URL}_apis/artifactcache/caches?key=x"`},
	}, &out, &errb)
	if err != nil || code != 0 || !strings.Contains(out.String(), `"totalCount":0`) {
		t.Fatalf("from a job network: exit %d %v\n%s\n%s", code, err, out.String(), errb.String())
	}
}
