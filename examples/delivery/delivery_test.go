package delivery

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/gantry-ci/gantry/internal/container"
)

func goImage() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	return "gantry/golang:" + parts[0] + "." + parts[1]
}

// TestDeliveryPipeline runs .github/workflows/deliver.yml under Gantry
// twice against the production stack on loopback: a good release ends
// promoted with all traffic and the flag at 10%; a bad one is rolled back
// by the canary within failure-limit + 1 intervals, the stable keeps all
// traffic and the flag is untouched; nothing is left running. It takes two
// to eight minutes depending on the machine's load (scripts/test.sh runs
// go test with -timeout 20m).
func TestDeliveryPipeline(t *testing.T) {
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	defer e.Close()
	for _, img := range []string{goImage(), "gantry/busybox:latest", "gantry/postgres:15", "gantry/debian:bookworm"} {
		if !e.ImageExists(context.Background(), img) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("image %s missing: scripts/setup.sh builds it", img)
			}
			t.Skipf("image %s missing: run scripts/setup.sh", img)
		}
	}
	if err := Need(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	root, _ := filepath.Abs("../..")
	ws, err := os.MkdirTemp("/tmp", "gd") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ws)
	name := "shop-test-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var log strings.Builder
	s, err := Start(ctx, e, Options{Repo: root, Workspace: ws, Name: name, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	tune := Tuning{Steps: "25,50,100", Interval: "3s", FailureLimit: 1, MinRequests: 5, GuardDuration: "3s", GuardWindow: "10s",
		GoImage: goImage(), BaseImage: "gantry/busybox:latest", PostgresImage: "gantry/postgres:15"}

	good, err := s.Run(ctx, Release{Version: "v2", FailRate: "0", Strategy: "canary"}, tune, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !good.Success || good.Result != "promoted" || good.FinalWeight != "100" {
		t.Fatalf("good release: success %v result %q weight %q\n%s", good.Success, good.Result, good.FinalWeight, good.Log)
	}
	if good.After["v2"] != 100 {
		t.Errorf("after the promotion: %v, want v2 100/100", good.After)
	}
	if good.FlagBefore != "off" || good.FlagAfter != "on for 10%" {
		t.Errorf("flag %q -> %q, want off -> on for 10%%", good.FlagBefore, good.FlagAfter)
	}
	for _, st := range good.Steps {
		if st.Weight < 100 && (st.CanaryShare < float64(st.Weight)-10 || st.CanaryShare > float64(st.Weight)+10) {
			t.Errorf("step %d%%: the load saw %.1f%% on the canary", st.Weight, st.CanaryShare)
		}
	}
	if len(good.Annotations) == 0 || len(good.DeployInfo) == 0 || good.SARIF == "" || len(good.Charts) == 0 {
		t.Errorf("records: annotations %v deploy_info %v sarif %q charts %v", good.Annotations, good.DeployInfo, good.SARIF, good.Charts)
	}
	for _, stage := range []string{"build", "unit", "integration", "e2e", "scan", "deploy", "release", "annotate"} {
		found := false
		for _, st := range good.Stages {
			if st.Job == stage {
				found = st.Result == "success"
			}
		}
		if !found {
			t.Errorf("stage %s did not succeed: %+v", stage, good.Stages)
		}
	}

	bad, err := s.Run(ctx, Release{Version: "v3", FailRate: "0.5", Strategy: "canary"}, tune, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Success || bad.Result != "rolled-back" {
		t.Fatalf("bad release: success %v result %q\n%s", bad.Success, bad.Result, bad.Log)
	}
	if n := len(bad.Steps); n < 1 || n > tune.FailureLimit+1 {
		t.Errorf("rolled back after %d analysed intervals, want 1..%d", n, tune.FailureLimit+1)
	}
	if bad.After["v2"] != 100 {
		t.Errorf("after the rollback: %v, want the stable v2 on 100/100", bad.After)
	}
	if bad.FlagAfter != good.FlagAfter {
		t.Errorf("the bad release changed the flag: %q -> %q", good.FlagAfter, bad.FlagAfter)
	}
	for _, st := range bad.Stages {
		if st.Job == "release" && st.Result != "skipped" {
			t.Errorf("release ran after a rollback: %+v", st)
		}
	}

	closed = true
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	left, err := e.Leftovers(context.Background(), "canary-"+name)
	if err != nil || len(left) > 0 {
		t.Errorf("left behind: %v %v", left, err)
	}
	if resp, err := http.Get(s.Front); err == nil {
		resp.Body.Close()
		t.Errorf("HAProxy still answers at %s after Close", s.Front)
	}
	imgs, err := e.Client().ImageList(context.Background(), image.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, s.Registry+"/") {
				t.Errorf("image %s left behind", tag)
			}
		}
	}
}
