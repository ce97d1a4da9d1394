package github_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/github"
	"github.com/gantry-ci/gantry/runner/forge/github/githubtest"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// These tests run real jobs through the real daemon and engine (host
// steps in bash) against the fake Actions service.

const secret = "s3cr3t-Value-9"

var hostLabels = []selfhosted.Label{{Name: "self-hosted", Platform: "host"}}

func protocol() *github.Protocol {
	return &github.Protocol{PollTimeout: 300 * time.Millisecond, RenewInterval: 50 * time.Millisecond,
		Logger: testLogger()}
}

func registration(srv *githubtest.Server, name string) forge.Registration {
	return forge.Registration{URL: srv.RepoURL(), Token: srv.RegistrationToken(), Name: name, Labels: []string{"self-hosted"}}
}

func registerToken(t *testing.T, srv *githubtest.Server, p *github.Protocol, name string, eph bool) *forge.Credentials {
	t.Helper()
	reg := registration(srv, name)
	reg.Ephemeral = eph
	creds, err := p.Register(context.Background(), reg)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return creds
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(t testing.TB, p *github.Protocol, creds *forge.Credentials, ephemeral bool) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &selfhosted.Runner{Protocol: p, Creds: creds, Labels: hostLabels, Dir: t.TempDir(), Ephemeral: ephemeral,
		Executor: &selfhosted.Executor{Labels: hostLabels, WorkRoot: t.TempDir(), NoContainers: "no containers in this test"},
		Grace:    2 * time.Second, Logger: testLogger()}
	run := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-run.done:
		case <-time.After(20 * time.Second):
			t.Error("the runner did not stop")
		}
	})
	return run
}

const mainJob = `
name: build
env:
  GREETING: hello
  MY_SECRET: ${{ secrets.MY_SECRET }}
outputs:
  answer: ${{ steps.first.outputs.val }}
  leak: ${{ steps.first.outputs.secret }}
steps:
  - id: first
    name: first step
    run: |
      echo "$GREETING from $MY_SECRET"
      echo "rt=$ACTIONS_RUNTIME_URL cache=$ACTIONS_CACHE_URL oidc=$ACTIONS_ID_TOKEN_REQUEST_URL color=${{ vars.COLOR }} cell=${{ matrix.os }}"
      echo "val=42" >> "$GITHUB_OUTPUT"
      echo "secret=$MY_SECRET" >> "$GITHUB_OUTPUT"
      echo "::warning file=a.go,line=3::careful now"
      echo "### summary of ${{ github.event_name }}" >> "$GITHUB_STEP_SUMMARY"
  - name: fails
    run: exit 3
  - name: skipped
    run: echo never
  - name: always
    if: ${{ always() }}
    run: echo "always ran"
`

func mainSpec() githubtest.JobSpec {
	return githubtest.JobSpec{Name: "build", YAML: mainJob, Secrets: map[string]string{"MY_SECRET": secret},
		Vars: map[string]string{"COLOR": "teal"}, Matrix: map[string]any{"os": "linux"}}
}

// everything is all the text the server received for a job.
func everything(t *testing.T, j *githubtest.Job) string {
	data, err := json.Marshal(j.Records)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.Write(data)
	for _, lines := range j.Feed {
		b.WriteString(strings.Join(lines, "\n"))
	}
	for _, l := range j.Logs {
		b.WriteString(l)
	}
	for _, a := range j.Attachments {
		b.WriteString(a)
	}
	for _, c := range j.Completions {
		cd, _ := json.Marshal(c)
		b.Write(cd)
	}
	rd, _ := json.Marshal([]any{j.ResultsSteps, j.ResultsLogs, j.ResultsSummaries})
	b.Write(rd)
	b.WriteString(j.ResultsJobLog)
	return b.String()
}

