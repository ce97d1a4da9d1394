package canaryaction

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/canarytest"
	"github.com/gantry-ci/gantry/actions/canary/internal/router"
	"github.com/gantry-ci/gantry/actions/canary/internal/state"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	canarytest.Cleanup()
	os.Exit(code)
}

// rig is one test's loopback world: the stable app behind HAProxy, and
// Prometheus scraping HAProxy's exporter and the apps.
type rig struct {
	t      *testing.T
	stable string
	canary string
	h      *canarytest.HAProxy
	prom   string
	state  string
}

func newRig(t *testing.T, canaryFailRate float64) *rig {
	t.Helper()
	r := &rig{t: t, state: filepath.Join(t.TempDir(), "state", "rollout.json")}
	r.stable = canarytest.App(t, "v1", 0)
	r.canary = canarytest.App(t, "v2", canaryFailRate)
	// The green slot starts out pointing nowhere useful; the action aims it.
	r.h = canarytest.StartHAProxy(t, r.stable, "127.0.0.1:9")
	r.prom = canarytest.StartPrometheus(t, r.h.Metrics, r.stable, r.canary)
	// Two scrapes of HAProxy's counters before the first window opens.
	canarytest.WaitSeries(t, r.prom, `count_over_time(haproxy_server_http_responses_total{proxy="app",server="green",code="2xx"}[30s]) >= 2`, time.Minute)
	return r
}

// analysisYAML judges the canary from HAProxy's counters through Prometheus.
func (r *rig) analysisYAML(failureLimit int) string {
	return fmt.Sprintf(`prometheus: %s
backend: %s
failure-limit: %d
min-requests: 5
no-data: fail
metrics:
  - name: success-rate
    success-rate: 0.95
`, r.prom, r.h.Backend, failureLimit)
}

func (r *rig) inputs(extra map[string]string) map[string]string {
	in := map[string]string{
		"version":         "v2",
		"name":            "shop",
		"canary-address":  r.canary,
		"stable-address":  r.stable,
		"health-path":     "/healthz",
		"router":          "haproxy",
		"haproxy-socket":  r.h.Socket,
		"haproxy-backend": r.h.Backend,
		"slots":           "blue,green",
		"steps":           "10,25,50,100",
		"interval":        "4s",
		"state-file":      r.state,
		"analysis":        r.analysisYAML(0),
	}
	for k, v := range extra {
		in[k] = v
	}
	return in
}

type result struct {
	code    int
	log     string
	summary string
	outputs map[string]string
}

