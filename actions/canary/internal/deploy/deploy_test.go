package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/canarytest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	canarytest.Cleanup()
	os.Exit(code)
}

func TestImageCanaryIsHealthCheckedAndRemoved(t *testing.T) {
	e := canarytest.Engine(t)
	img := canarytest.DemoImage(t, e)
	name := fmt.Sprintf("deploytest-%d", time.Now().UnixNano())
	ctx := context.Background()
	inst, err := Up(ctx, e, Spec{Name: name, Slot: "green", Version: "v7", Image: img, Port: 8080,
		Env: map[string]string{"VERSION": "v7"}, HealthPath: "/healthz", HealthTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Cleanup(context.Background(), RunID(name)) })
	if !strings.HasPrefix(inst.Addr, "127.0.0.1:") || inst.Container == "" {
		t.Fatalf("instance %+v", inst)
	}
	resp, err := http.Get("http://" + inst.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(body)) != "v7" {
		t.Errorf("canary answered %q", body)
	}
	if !Running(ctx, e, inst.Container) {
		t.Error("container not running")
	}
	if err := Remove(ctx, e, inst.Container); err != nil {
		t.Fatal(err)
	}
	if Running(ctx, e, inst.Container) {
		t.Error("container still running after Remove")
	}
	if err := Remove(ctx, e, inst.Container); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	canarytest.Leftovers(t, e, RunID(name))
}

func TestUnhealthyCanaryLeavesNothing(t *testing.T) {
	e := canarytest.Engine(t)
	img := canarytest.DemoImage(t, e)
	name := fmt.Sprintf("deploytest-bad-%d", time.Now().UnixNano())
	// Every request to / fails: never healthy.
	_, err := Up(context.Background(), e, Spec{Name: name, Slot: "green", Version: "v8", Image: img, Port: 8080,
		Env: map[string]string{"FAIL_RATE": "1"}, HealthPath: "/", HealthTimeout: 3 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "not healthy") {
		t.Fatalf("err = %v", err)
	}
	canarytest.Leftovers(t, e, RunID(name))
}

func TestAddressCanary(t *testing.T) {
	addr := canarytest.App(t, "v3", 0)
	inst, err := Up(context.Background(), nil, Spec{Name: "x", Address: addr, HealthPath: "/healthz"})
	if err != nil || inst.Addr != addr || inst.Container != "" {
		t.Fatalf("%+v %v", inst, err)
	}
	if _, err := Up(context.Background(), nil, Spec{Name: "x", Address: "nohost"}); err == nil {
		t.Error("an address without a port was accepted")
	}
	if _, err := Up(context.Background(), nil, Spec{Name: "x", Image: "img", Port: 80}); err == nil {
		t.Error("an image without an engine was accepted")
	}
}

func TestContainerNameIsStableAndSafe(t *testing.T) {
	a := ContainerName("acme/shop prod", "green", "v1.2.3")
	if a != ContainerName("acme/shop prod", "green", "v1.2.3") || a == ContainerName("acme/shop prod", "green", "v1.2.4") {
		t.Error("names must be stable per version and differ between versions")
	}
	if strings.ContainsAny(a, "/ ") {
		t.Errorf("unsafe name %q", a)
	}
}