func checkMainJob(t *testing.T, j *githubtest.Job, runService bool) {
	t.Helper()
	if len(j.Completions) != 1 {
		t.Fatalf("completions: %d, want 1", len(j.Completions))
	}
	c := j.Completions[0]
	if c.Conclusion != "failed" {
		t.Errorf("conclusion %q, want failed (step 2 exits 3)", c.Conclusion)
	}
	if c.Outputs["answer"] != "42" {
		t.Errorf("outputs %v: want answer=42", c.Outputs)
	}
	if v, ok := c.Outputs["leak"]; ok && strings.Contains(v, secret) {
		t.Errorf("an output holds the secret: %q", v)
	}
	if all := everything(t, j); strings.Contains(all, secret) {
		t.Errorf("the secret reached the server")
	}
	// The main steps' records are the server's step ids, in order, with
	// their results.
	want := map[string]string{"first step": "succeeded", "fails": "failed", "skipped": "skipped", "always": "succeeded"}
	var order []string
	for _, r := range j.Records {
		name, _ := r["Name"].(string)
		if res, ok := want[name]; ok {
			if r["Result"] != res || r["State"] != "Completed" {
				t.Errorf("record %q: %v/%v, want Completed/%s", name, r["State"], r["Result"], res)
			}
		}
	}
	for _, sr := range c.StepResults {
		n, _ := sr["name"].(string)
		if _, ok := want[n]; ok {
			order = append(order, n+"="+sr["conclusion"].(string))
		}
	}
	if got := strings.Join(order, ","); runService && got != "first step=succeeded,fails=failed,skipped=skipped,always=succeeded" {
		t.Errorf("step results %s", got)
	}
	var firstID string
	for id, r := range j.Records {
		if r["Name"] == "first step" {
			firstID = id
		}
	}
	live := ""
	for id, lines := range j.Feed {
		if strings.EqualFold(id, firstID) {
			live = strings.Join(lines, "\n")
		}
	}
	for _, w := range []string{"hello from ***", "rt=" + "http", "/tenant/", "cache=http", "/cache/", "oidc=http", "color=teal", "cell=linux"} {
		if !strings.Contains(live, w) {
			t.Errorf("live feed of the first step lacks %q:\n%s", w, live)
		}
	}
	if !strings.Contains(j.Logs[firstID], "hello from ***") {
		t.Errorf("uploaded log of the first step: %q", j.Logs[firstID])
	}
	if s := j.Attachments["Checks.Step.Summary/"+firstID]; !strings.Contains(s, "### summary of push") {
		t.Errorf("step summary attachment: %v", j.Attachments)
	}
	// The results service got the same, dual-uploaded.
	if st := j.ResultsSteps[firstID]; st["status"] != float64(6) || st["conclusion"] != float64(2) {
		t.Errorf("results step state of the first step: %v", st)
	}
	conclusions := map[float64]int{}
	for _, st := range j.ResultsSteps {
		c, _ := st["conclusion"].(float64)
		conclusions[c]++
	}
	if conclusions[3] == 0 || conclusions[7] == 0 {
		t.Errorf("results step conclusions (3 failure, 7 skipped): %v", conclusions)
	}
	if !strings.Contains(j.ResultsLogs[firstID], "hello from ***") || !strings.Contains(j.ResultsJobLog, "always ran") {
		t.Errorf("results logs: step %q job %q", j.ResultsLogs[firstID], j.ResultsJobLog)
	}
	if !strings.Contains(j.ResultsSummaries[firstID], "### summary of push") {
		t.Errorf("results summaries: %v", j.ResultsSummaries)
	}
	found := false
	for _, a := range c.Annotations {
		if a["level"] == "WARNING" && a["message"] == "careful now" && a["path"] == "a.go" && a["startLine"] == float64(3) {
			found = true
		}
	}
	if runService && !found {
		t.Errorf("no warning annotation in %v", c.Annotations)
	}
	// The annotation is an issue on the step's record either way.
	is, _ := j.Records[firstID]["Issues"].([]any)
	if len(is) != 1 || is[0].(map[string]any)["Message"] != "careful now" || is[0].(map[string]any)["Data"].(map[string]any)["file"] != "a.go" {
		t.Errorf("issues of the first step: %v", is)
	}
	if j.AcquireCount != 1 {
		t.Errorf("acquired %d times", j.AcquireCount)
	}
}