// runAction runs the action in-process the way the runner would.
func runAction(t *testing.T, inputs map[string]string) result {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_REPOSITORY": "acme/shop"}
	for _, f := range []string{env["GITHUB_STEP_SUMMARY"], env["GITHUB_OUTPUT"]} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range inputs {
		if name, ok := strings.CutPrefix(k, "env:"); ok {
			env[name] = v
			continue
		}
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log syncBuffer
	code := actionkit.Main(Run, actionkit.WithGetenv(func(k string) string { return env[k] }), actionkit.WithWriter(&log))
	s, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	o, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	return result{code: code, log: log.String(), summary: string(s), outputs: parseOutputs(string(o))}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// parseOutputs reads GITHUB_OUTPUT's NAME<<DELIM heredocs and NAME=VALUE lines.
func parseOutputs(s string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if name, delim, ok := strings.Cut(l, "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			out[name] = strings.Join(val, "\n")
		} else if name, val, ok := strings.Cut(l, "="); ok {
			out[name] = val
		}
	}
	return out
}

// splitRecorder measures the share of the load that reached the canary
// between two weight changes.
type splitRecorder struct {
	mu     sync.Mutex
	load   *canarytest.Load
	cur    int
	since  map[string]int
	splits map[int]float64
	order  []int
}

func (s *splitRecorder) onWeight(w int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.load.Counts()
	if s.since != nil && s.cur > 0 && s.cur < 100 {
		v2 := now["v2"] - s.since["v2"]
		v1 := now["v1"] - s.since["v1"]
		if v1+v2 > 0 {
			s.splits[s.cur] = 100 * float64(v2) / float64(v1+v2)
			s.order = append(s.order, s.cur)
		}
	}
	s.cur, s.since = w, now
}

func withSplits(t *testing.T, load *canarytest.Load) *splitRecorder {
	s := &splitRecorder{load: load, splits: map[int]float64{}}
	onWeight = s.onWeight
	t.Cleanup(func() { onWeight = nil })
	return s
}

func haproxyWeight(t *testing.T, r *rig, stable, canary string) int {
	t.Helper()
	h := &router.HAProxy{Socket: r.h.Socket, Backend: r.h.Backend, Stable: stable, Canary: canary}
	w, err := h.Weight(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func loadState(t *testing.T, path string) *state.State {
	t.Helper()
	st, err := (&state.File{Path: path}).Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestGoodCanaryIsPromoted(t *testing.T) {
	r := newRig(t, 0)
	load := canarytest.StartLoad(t, r.h.Front, 4, 5*time.Millisecond)
	splits := withSplits(t, load)
	var mu sync.Mutex
	var phases []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev struct{ Phase string }
		_ = json.NewDecoder(req.Body).Decode(&ev)
		mu.Lock()
		phases = append(phases, ev.Phase)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	charts := t.TempDir()
	res := runAction(t, r.inputs(map[string]string{"webhook-url": hook.URL, "webhook-secret": "s3cret", "chart-dir": charts}))
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.log)
	}
	for k, want := range map[string]string{"result": "promoted", "final-weight": "100", "rolled-back": "false"} {
		if res.outputs[k] != want {
			t.Errorf("output %s = %q, want %q\n%s", k, res.outputs[k], want, res.log)
		}
	}
	// Roles swapped: green serves everything, as the stable.
	if w := haproxyWeight(t, r, "blue", "green"); w != 100 {
		t.Errorf("green has %d%% after promotion", w)
	}
	st := loadState(t, r.state)
	if st.StableSlot != "green" || st.Stable.Version != "v2" || st.Phase != state.Promoted {
		t.Errorf("state after promotion: %+v", st)
	}
	for _, w := range []int{10, 25, 50} {
		got, ok := splits.splits[w]
		if !ok {
			t.Errorf("no traffic measured at %d%%", w)
			continue
		}
		t.Logf("step %d%%: %.1f%% of the load reached the canary", w, got)
		if got < float64(w)-3 || got > float64(w)+3 {
			t.Errorf("step %d%%: measured %.1f%% to the canary", w, got)
		}
	}
	if !strings.Contains(res.summary, "success-rate") || !strings.Contains(res.summary, "promoted") || !strings.Contains(res.summary, "xychart-beta") {
		t.Errorf("summary lacks the measurements or the chart:\n%s", res.summary)
	}
	mu.Lock()
	got := strings.Join(phases, ",")
	mu.Unlock()
	if got != "started,step,step,step,step,promoted" {
		t.Errorf("webhook saw %s", got)
	}
	svg, err := os.ReadFile(res.outputs["chart"])
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("chart output %q: %v", res.outputs["chart"], err)
	}
	if _, err := os.Stat(strings.TrimSuffix(res.outputs["chart"], ".svg") + ".png"); err != nil {
		t.Errorf("no PNG chart: %v", err)
	}
	// Only the ::add-mask:: command (which the runner swallows) may name it.
	if strings.Count(res.log, "s3cret") != strings.Count(res.log, "::add-mask::s3cret") {
		t.Error("the webhook secret reached the log")
	}
}

func TestBadCanaryIsRolledBack(t *testing.T) {
	r := newRig(t, 0.3)
	canarytest.StartLoad(t, r.h.Front, 4, 5*time.Millisecond)
	const failureLimit = 1
	// GitHub's deployments API, faked: the deployment and its statuses.
	var mu sync.Mutex
	var calls []string
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(req.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		if req.Header.Get("Authorization") != "Bearer ghs_test" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case req.Method == "POST" && req.URL.Path == "/repos/acme/shop/deployments":
			calls = append(calls, fmt.Sprintf("deployment %v %v", body["ref"], body["environment"]))
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id": 42}`)
		case req.Method == "POST" && req.URL.Path == "/repos/acme/shop/deployments/42/statuses":
			calls = append(calls, fmt.Sprint("status ", body["state"]))
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id": 1}`)
		default:
			calls = append(calls, req.Method+" "+req.URL.Path)
			_, _ = io.WriteString(w, `[]`)
		}
	}))
	t.Cleanup(gh.Close)
	res := runAction(t, r.inputs(map[string]string{"analysis": r.analysisYAML(failureLimit), "github-token": "ghs_test",
		"env:GITHUB_API_URL": gh.URL + "/", "env:GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567"}))
	if res.code == 0 {
		t.Fatalf("a canary failing 30%% of requests passed\n%s", res.log)
	}
	for k, want := range map[string]string{"result": "rolled-back", "final-weight": "0", "rolled-back": "true"} {
		if res.outputs[k] != want {
			t.Errorf("output %s = %q, want %q", k, res.outputs[k], want)
		}
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 0 {
		t.Errorf("the canary keeps %d%% after the rollback", w)
	}
	st := loadState(t, r.state)
	if len(st.History) > failureLimit+1 {
		t.Errorf("rolled back after %d analysed intervals, want at most failure-limit+1 = %d\n%s", len(st.History), failureLimit+1, res.log)
	}
	if st.StableSlot != "blue" {
		t.Errorf("stable slot moved to %s on a rollback", st.StableSlot)
	}
	mu.Lock()
	got := strings.Join(calls, "; ")
	mu.Unlock()
	if !strings.HasPrefix(got, "deployment 0123456789abcdef0123456789abcdef01234567 production; status in_progress") || !strings.HasSuffix(got, "status failure") {
		t.Errorf("GitHub saw: %s", got)
	}
	if res.outputs["deployment-id"] != "42" {
		t.Errorf("deployment-id %q", res.outputs["deployment-id"])
	}
}

