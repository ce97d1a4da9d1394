package rollout

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/canary/internal/state"
)

// The controller's decisions are tested here against in-memory parts; the
// real HAProxy, Prometheus and apps are in canaryaction's end-to-end tests.

type memRouter struct {
	mu       sync.Mutex
	weights  map[string]int // slot -> weight
	addrs    map[string]string
	final    []string
	failSet  int // a weight SetWeight refuses
	stable   string
	canary   string
	shared   *memRouter
	setCalls []int
}

func (m *memRouter) root() *memRouter {
	if m.shared != nil {
		return m.shared
	}
	return m
}

func (m *memRouter) SetWeight(_ context.Context, p int) error {
	r := m.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failSet != 0 && p == r.failSet {
		return fmt.Errorf("router refused %d%%", p)
	}
	r.weights[m.canary] = p
	r.weights[m.stable] = 100 - p
	r.setCalls = append(r.setCalls, p)
	return nil
}

func (m *memRouter) Weight(context.Context) (int, error) {
	r := m.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.weights[m.canary], nil
}

func (m *memRouter) PointCanary(_ context.Context, addr string) error {
	r := m.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs[m.canary] = addr
	return nil
}

func (m *memRouter) Finalize(_ context.Context, canaryWins bool) error {
	r := m.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	winner := m.stable
	if canaryWins {
		winner = m.canary
	}
	r.final = append(r.final, winner)
	return nil
}

type scriptJudge struct {
	mu       sync.Mutex
	verdicts []Verdict // by call; past the end: Continue
	calls    int
	smoke    error
}

func (j *scriptJudge) Smoke(context.Context, string) error { return j.smoke }

func (j *scriptJudge) Analyze(_ context.Context, w Window) Result {
	j.mu.Lock()
	defer j.mu.Unlock()
	v := Continue
	if j.calls < len(j.verdicts) {
		v = j.verdicts[j.calls]
	}
	j.calls++
	return Result{Verdict: v, Reason: fmt.Sprintf("scripted at %d%%", w.Weight)}
}

type memDeployer struct {
	mu      sync.Mutex
	up      []string
	removed []string
	fail    error
}

func (d *memDeployer) Up(_ context.Context, slot string) (state.Release, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return state.Release{}, d.fail
	}
	d.up = append(d.up, slot)
	return state.Release{Slot: slot, Addr: "10.0.0.1:80", Container: "c-" + slot}, nil
}

func (d *memDeployer) Remove(_ context.Context, r state.Release) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removed = append(d.removed, r.Container)
	return nil
}

func (d *memDeployer) Alive(context.Context, state.Release) bool    { return true }
func (d *memDeployer) Healthy(context.Context, state.Release) error { return nil }

type fixture struct {
	c   *Controller
	r   *memRouter
	j   *scriptJudge
	d   *memDeployer
	evs []string
	mu  sync.Mutex
}

func newFixture(t *testing.T, steps string) *fixture {
	t.Helper()
	s, err := ParseSteps(steps)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		r: &memRouter{weights: map[string]int{}, addrs: map[string]string{}},
		j: &scriptJudge{},
		d: &memDeployer{},
	}
	f.c = &Controller{
		Config: Config{Name: "app", Version: "v2", Steps: s, Interval: 10 * time.Millisecond,
			Slots: [2]string{"blue", "green"}, RollbackWindow: time.Hour},
		Store: &state.File{Path: filepath.Join(t.TempDir(), "state.json")},
		Routers: func(stable, canary state.Release) (Router, error) {
			c := canary.Slot
			if c == "" {
				c = other([2]string{"blue", "green"}, stable.Slot)
			}
			return &memRouter{shared: f.r, stable: stable.Slot, canary: c}, nil
		},
		Judge:    f.j,
		Deployer: f.d,
		Notify: func(_ context.Context, e Event) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.evs = append(f.evs, fmt.Sprintf("%s@%d", e.Phase, e.Weight))
		},
		Poll: 5 * time.Millisecond,
	}
	return f
}