// The pool flow: registration token, add agent, OAuth, session on the
// pool, PipelineAgentJobRequest, timeline and logs, JobCompleted event.
func TestPoolFlowHostJob(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	p := protocol()
	creds := registerToken(t, srv, p, "pool-runner", false)
	if got := srv.AgentLabels("pool-runner"); strings.Join(got, ",") != "self-hosted,Linux,X64" && !strings.HasPrefix(strings.Join(got, ","), "self-hosted,Linux") {
		t.Errorf("labels %v", got)
	}
	start(t, p, creds, false)
	j := srv.Wait(srv.Queue(mainSpec()), 60*time.Second)
	checkMainJob(t, j, false)
}

// The broker (v2) flow with a JIT config from go-github's
// GenerateRepoJITConfig: broker session, RunnerJobRequest, acquire, renew
// and complete on the run service; ephemeral, so the runner ends after it.
func TestBrokerFlowJITConfig(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	client, err := gh.NewClient(nil).WithAuthToken(srv.PAT()).WithEnterpriseURLs(srv.URL+"/api/v3/", srv.URL+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	jit, _, err := client.Actions.GenerateRepoJITConfig(context.Background(), "octo", "repo",
		&gh.GenerateJITConfigRequest{Name: "jit-1", RunnerGroupID: 1, Labels: []string{"self-hosted"}})
	if err != nil {
		t.Fatal(err)
	}
	p := protocol()
	creds, err := p.Register(context.Background(), forge.Registration{JITConfig: jit.GetEncodedJITConfig()})
	if err != nil {
		t.Fatalf("register with the JIT config: %v", err)
	}
	run := start(t, p, creds, true)
	j := srv.Wait(srv.Queue(mainSpec()), 60*time.Second)
	checkMainJob(t, j, true)
	if j.Renewals == 0 {
		t.Error("the job's lock was never renewed")
	}
	select {
	case err := <-run.done:
		if err != nil {
			t.Errorf("the ephemeral runner ended with %v", err)
		}
		run.done <- nil
	case <-time.After(10 * time.Second):
		t.Error("the ephemeral runner did not stop after its job")
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("%d sessions left open", n)
	}
}

func TestCancelMidJob(t *testing.T) {
	for _, broker := range []bool{false, true} {
		t.Run(map[bool]string{false: "pool", true: "broker"}[broker], func(t *testing.T) {
			srv := githubtest.New(t, githubtest.Options{Broker: broker})
			p := protocol()
			start(t, p, registerToken(t, srv, p, "cancel-runner", false), false)
			j := srv.Queue(githubtest.JobSpec{Name: "long", YAML: "steps:\n  - name: sleeper\n    run: echo started; sleep 60\n  - name: after\n    run: echo after\n"})
			deadline := time.Now().Add(30 * time.Second)
			for {
				snap := srv.Snapshot(j)
				started := false
				for _, lines := range snap.Feed {
					started = started || strings.Contains(strings.Join(lines, "\n"), "started")
				}
				if started {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the job never started")
				}
				time.Sleep(20 * time.Millisecond)
			}
			t0 := time.Now()
			srv.Cancel(j)
			got := srv.Wait(j, 30*time.Second)
			if c := got.Completions[0].Conclusion; c != "canceled" {
				t.Errorf("conclusion %q, want canceled", c)
			}
			if d := time.Since(t0); d > 20*time.Second {
				t.Errorf("cancellation took %v", d)
			}
			for _, r := range got.Records {
				if r["Name"] == "after" && r["Result"] != "skipped" && r["Result"] != "canceled" {
					t.Errorf("the step after the cancel: %v", r["Result"])
				}
			}
		})
	}
}

// Server errors and dropped connections on every leg: each job is run
// exactly once and completed exactly once.
func TestServerErrorsAndDrops(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	creds := registerToken(t, srv, p, "flaky-runner", false)
	srv.Fail("GET", "/broker/message", http.StatusServiceUnavailable, 2)
	srv.Fail("GET", "/broker/message", 0, 1)
	srv.Fail("POST", "/run/acquirejob", 0, 1)
	srv.Fail("POST", "/run/acquirejob", http.StatusBadGateway, 1)
	srv.Fail("POST", "/feed", 0, 1)
	srv.Fail("PATCH", "/records", http.StatusInternalServerError, 2)
	srv.Fail("POST", "/run/completejob", http.StatusServiceUnavailable, 2)
	srv.Fail("POST", "/run/renewjob", 0, 1)
	start(t, p, creds, false)
	var jobs []*githubtest.Job
	for i := 0; i < 3; i++ {
		jobs = append(jobs, srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo job-ran\n"}))
	}
	for _, j := range jobs {
		got := srv.Wait(j, 60*time.Second)
		if len(got.Completions) != 1 || got.Completions[0].Conclusion != "succeeded" {
			t.Errorf("completions %+v", got.Completions)
		}
		if got.AcquireCount != 1 {
			t.Errorf("acquired %d times", got.AcquireCount)
		}
	}
	if n := srv.PendingFaults(); n != 0 {
		t.Errorf("%d injected faults never fired", n)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would come now
	for _, j := range jobs {
		if n := len(srv.Snapshot(j).Completions); n != 1 {
			t.Errorf("job completed %d times", n)
		}
	}
}

// GitHub's own event names ("dynamic") that a workflow cannot declare
// still run, with github.event_name as the server says.
func TestDynamicEvent(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	start(t, p, registerToken(t, srv, p, "dyn-runner", false), false)
	j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "j", Event: "dynamic", YAML: "steps:\n  - run: echo \"event=${{ github.event_name }}\"\n"}), 30*time.Second)
	live := ""
	for _, l := range j.Feed {
		live += strings.Join(l, "\n")
	}
	if j.Completions[0].Conclusion != "succeeded" || !strings.Contains(live, "event=dynamic") {
		t.Errorf("conclusion %q, feed %q", j.Completions[0].Conclusion, live)
	}
}