func TestAbortInTheMiddle(t *testing.T) {
	r := newRig(t, 0)
	canarytest.StartLoad(t, r.h.Front, 2, 10*time.Millisecond)
	reached := make(chan int, 8)
	onWeight = func(w int) { reached <- w }
	t.Cleanup(func() { onWeight = nil })
	done := make(chan result, 1)
	go func() {
		done <- runAction(t, r.inputs(map[string]string{"steps": "20,50,100", "interval": "2m", "analysis": ""}))
	}()
	for w := range reached {
		if w == 20 {
			break
		}
	}
	onWeight = nil
	abort := runAction(t, r.inputs(map[string]string{"action": "abort", "reason": "bad reviews"}))
	if abort.code != 0 {
		t.Fatalf("abort exit %d\n%s", abort.code, abort.log)
	}
	var dep result
	select {
	case dep = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the deploy run did not end after the abort")
	}
	if dep.code == 0 || dep.outputs["result"] != "aborted" || dep.outputs["rolled-back"] != "true" {
		t.Errorf("deploy after abort: exit %d, outputs %v\n%s", dep.code, dep.outputs, dep.log)
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 0 {
		t.Errorf("the canary keeps %d%% after the abort", w)
	}
	if st := loadState(t, r.state); st.Phase != state.Aborted || !strings.Contains(st.Reason, "bad reviews") {
		t.Errorf("state after abort: phase %s, reason %q", st.Phase, st.Reason)
	}
}

func TestResumeAfterKill(t *testing.T) {
	r := newRig(t, 0)
	canarytest.StartLoad(t, r.h.Front, 2, 10*time.Millisecond)
	bin := filepath.Join(t.TempDir(), "canary")
	build := exec.Command("go", "build", "-o", bin, "github.com/gantry-ci/gantry/actions/canary")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	in := r.inputs(map[string]string{"steps": "10,25,50,100", "interval": "3s", "analysis": ""})
	cmd := exec.Command(bin)
	cmd.Env = os.Environ()
	for k, v := range in {
		cmd.Env = append(cmd.Env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := (&state.File{Path: r.state}).Load()
		if err == nil && st.Weight == 25 {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			t.Fatalf("the first run never reached 25%%\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	if w := haproxyWeight(t, r, "blue", "green"); w != 25 {
		t.Fatalf("after the kill the router holds %d%%, want 25%%", w)
	}
	res := runAction(t, in)
	if res.code != 0 {
		t.Fatalf("resumed run: exit %d\n%s", res.code, res.log)
	}
	if !strings.Contains(res.log, "resuming the rollout") {
		t.Errorf("the second run did not resume:\n%s", res.log)
	}
	if res.outputs["result"] != "promoted" {
		t.Errorf("result %q after resuming", res.outputs["result"])
	}
	st := loadState(t, r.state)
	var weights []int
	for _, h := range st.History {
		weights = append(weights, h.Weight)
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 100 {
		t.Errorf("green holds %d%% after the resumed promotion", w)
	}
	t.Logf("analysed weights across both runs: %v", weights)
	if len(weights) == 0 || weights[len(weights)-1] != 100 {
		t.Errorf("history %v does not end at 100%%", weights)
	}
}

func TestManualPauseThenPromoteThenRollback(t *testing.T) {
	r := newRig(t, 0)
	canarytest.StartLoad(t, r.h.Front, 2, 10*time.Millisecond)
	in := r.inputs(map[string]string{"steps": "25,pause,50,100", "interval": "1s", "analysis": "", "rollback-window": "10m",
		"haproxy-state-file": r.h.StateFile})
	res := runAction(t, in)
	if res.code != 0 || res.outputs["result"] != "paused" || res.outputs["final-weight"] != "25" {
		t.Fatalf("first run: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	// While paused, HAProxy is reloaded by someone else: the state file
	// the action keeps brings the split back.
	r.h.Restart()
	if w := haproxyWeight(t, r, "blue", "green"); w != 25 {
		t.Fatalf("green holds %d%% after HAProxy restarted during the pause", w)
	}
	if share, err := canarytest.Split(r.h.Front, "v2", 200); err != nil || share < 22 || share > 28 {
		t.Fatalf("v2 got %.1f%% of real traffic after HAProxy restarted during the pause (%v)", share, err)
	}
	in["action"] = "promote"
	res = runAction(t, in)
	if res.code != 0 || res.outputs["result"] != "promoted" {
		t.Fatalf("promote: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 100 {
		t.Fatalf("green holds %d%% after promote", w)
	}
	// The old stable is still warm: rolling back is one switch.
	in["action"] = "rollback"
	res = runAction(t, in)
	if res.code != 0 || res.outputs["rolled-back"] != "true" {
		t.Fatalf("rollback: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 0 {
		t.Errorf("green holds %d%% after rolling back the promotion", w)
	}
	if st := loadState(t, r.state); st.StableSlot != "blue" {
		t.Errorf("stable slot is %s after the rollback", st.StableSlot)
	}
	// Nothing left to roll back to now.
	res = runAction(t, in)
	if res.code == 0 {
		t.Errorf("a second rollback with nothing warm succeeded\n%s", res.log)
	}
}

func TestNginxRouterCanary(t *testing.T) {
	stable := canarytest.App(t, "v1", 0)
	canary := canarytest.App(t, "v2", 0)
	n := canarytest.StartNginx(t, func() string {
		return (&router.Nginx{Upstream: "app", Stable: stable}).Render(0)
	})
	load := canarytest.StartLoad(t, n.Front, 4, 5*time.Millisecond)
	splits := withSplits(t, load)
	res := runAction(t, map[string]string{
		"version": "v2", "name": "nginx-shop", "canary-address": canary, "stable-address": stable,
		"health-path": "/healthz", "router": "nginx", "nginx-upstream-file": n.UpstreamFile,
		"nginx-args": n.Args, "nginx-pid-file": n.PidFile, "steps": "25,50,100", "interval": "2s",
		"state-file": filepath.Join(t.TempDir(), "state.json"), "canary-header": "X-Canary=always",
	})
	if res.code != 0 || res.outputs["result"] != "promoted" {
		t.Fatalf("exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	for _, w := range []int{25, 50} {
		got, ok := splits.splits[w]
		t.Logf("nginx step %d%%: %.1f%% to the canary", w, got)
		if !ok || got < float64(w)-3 || got > float64(w)+3 {
			t.Errorf("nginx step %d%%: measured %.1f%% (measured: %v)", w, got, ok)
		}
	}
	if share, err := canarytest.Split(n.Front, "v2", 100); err != nil || share != 100 {
		t.Errorf("after promotion %.0f%% reach v2 (%v)", share, err)
	}
}

func TestBlueGreenWithImage(t *testing.T) {
	e := canarytest.Engine(t)
	img := canarytest.DemoImage(t, e)
	r := newRig(t, 0)
	canarytest.StartLoad(t, r.h.Front, 2, 10*time.Millisecond)
	name := fmt.Sprintf("bg-%d", time.Now().UnixNano())
	t.Cleanup(func() { _ = e.Cleanup(context.Background(), "canary-"+name) })
	in := r.inputs(map[string]string{
		"name": name, "strategy": "blue-green", "canary-address": "", "canary-image": img, "canary-port": "8080",
		"canary-env": "VERSION=v2", "version": "v2", "interval": "3s", "rollback-window": "0",
		"analysis": fmt.Sprintf("prometheus: %s\nbackend: app\nsmoke:\n  - path: /healthz\n    status: 200\n    contains: ok\nweb:\n  - name: health\n    url: http://%s/healthz\n    status: 200\n    json-path: status\n    equals: ok\n", r.prom, r.stable),
	})
	res := runAction(t, in)
	if res.code != 0 || res.outputs["result"] != "promoted" {
		t.Fatalf("exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	// One switch: everything reaches the container now.
	if share, err := canarytest.Split(r.h.Front, "v2", 100); err != nil || share != 100 {
		t.Errorf("after the switch %.0f%% reach v2 (%v)", share, err)
	}
	st := loadState(t, r.state)
	if st.Stable.Container == "" || st.StableSlot != "green" {
		t.Errorf("state %+v", st)
	}
	// A bad green is switched back at once and its container removed.
	in["version"], in["canary-env"] = "v3", "VERSION=v3\nFAIL_RATE=1"
	in["analysis"] = fmt.Sprintf("prometheus: %s\nbackend: app\nmetrics:\n  - name: success-rate\n    success-rate: 0.95\n", r.prom)
	in["health-path"] = "/healthz"
	res = runAction(t, in)
	if res.code == 0 || res.outputs["rolled-back"] != "true" {
		t.Fatalf("bad blue-green: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	if share, err := canarytest.Split(r.h.Front, "v2", 100); err != nil || share != 100 {
		t.Errorf("after switching back %.0f%% reach v2 (%v)", share, err)
	}
	left, _ := e.Leftovers(context.Background(), "canary-"+name)
	if len(left) != 1 {
		t.Errorf("containers of the rollout: %v, want only the serving v2", left)
	}
}

func TestStateInPostgresAcrossRuns(t *testing.T) {
	r := newRig(t, 0)
	pg := canarytest.StartPostgres(t)
	canarytest.StartLoad(t, r.h.Front, 2, 10*time.Millisecond)
	in := r.inputs(map[string]string{"steps": "25,pause,100", "interval": "1s", "analysis": "", "state-url": pg,
		"state-file": filepath.Join(t.TempDir(), "unused.json")})
	res := runAction(t, in)
	if res.code != 0 || res.outputs["result"] != "paused" {
		t.Fatalf("deploy: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	// The later run is "elsewhere": its own state file would be empty.
	in["action"], in["state-file"] = "promote", filepath.Join(t.TempDir(), "elsewhere.json")
	res = runAction(t, in)
	if res.code != 0 || res.outputs["result"] != "promoted" {
		t.Fatalf("promote: exit %d outputs %v\n%s", res.code, res.outputs, res.log)
	}
	if w := haproxyWeight(t, r, "blue", "green"); w != 100 {
		t.Errorf("green holds %d%%", w)
	}
	if strings.Contains(res.log, "gantry@") && !strings.Contains(res.log, "::add-mask::") {
		t.Errorf("the state URL reached the log")
	}
}