func TestPromotionSwapsRoles(t *testing.T) {
	f := newFixture(t, "10,50,100")
	st, err := f.c.Deploy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != state.Promoted || st.StableSlot != "green" || st.Stable.Version != "v2" {
		t.Fatalf("after promotion: %+v", st)
	}
	if st.Previous == nil || st.Previous.Slot != "blue" {
		t.Errorf("the old stable is not kept warm: %+v", st.Previous)
	}
	if got := f.r.weights["green"]; got != 100 {
		t.Errorf("green weight %d", got)
	}
	if want := []int{0, 0, 10, 50, 100}; !reflect.DeepEqual(f.r.setCalls, want) {
		t.Errorf("weights set %v, want %v", f.r.setCalls, want)
	}
	if want := []string{"started@0", "step@10", "step@50", "step@100", "promoted@100"}; !reflect.DeepEqual(f.evs, want) {
		t.Errorf("events %v, want %v", f.evs, want)
	}
	// The next rollout goes into the slot the old stable leaves.
	f.c.Config.Version = "v3"
	f.r.setCalls = nil
	st, err = f.c.Deploy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.StableSlot != "blue" || f.d.up[len(f.d.up)-1] != "blue" {
		t.Errorf("v3 went to %v, stable slot %s", f.d.up, st.StableSlot)
	}
	// The warm v1 (no container: it was there before Gantry) had to make room.
	if len(f.d.removed) != 1 || st.Previous == nil || st.Previous.Version != "v2" {
		t.Errorf("removed %q, previous %+v", f.d.removed, st.Previous)
	}
}

func TestFailedAnalysisRollsBackInSteps(t *testing.T) {
	f := newFixture(t, "10,50,80,100")
	f.j.verdicts = []Verdict{Continue, Continue, Fail}
	f.c.Config.RollbackSteps = []int{50, 20}
	st, err := f.c.Deploy(context.Background())
	var rb *RollbackError
	if !errors.As(err, &rb) || !rb.Clean() || !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err = %v", err)
	}
	if st.Weight != 0 || st.Phase != state.RolledBack || st.StableSlot != "blue" {
		t.Errorf("state %+v", st)
	}
	// 80% failed: down through 50 and 20 to 0; stable wins; canary removed.
	if want := []int{0, 0, 10, 50, 80, 50, 20, 0}; !reflect.DeepEqual(f.r.setCalls, want) {
		t.Errorf("weights %v, want %v", f.r.setCalls, want)
	}
	if !reflect.DeepEqual(f.r.final, []string{"blue"}) || !reflect.DeepEqual(f.d.removed, []string{"c-green"}) {
		t.Errorf("final %v removed %v", f.r.final, f.d.removed)
	}
	if len(st.History) != 3 {
		t.Errorf("history %d steps", len(st.History))
	}
}

func TestSmokeFailureNeverGivesTraffic(t *testing.T) {
	f := newFixture(t, "10,100")
	f.j.smoke = errors.New("GET /healthz: 503")
	_, err := f.c.Deploy(context.Background())
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "smoke") {
		t.Fatalf("err = %v", err)
	}
	for _, w := range f.r.setCalls {
		if w != 0 {
			t.Errorf("the canary got %d%% despite failing smoke checks", w)
		}
	}
}

func TestRouterRefusalRollsBack(t *testing.T) {
	f := newFixture(t, "10,50,100")
	f.r.failSet = 50
	st, err := f.c.Deploy(context.Background())
	if !errors.Is(err, ErrRolledBack) || st.Weight != 0 {
		t.Fatalf("err %v weight %d", err, st.Weight)
	}
}