func TestWrongRegistrationToken(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	_, err := protocol().Register(context.Background(), forge.Registration{URL: srv.RepoURL(), Token: "AREGwrong", Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "wrong or expired") {
		t.Fatalf("err = %v, want a wrong-or-expired token error", err)
	}
	if strings.Contains(err.Error(), "AREGwrong") {
		t.Error("the token is in the error")
	}
	if len(srv.Agents()) != 0 {
		t.Error("an agent was added")
	}
}

// An expired access token is exchanged again; a runner removed on the
// server ends the session with a clear error.
func TestExpiredTokenAndRemovedRunner(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	p := protocol()
	creds := registerToken(t, srv, p, "tok-runner", false)
	run := start(t, p, creds, false)
	time.Sleep(200 * time.Millisecond)
	srv.RevokeTokens()
	j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo ok\n"}), 60*time.Second)
	if j.Completions[0].Conclusion != "succeeded" {
		t.Errorf("conclusion %q", j.Completions[0].Conclusion)
	}
	srv.RemoveAgent("tok-runner")
	select {
	case err := <-run.done:
		if err == nil || !strings.Contains(err.Error(), "register it again") {
			t.Errorf("err = %v", err)
		}
		run.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("the runner kept going with refused credentials")
	}
}

// A job message that does not parse is reported as that job's failure
// with the reason; the runner keeps serving.
func TestUnparsableJobMessage(t *testing.T) {
	for _, broker := range []bool{false, true} {
		t.Run(map[bool]string{false: "pool", true: "broker"}[broker], func(t *testing.T) {
			srv := githubtest.New(t, githubtest.Options{Broker: broker})
			p := protocol()
			start(t, p, registerToken(t, srv, p, "bad-runner", false), false)
			bad := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "bad", Raw: []byte(`{"steps": "not a list", "contextData": {}}`)}), 30*time.Second)
			c := bad.Completions[0]
			if c.Conclusion != "failed" {
				t.Errorf("conclusion %q", c.Conclusion)
			}
			why := ""
			for _, r := range bad.Records {
				if is, ok := r["Issues"].([]any); ok && len(is) > 0 {
					why += is[0].(map[string]any)["Message"].(string)
				}
			}
			if !strings.Contains(why, "does not parse") {
				t.Errorf("the reason reported: %q", why)
			}
			good := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "good", YAML: "steps:\n  - run: echo fine\n"}), 30*time.Second)
			if good.Completions[0].Conclusion != "succeeded" {
				t.Errorf("the next job: %q", good.Completions[0].Conclusion)
			}
		})
	}
}

// Four runners against one server take 100 jobs: each run exactly once,
// and every runner takes some.
func TestFleetDistinctJobs(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	for i := 0; i < 4; i++ {
		start(t, p, registerToken(t, srv, p, "fleet-"+string(rune('a'+i)), false), false)
	}
	var jobs []*githubtest.Job
	for i := 0; i < 100; i++ {
		jobs = append(jobs, srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo hi\n"}))
	}
	for _, j := range jobs {
		got := srv.Wait(j, 120*time.Second)
		if got.AcquireCount != 1 || len(got.Completions) != 1 || got.Completions[0].Conclusion != "succeeded" {
			t.Errorf("acquired %d, completions %+v", got.AcquireCount, got.Completions)
		}
	}
	by := srv.JobsByRunner()
	if len(by) != 4 {
		t.Errorf("jobs by runner %v: want all four to take some", by)
	}
}

func TestRemove(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{})
	p := protocol()
	creds := registerToken(t, srv, p, "gone-runner", false)
	if err := p.Remove(context.Background(), creds); err != nil {
		t.Fatal(err)
	}
	if len(srv.Agents()) != 0 {
		t.Errorf("agents left: %v", srv.Agents())
	}
	if _, err := p.Connect(context.Background(), creds, nil); err == nil || !strings.Contains(err.Error(), "register it again") {
		t.Errorf("connect after remove: %v", err)
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("GANTRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// A container job: the job message's container: runs the steps in a
// fresh container of a local image, removed after the job.
func TestContainerJob(t *testing.T) {
	ctx := context.Background()
	eng, err := container.Connect(ctx)
	if err != nil {
		t.Skipf("no Docker engine: %v", err)
	}
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	creds := registerToken(t, srv, p, "ctr-runner", false)
	labels := []selfhosted.Label{{Name: "self-hosted", Platform: "host"}}
	r := &selfhosted.Runner{Protocol: p, Creds: creds, Labels: labels, Dir: t.TempDir(), Once: true, Logger: testLogger(),
		Executor: &selfhosted.Executor{Labels: labels, WorkRoot: t.TempDir(), Containers: dockerbackend.New(eng)}}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "ctr", Secrets: map[string]string{"TOKEN": secret}, YAML: `
container:
  image: gantry/debian:bookworm
  env:
    IN_CTR: "yes"
steps:
  - run: echo "debian $(cat /etc/debian_version) in=$IN_CTR tok=${{ secrets.TOKEN }}"
`}), 120*time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c := j.Completions[0].Conclusion; c != "succeeded" {
		t.Fatalf("conclusion %q; records %v", c, j.Records)
	}
	live := ""
	for _, l := range j.Feed {
		live += strings.Join(l, "\n")
	}
	if !strings.Contains(live, "debian 12") || !strings.Contains(live, "in=yes") || !strings.Contains(live, "tok=***") {
		t.Errorf("feed: %s", live)
	}
	if strings.Contains(everything(t, j), secret) {
		t.Error("the secret reached the server")
	}
}

// The runner-admin registration (use_v2_flow in the registration answer):
// the key goes as XML to {api}/actions/runners/register; the runner is on
// the broker from the start.
func TestRunnerAdminFlow(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{AdminFlow: true})
	p := protocol()
	creds := registerToken(t, srv, p, "admin-runner", false)
	if got := srv.AgentLabels("admin-runner"); len(got) == 0 || got[0] != "self-hosted" {
		t.Errorf("labels %v", got)
	}
	start(t, p, creds, false)
	j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo admin\n"}), 60*time.Second)
	if j.Completions[0].Conclusion != "succeeded" || srv.Calls("/broker/session") == 0 {
		t.Errorf("conclusion %q, broker sessions %d", j.Completions[0].Conclusion, srv.Calls("/broker/session"))
	}
}