func TestDeadlineRollsBack(t *testing.T) {
	f := newFixture(t, "10,pause:1h,100")
	f.c.Config.Deadline = 50 * time.Millisecond
	_, err := f.c.Deploy(context.Background())
	if !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelRollsBack(t *testing.T) {
	f := newFixture(t, "10,pause:1h,100")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	st, err := f.c.Deploy(ctx)
	if !errors.Is(err, ErrRolledBack) || st.Phase != state.Aborted || st.Weight != 0 {
		t.Fatalf("err %v state %+v", err, st)
	}
}

func TestAbortWinsOverPromote(t *testing.T) {
	f := newFixture(t, "10,pause:1h,100")
	done := make(chan error, 1)
	go func() { _, err := f.c.Deploy(context.Background()); done <- err }()
	waitFor(t, func() bool { st, _ := f.c.Store.Load(); return st.Weight == 10 })
	// Both requests are pending when the driving run looks: abort wins.
	if err := f.c.Store.Request(state.RequestPromote, "go"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Store.Request(state.RequestAbort, "stop"); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err = %v", err)
	}
	st, _ := f.c.Store.Load()
	if st.Phase != state.Aborted {
		t.Errorf("phase %s", st.Phase)
	}
	// And a later promote of an aborted rollout is refused.
	if _, err := f.c.Promote(context.Background()); err == nil {
		t.Error("promoting an aborted rollout succeeded")
	}
}

func TestPromoteRequestSkipsRemainingSteps(t *testing.T) {
	f := newFixture(t, "10,pause:1h,50,100")
	done := make(chan error, 1)
	go func() { _, err := f.c.Deploy(context.Background()); done <- err }()
	waitFor(t, func() bool { st, _ := f.c.Store.Load(); return st.Weight == 10 })
	later := *f.c // another workflow run: its own handle on the state
	later.Store = &state.File{Path: f.c.Store.(*state.File).Path}
	st, err := later.Promote(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != state.Promoted || st.StableSlot != "green" {
		t.Errorf("state %+v", st)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestInconclusivePausesAndResumes(t *testing.T) {
	f := newFixture(t, "10,50,100")
	f.j.verdicts = []Verdict{Continue, Pause}
	st, err := f.c.Deploy(context.Background())
	if err != nil || st.Phase != state.Paused || st.Weight != 50 {
		t.Fatalf("err %v state %+v", err, st)
	}
	// Deploying the same version again resumes at the step that paused.
	st, err = f.c.Deploy(context.Background())
	if err != nil || st.Phase != state.Promoted {
		t.Fatalf("resume: err %v phase %s", err, st.Phase)
	}
	// A different version cannot start while one is paused.
	f2 := newFixture(t, "10,50,100")
	f2.c.Store = f.c.Store
	f2.j.verdicts = []Verdict{Pause}
	if _, err := f2.c.Deploy(context.Background()); err != nil {
		t.Fatal(err)
	}
	f2.c.Config.Version = "v9"
	if _, err := f2.c.Deploy(context.Background()); err == nil || !strings.Contains(err.Error(), "promote or abort") {
		t.Errorf("err = %v", err)
	}
}

func TestBlueGreenJudgesIdleColourFirst(t *testing.T) {
	f := newFixture(t, "10,100")
	f.c.Config.Strategy = "blue-green"
	f.j.verdicts = []Verdict{Continue, Fail}
	st, err := f.c.Deploy(context.Background())
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("err = %v", err)
	}
	// Idle colour judged at 0%, then one switch to 100% and straight back.
	if want := []int{0, 0, 100, 0}; !reflect.DeepEqual(f.r.setCalls, want) {
		t.Errorf("weights %v, want %v", f.r.setCalls, want)
	}
	if f.j.calls != 2 || st.StableSlot != "blue" {
		t.Errorf("judge calls %d, stable %s", f.j.calls, st.StableSlot)
	}
}

func TestLockedRolloutRefusesSecondDeploy(t *testing.T) {
	f := newFixture(t, "10,pause:1h,100")
	done := make(chan error, 1)
	go func() { _, err := f.c.Deploy(context.Background()); done <- err }()
	waitFor(t, func() bool { st, _ := f.c.Store.Load(); return st.Weight == 10 })
	other := *f.c
	other.Store = &state.File{Path: f.c.Store.(*state.File).Path}
	if _, err := other.Deploy(context.Background()); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Errorf("err = %v", err)
	}
	if _, err := other.Abort(context.Background(), "test over"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrRolledBack) {
		t.Errorf("deploy err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestParseSteps(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "10,25,50,100", want: "10% 25% 50% 100%"},
		{in: "5, pause:30s, 50%, pause, 100", want: "5% pause:30s 50% pause 100%"},
		{in: "10,10", err: "does not rise"},
		{in: "0,100", err: "outside 1-100"},
		{in: "pause", err: "name no weight"},
		{in: "10,pause:soon", err: "pause:DURATION"},
		{in: "ten", err: "use a weight"},
	} {
		got, err := ParseSteps(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if s := strings.Join(stepNames(got), " "); s != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, s, tc.want)
		}
	}
	if w, err := ParseWeights("50, 20,0"); err != nil || !reflect.DeepEqual(w, []int{50, 20}) {
		t.Errorf("ParseWeights: %v %v", w, err)
	}
	if _, err := ParseWeights("20,50"); err == nil {
		t.Error("rising rollback steps accepted")
	}
}

func FuzzParseSteps(f *testing.F) {
	for _, s := range []string{"10,25,50,100", "pause,10", "5,pause:1m,100"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := ParseSteps(s)
		if err != nil {
			return
		}
		last := 0
		for _, st := range steps {
			if st.IsPause() {
				continue
			}
			if st.Weight <= last || st.Weight > 100 {
				t.Fatalf("%q gave weights out of order: %v", s, stepNames(steps))
			}
			last = st.Weight
		}
	})
}