// A job a dead runner process left running is reported failed after the
// restart, from the state the daemon keeps (no token on disk), and is
// not run again.
func TestOrphanReportedFailed(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	creds := registerToken(t, srv, p, "orphan-runner", false)
	ctx := context.Background()
	sess, err := p.Connect(ctx, creds, []string{"self-hosted"})
	if err != nil {
		t.Fatal(err)
	}
	j := srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo never\n"})
	var a forge.Assignment
	for a == nil {
		if a, err = sess.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	state := a.(forge.Resumable).State()
	if strings.Contains(string(state), "ghs_") {
		t.Errorf("the saved state holds a token: %s", state)
	}
	job, _ := a.Job()
	// The process "dies": nothing completes the job; a new one reports it.
	if err := p.FailOrphan(ctx, creds, forge.Orphan{ServerID: job.ServerID, State: state}, "the runner died"); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(j, 10*time.Second)
	if c := got.Completions[0]; c.Conclusion != "failed" || len(c.Annotations) != 1 || c.Annotations[0]["message"] != "the runner died" {
		t.Errorf("completion %+v", c)
	}
	_ = sess.Close(ctx)
}

// A session the server forgot is created again and jobs keep coming; a
// second process with the same credentials is refused a session.
func TestSessionExpiredAndConflict(t *testing.T) {
	for _, broker := range []bool{false, true} {
		t.Run(map[bool]string{false: "pool", true: "broker"}[broker], func(t *testing.T) {
			srv := githubtest.New(t, githubtest.Options{Broker: broker})
			p := protocol()
			creds := registerToken(t, srv, p, "sess-runner", false)
			start(t, p, creds, false)
			for srv.Sessions() == 0 {
				time.Sleep(5 * time.Millisecond)
			}
			if _, err := p.Connect(context.Background(), creds, nil); err == nil || !strings.Contains(err.Error(), "another runner process") {
				t.Errorf("a second session: %v", err)
			}
			srv.ExpireSessions()
			j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo again\n"}), 30*time.Second)
			if j.Completions[0].Conclusion != "succeeded" || srv.Sessions() != 1 {
				t.Errorf("conclusion %q, sessions %d", j.Completions[0].Conclusion, srv.Sessions())
			}
		})
	}
}

// When the Actions service refuses every timeline and log call, the
// reports are given up and the job is still completed with its steps.
func TestReportsGivenUpJobCompleted(t *testing.T) {
	defer github.SetFlushLimit(300 * time.Millisecond)()
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	p := protocol()
	start(t, p, registerToken(t, srv, p, "down-runner", false), false)
	srv.Fail("", "/_apis/distributedtask/hubs/", http.StatusServiceUnavailable, 1<<30)
	j := srv.Wait(srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo one\n  - run: echo two\n"}), 60*time.Second)
	if len(j.Completions) != 1 || j.Completions[0].Conclusion != "succeeded" || len(j.Completions[0].StepResults) < 2 {
		t.Errorf("completions %+v", j.Completions)
	}
}
