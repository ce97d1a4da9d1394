package flagaction

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/audit"
	"github.com/gantry-ci/gantry/actions/flag/internal/flagd"
	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/ghfake"
	"github.com/gantry-ci/gantry/actions/flag/internal/guard"
	"github.com/gantry-ci/gantry/actions/flag/internal/promtest"
	"github.com/gantry-ci/gantry/internal/actionkit"
	"github.com/gantry-ci/gantry/internal/envfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const flagFile = `{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "new-checkout": {
      "state": "DISABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "off"
    },
    "banner": {
      "state": "ENABLED",
      "variants": { "on": true, "off": false },
      "defaultVariant": "on"
    }
  }
}
`

type result struct {
	code             int
	log, summary     string
	outputs          map[string]string
	before, newState flags.State
}

// runFlag runs the action in-process with inputs in workspace dir.
func runFlag(t *testing.T, dir string, inputs map[string]string, extraEnv ...string) result {
	t.Helper()
	tmp := t.TempDir()
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(tmp, "summary"), "GITHUB_OUTPUT": filepath.Join(tmp, "output"),
		"GITHUB_WORKSPACE": dir, "GITHUB_ACTOR": "octocat", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "77"}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	for _, f := range []string{env["GITHUB_STEP_SUMMARY"], env["GITHUB_OUTPUT"]} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log bytes.Buffer
	code := actionkit.Main(Run, actionkit.WithGetenv(func(k string) string { return env[k] }), actionkit.WithWriter(&log))
	r := result{code: code, log: log.String(), outputs: map[string]string{}}
	s, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	r.summary = string(s)
	o, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	kvs, err := envfile.ParseKV(bytes.NewReader(o))
	if err != nil {
		t.Fatalf("outputs: %v\n%s", err, o)
	}
	for _, kv := range kvs {
		r.outputs[kv.Key] = kv.Value
	}
	_ = json.Unmarshal([]byte(r.outputs["previous-state"]), &r.before)
	_ = json.Unmarshal([]byte(r.outputs["new-state"]), &r.newState)
	return r
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// checkout makes a git repository holding the flag file.
func checkout(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "flags.json"), []byte(flagFile), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", ".")
	git(t, dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
	return dir
}

func readFlag(t *testing.T, src []byte, key string) flags.State {
	t.Helper()
	st, err := flagd.Document{}.Read(src, key)
	if err != nil {
		t.Fatalf("read %s: %v\n%s", key, err, src)
	}
	return st
}

func fileState(t *testing.T, dir, key string) flags.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
	if err != nil {
		t.Fatal(err)
	}
	return readFlag(t, b, key)
}

func auditRecords(t *testing.T, path string) []audit.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := audit.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestLocalCommitWithAuditLog(t *testing.T) {
	dir := checkout(t)
	r := runFlag(t, dir, map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "on", "rollout": "20%",
		"commit": "local", "audit-log": "deploy/flag-audit.jsonl", "reason": "launch week"})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	st := fileState(t, dir, "new-checkout")
	if !st.Enabled || st.Rollout != 20 || st.RolloutVariant != "on" {
		t.Fatalf("file state %+v", st)
	}
	if other := fileState(t, dir, "banner"); !other.Enabled || other.DefaultVariant != "on" {
		t.Errorf("other flag changed: %+v", other)
	}
	if r.outputs["changed"] != "true" || r.before.Enabled || r.before.Rollout != -1 || !r.newState.Enabled || r.newState.Rollout != 20 {
		t.Errorf("outputs %v", r.outputs)
	}
	head := git(t, dir, "rev-parse", "HEAD")
	if r.outputs["commit-sha"] != head {
		t.Errorf("commit-sha %q, HEAD %q", r.outputs["commit-sha"], head)
	}
	if files := git(t, dir, "show", "--name-only", "--format=%s", "HEAD"); files != "flag new-checkout: on, rollout none -> 20% on\n\ndeploy/flag-audit.jsonl\ndeploy/flags.json" {
		t.Errorf("commit:\n%s", files)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("checkout not clean after the commit: %q", st)
	}
	recs := auditRecords(t, filepath.Join(dir, "deploy", "flag-audit.jsonl"))
	if len(recs) != 1 || recs[0].Actor != "octocat" || recs[0].RunURL != "https://github.com/acme/shop/actions/runs/77" || recs[0].Flag != "new-checkout" ||
		recs[0].Event != audit.EventFlip || recs[0].Before.Enabled || recs[0].After.Rollout != 20 || recs[0].Reason != "launch week" {
		t.Errorf("audit %+v", recs)
	}
	if !strings.Contains(r.outputs["diff"], `-      "state": "DISABLED",`) || !strings.Contains(r.outputs["diff"], `+      "state": "ENABLED",`) {
		t.Errorf("diff output:\n%s", r.outputs["diff"])
	}
	for _, want := range []string{"| enabled | false | true |", "| rollout | none | 20% on |", "```diff\n--- a/deploy/flags.json", "Commit: `" + head} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.summary)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	dir := checkout(t)
	r := runFlag(t, dir, map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "on", "dry-run": "true",
		"commit": "local", "audit-log": "audit.jsonl"})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(b) != flagFile {
		t.Errorf("dry run wrote the file")
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.jsonl")); err == nil {
		t.Error("dry run wrote the audit log")
	}
	if n := git(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
		t.Errorf("dry run committed: %s commits", n)
	}
	if r.outputs["changed"] != "false" || !r.newState.Enabled || r.before.Enabled || !strings.Contains(r.outputs["diff"], `+      "state": "ENABLED",`) {
		t.Errorf("outputs %v", r.outputs)
	}
	if !strings.Contains(r.summary, "dry run, nothing changed") || !strings.Contains(r.summary, "```diff") || !strings.Contains(r.log, "Dry run: flag new-checkout would change from off") {
		t.Errorf("summary:\n%s\nlog:\n%s", r.summary, r.log)
	}
}

func TestExpectCurrent(t *testing.T) {
	dir := checkout(t)
	in := map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "rollout": "50", "expect-current": "on"}
	r := runFlag(t, dir, in)
	if r.code == 0 || !strings.Contains(r.log, "input 'expect-current': flag new-checkout is not in the expected state (on): enabled is false, expected true; refusing to flip") {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(b) != flagFile {
		t.Errorf("flipped although not as expected")
	}
	if r.outputs["changed"] != "false" || r.outputs["previous-state"] == "" {
		t.Errorf("outputs %v", r.outputs)
	}
	in["expect-current"] = `{"enabled": false, "variants": {"on": true}}`
	if r = runFlag(t, dir, in); r.code != 0 || fileState(t, dir, "new-checkout").Rollout != 50 {
		t.Fatalf("JSON subset matched: exit %d\n%s", r.code, r.log)
	}
	in["rollout"], in["expect-current"] = "75", "off,rollout=10"
	if r = runFlag(t, dir, in); r.code == 0 || !strings.Contains(r.log, "rollout is 50, expected 10") {
		t.Fatalf("rollout expectation: exit %d\n%s", r.code, r.log)
	}
	// Already as requested: nothing to refuse, nothing to do.
	in["rollout"] = "50"
	r = runFlag(t, dir, in)
	if r.code != 0 || r.outputs["changed"] != "false" || !strings.Contains(r.log, "nothing to change") || !strings.Contains(r.summary, "already as requested") {
		t.Fatalf("no-op: exit %d %v\n%s", r.code, r.outputs, r.log)
	}
}

func TestInputErrorsNameTheInput(t *testing.T) {
	dir := checkout(t)
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"file": "deploy/flags.json", "state": "on"}, "input 'flag': is required"},
		{map[string]string{"flag": "x", "state": "on"}, "input 'file': is required for provider flagd"},
		{map[string]string{"flag": "x", "file": "../flags.json", "state": "on"}, "input 'file'"},
		{map[string]string{"flag": "x", "file": "f.json"}, "input 'state': nothing to change"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "maybe"}, "input 'state': \"maybe\" is not on or off"},
		{map[string]string{"flag": "x", "file": "f.json", "rollout": "120"}, "input 'rollout'"},
		{map[string]string{"flag": "x", "file": "f.json", "targeting": "{nope"}, "input 'targeting': is not valid JSON"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "expect-current": "sideways"}, "input 'expect-current'"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "expect-current": `{"colour": 1}`}, "\"colour\" is not a field"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "provider": "nope"}, "input 'provider'"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "commit": "push"}, "input 'commit'"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "commit": "direct"}, "input 'github-token': is required with commit: direct"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "commit": "pull-request", "github-token": "t", "duration": "5m"}, "input 'commit': pull-request does not change the live flag"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "guard-url": "localhost:80"}, "input 'guard-url'"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "guard-prometheus": "http://p:9090"}, "input 'guard-query': is required"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "guard-prometheus": "http://p:9090", "guard-query": "up"}, "input 'guard-max'"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "guard-json": "ok"}, "input 'guard-json': needs guard-url"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "audit-log": "/var/log/a"}, "input 'audit-log'"},
		{map[string]string{"flag": "x", "state": "on", "provider": "unleash"}, "input 'api-url': is required for provider unleash"},
		{map[string]string{"flag": "x", "file": "f.json", "state": "on", "provider": "flipt", "api-url": "http://f", "api-token": "t"}, "input 'file': provider flipt is a service"},
	} {
		r := runFlag(t, dir, tc.in)
		if r.code == 0 || !strings.Contains(r.log, tc.want) {
			t.Errorf("%v: want exit 1 and %q, got %d:\n%s", tc.in, tc.want, r.code, r.log)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(b) != flagFile {
		t.Error("bad inputs changed the file")
	}
}

func TestDirectCommitThroughGitHubAPI(t *testing.T) {
	const token = "ghs_fakeTOKEN123"
	fake := ghfake.New("acme", "shop", token, map[string]string{"deploy/flags.json": flagFile, "deploy/audit.jsonl": "{\"flag\":\"older\",\"event\":\"flip\",\"provider\":\"flagd\",\"time\":\"2024-01-01T00:00:00Z\",\"before\":{\"key\":\"older\",\"enabled\":false,\"rollout\":-1},\"after\":{\"key\":\"older\",\"enabled\":true,\"rollout\":-1}}\n"})
	defer fake.Close()
	parent := fake.Head("main").SHA
	dir := t.TempDir() // no checkout needed: the API is the source
	r := runFlag(t, dir, map[string]string{"flag": "banner", "file": "deploy/flags.json", "state": "off", "commit": "direct",
		"github-token": token, "audit-log": "deploy/audit.jsonl", "expect-current": "on"}, "GITHUB_API_URL", fake.URL)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	head := fake.Head("main")
	if r.outputs["commit-sha"] != head.SHA || len(head.Parents) != 1 || head.Parents[0] != parent || !strings.HasPrefix(head.Message, "flag banner: off") ||
		!strings.Contains(head.Message, "Run: https://github.com/acme/shop/actions/runs/77") {
		t.Fatalf("head %+v, outputs %v", head, r.outputs)
	}
	content, _ := fake.File("main", "deploy/flags.json")
	if st := readFlag(t, []byte(content), "banner"); st.Enabled {
		t.Errorf("banner still on:\n%s", content)
	}
	if st := readFlag(t, []byte(content), "new-checkout"); st.Enabled {
		t.Errorf("other flag changed")
	}
	log, _ := fake.File("main", "deploy/audit.jsonl")
	recs, err := audit.Parse([]byte(log))
	if err != nil || len(recs) != 2 || recs[0].Flag != "older" || recs[1].Flag != "banner" || !recs[1].Before.Enabled || recs[1].After.Enabled {
		t.Fatalf("audit log in the commit: %v %+v", err, recs)
	}
	if !strings.Contains(r.log, "::add-mask::"+token) || strings.Count(r.log, token) != 1 {
		t.Errorf("token not masked or printed:\n%s", r.log)
	}
	if r.outputs["pull-request-url"] != "" || len(fake.Pulls()) != 0 {
		t.Errorf("direct commit opened a pull request")
	}
	// One commit for both files: the git data API, no contents PUTs.
	var writes []string
	for _, req := range fake.Requests() {
		if !strings.HasPrefix(req, "GET ") {
			writes = append(writes, req)
		}
	}
	if strings.Join(writes, ",") != "POST /repos/acme/shop/git/blobs,POST /repos/acme/shop/git/blobs,POST /repos/acme/shop/git/trees,POST /repos/acme/shop/git/commits,PATCH /repos/acme/shop/git/refs/heads/main" {
		t.Errorf("writes: %v", writes)
	}

	// A wrong token fails with GitHub's answer and changes nothing.
	r = runFlag(t, dir, map[string]string{"flag": "banner", "file": "deploy/flags.json", "state": "on", "commit": "direct", "github-token": "wrong"}, "GITHUB_API_URL", fake.URL)
	if r.code == 0 || !strings.Contains(r.log, "401") || fake.Head("main").SHA != head.SHA {
		t.Errorf("bad token: exit %d\n%s", r.code, r.log)
	}
}

func TestPullRequestThroughGitHubAPI(t *testing.T) {
	const token = "ghs_prTOKEN"
	fake := ghfake.New("acme", "shop", token, map[string]string{"deploy/flags.json": flagFile})
	defer fake.Close()
	base := fake.Head("main").SHA
	r := runFlag(t, t.TempDir(), map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "on", "commit": "pull-request",
		"github-token": token, "github-api-url": fake.URL, "reason": "QA signed off"})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	if fake.Head("main").SHA != base {
		t.Error("pull-request mode changed main")
	}
	prs := fake.Pulls()
	if len(prs) != 1 {
		t.Fatalf("pulls: %+v", prs)
	}
	pr := prs[0]
	if pr.Head != "gantry/flag-new-checkout-77" || pr.Base != "main" || pr.Title != "flag new-checkout: on" || r.outputs["pull-request-url"] != pr.URL {
		t.Errorf("pr %+v outputs %v", pr, r.outputs)
	}
	for _, want := range []string{"QA signed off", "| enabled | false | true |", "```diff", "https://github.com/acme/shop/actions/runs/77"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("PR body lacks %q:\n%s", want, pr.Body)
		}
	}
	content, _ := fake.File(pr.Head, "deploy/flags.json")
	if !readFlag(t, []byte(content), "new-checkout").Enabled || fake.Head(pr.Head).SHA != r.outputs["commit-sha"] {
		t.Errorf("branch content or sha wrong: %v", r.outputs)
	}
	if !strings.Contains(r.summary, "Pull request: "+pr.URL) {
		t.Errorf("summary:\n%s", r.summary)
	}
}

// app is a service whose health depends on the flag in the workspace: it
// fails while new-checkout is on, as a bad release would.
func app(t *testing.T, dir string) func() bool {
	return func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
		if err != nil {
			return false
		}
		st, err := flagd.Document{}.Read(b, "new-checkout")
		return err == nil && !st.Enabled
	}
}

func TestHTTPGuard(t *testing.T) {
	dir := checkout(t)
	healthy := app(t, dir)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthy() {
			fmt.Fprint(w, `{"status":"ok"}`)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"status":"failing"}`)
	}))
	defer broken.Close()
	fine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) }))
	defer fine.Close()

	in := map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "on", "commit": "local", "audit-log": "audit.jsonl",
		"guard-url": fine.URL, "guard-json": `status == "ok"`, "guard-duration": "1s", "guard-interval": "200ms"}
	r := runFlag(t, dir, in)
	if r.code != 0 || r.outputs["reverted"] != "false" || !fileState(t, dir, "new-checkout").Enabled {
		t.Fatalf("healthy guard: exit %d %v\n%s", r.code, r.outputs, r.log)
	}
	if !strings.Contains(r.summary, "| 1 | healthy |") {
		t.Errorf("summary lacks the guard checks:\n%s", r.summary)
	}

	// Back to off by hand, then a flip the app cannot take.
	if r = runFlag(t, dir, map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "off", "commit": "local"}); r.code != 0 {
		t.Fatal(r.log)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
	in["guard-url"], in["guard-duration"] = broken.URL, "30s"
	r = runFlag(t, dir, in)
	if r.code == 0 {
		t.Fatalf("unhealthy guard passed:\n%s", r.log)
	}
	for _, want := range []string{"guard " + broken.URL + " is unhealthy after the flip", "status 500", "flag new-checkout was flipped back to its previous state"} {
		if !strings.Contains(r.log, want) {
			t.Errorf("log lacks %q:\n%s", want, r.log)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(after) != string(before) {
		t.Errorf("file not restored byte for byte:\n%s", after)
	}
	if r.outputs["changed"] != "true" || r.outputs["reverted"] != "true" || r.newState.Enabled || r.outputs["new-state"] != r.outputs["previous-state"] {
		t.Errorf("outputs %v", r.outputs)
	}
	if subj := git(t, dir, "log", "-2", "--format=%s"); subj != "flag new-checkout: flip back (guard)\nflag new-checkout: on" {
		t.Errorf("commits:\n%s", subj)
	}
	if r.outputs["commit-sha"] != git(t, dir, "rev-parse", "HEAD") {
		t.Errorf("commit-sha %s is not the flip back", r.outputs["commit-sha"])
	}
	recs := auditRecords(t, filepath.Join(dir, "audit.jsonl"))
	last := recs[len(recs)-2:]
	if last[0].Event != audit.EventFlip || !last[0].After.Enabled || last[1].Event != audit.EventGuard || last[1].After.Enabled || !strings.Contains(last[1].Reason, "status 500") {
		t.Errorf("audit %+v", last)
	}
	if !strings.Contains(r.summary, "flipped, then flipped back") || !strings.Contains(r.summary, "| enabled | false | true | false |") || !strings.Contains(r.summary, "unhealthy") {
		t.Errorf("summary:\n%s", r.summary)
	}
}

// TestPrometheusGuardFlipsBack runs a real Prometheus scraping the app's
// error ratio, which rises while the flag is on.
func TestPrometheusGuardFlipsBack(t *testing.T) {
	dir := checkout(t)
	healthy := app(t, dir)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "app_error_ratio", Help: "share of failed requests"}, func() float64 {
		if healthy() {
			return 0.001
		}
		return 0.4
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	promURL := promtest.Start(t, l.Addr().String())
	query := `app_error_ratio{job="app"}`
	max := 0.05
	p, _ := guard.NewPrometheus(promURL, query, nil, &max)
	deadline := time.Now().Add(60 * time.Second)
	for r := p.Check(context.Background()); !r.Healthy; r = p.Check(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatalf("no healthy sample scraped within 60 s: %s", r.Detail)
		}
		time.Sleep(250 * time.Millisecond)
	}

	before, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
	r := runFlag(t, dir, map[string]string{"flag": "new-checkout", "file": "deploy/flags.json", "state": "on", "commit": "none",
		"guard-prometheus": promURL, "guard-query": query, "guard-max": "0.05", "guard-duration": "2m", "guard-interval": "500ms", "guard-failures": "2"})
	if r.code == 0 || r.outputs["reverted"] != "true" || !strings.Contains(r.log, query+" = 0.4 (want <= 0.05)") {
		t.Fatalf("exit %d %v\n%s", r.code, r.outputs, r.log)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(after) != string(before) {
		t.Errorf("not flipped back:\n%s", after)
	}
}

func TestTemporaryFlipIsRestored(t *testing.T) {
	dir := checkout(t)
	before, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
	r := runFlag(t, dir, map[string]string{"flag": "banner", "file": "deploy/flags.json", "state": "off", "duration": "1s",
		"commit": "local", "audit-log": "audit.jsonl"})
	if r.code != 0 || r.outputs["changed"] != "true" || r.outputs["reverted"] != "true" || !r.newState.Enabled || !r.before.Enabled {
		t.Fatalf("exit %d %v\n%s", r.code, r.outputs, r.log)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(after) != string(before) {
		t.Errorf("not restored:\n%s", after)
	}
	if !strings.Contains(r.log, "Flipping flag banner back to on, default on: temporary flip of 1s ended") {
		t.Errorf("log:\n%s", r.log)
	}
	recs := auditRecords(t, filepath.Join(dir, "audit.jsonl"))
	if len(recs) != 2 || recs[0].Event != audit.EventFlip || recs[1].Event != audit.EventRestore || recs[1].After.Enabled != true {
		t.Errorf("audit %+v", recs)
	}
	if n := git(t, dir, "rev-list", "--count", "HEAD"); n != "3" {
		t.Errorf("%s commits, want init, flip and restore", n)
	}
}

func TestReverse(t *testing.T) {
	on := true
	before := flags.State{Enabled: false, DefaultVariant: "a", Rollout: -1}
	after := flags.State{Enabled: true, DefaultVariant: "b", Rollout: 30, RolloutVariant: "on", Targeting: json.RawMessage(`{"fractional":[]}`)}
	dv := "b"
	back := reverse(flags.Change{Enabled: &on, DefaultVariant: &dv, Rollout: &flags.Rollout{Variant: "on", Percent: 30}, Targeting: json.RawMessage(`{}`)}, before, after)
	if back.Enabled == nil || *back.Enabled || *back.DefaultVariant != "a" || back.Rollout.Percent != 0 || back.Rollout.Variant != "on" || string(back.Targeting) != "{}" {
		t.Errorf("%+v", back)
	}
	before.Rollout, before.RolloutVariant = 10, "on"
	back = reverse(flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: 30}}, before, after)
	if back.Enabled != nil || back.DefaultVariant != nil || back.Targeting != nil || *back.Rollout != (flags.Rollout{Variant: "on", Percent: 10}) {
		t.Errorf("%+v", back)
	}
}

// TestDirectCommitRetriesWhenBranchMoves pushes to main between the
// action's read and its ref update: the action reads again and commits on
// top, keeping the other change.
func TestDirectCommitRetriesWhenBranchMoves(t *testing.T) {
	const token = "ghs_retry"
	fake := ghfake.New("acme", "shop", token, map[string]string{"deploy/flags.json": flagFile, "README.md": "v1\n"})
	defer fake.Close()
	var pushed atomic.Bool
	fake.Before = func(method, path string) {
		if method == "POST" && strings.HasSuffix(path, "/git/commits") && pushed.CompareAndSwap(false, true) {
			fake.Push("main", "someone else", map[string]string{"README.md": "v2\n"})
		}
	}
	r := runFlag(t, t.TempDir(), map[string]string{"flag": "banner", "file": "deploy/flags.json", "state": "off", "commit": "direct", "github-token": token}, "GITHUB_API_URL", fake.URL)
	if r.code != 0 || !strings.Contains(r.log, "reading the flag again (attempt 2 of 3)") {
		t.Fatalf("exit %d\n%s", r.code, r.log)
	}
	head := fake.Head("main")
	if readme, _ := fake.File("main", "README.md"); readme != "v2\n" || head.SHA != r.outputs["commit-sha"] || fake.Commit(head.Parents[0]).Message != "someone else" {
		t.Errorf("concurrent push lost or flip not on top: README %q, head %+v", readme, head)
	}
	content, _ := fake.File("main", "deploy/flags.json")
	if readFlag(t, []byte(content), "banner").Enabled {
		t.Error("flip not applied")
	}
}

// TestCancelledTemporaryFlipIsRestored stops the action binary with SIGTERM
// as a cancelled or timed-out job does, in the middle of a temporary flip.
func TestCancelledTemporaryFlipIsRestored(t *testing.T) {
	dir := checkout(t)
	bin := filepath.Join(t.TempDir(), "flag")
	build := exec.Command("go", "build", "-o", bin, "github.com/gantry-ci/gantry/actions/flag")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json"))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GITHUB_WORKSPACE="+dir, "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=", "INPUT_FLAG=new-checkout",
		"INPUT_FILE=deploy/flags.json", "INPUT_STATE=on", "INPUT_DURATION=1h", "INPUT_AUDIT-LOG=audit.jsonl")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	finished := false
	defer func() {
		if !finished {
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !fileState(t, dir, "new-checkout").Enabled {
		if time.Now().After(deadline) {
			t.Fatal("flag never flipped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		finished = true
		if err == nil {
			t.Errorf("cancelled run exited 0:\n%s", out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("action did not stop after SIGTERM")
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "deploy", "flags.json")); string(after) != string(before) {
		t.Errorf("not restored after cancellation:\n%s\n%s", after, out.String())
	}
	if !strings.Contains(out.String(), "job cancelled before the flip of new-checkout was done") {
		t.Errorf("output:\n%s", out.String())
	}
	if recs := auditRecords(t, filepath.Join(dir, "audit.jsonl")); len(recs) != 2 || recs[1].Event != audit.EventRestore {
		t.Errorf("audit %+v", recs)
	}
}

func TestGoffFile(t *testing.T) {
	dir := t.TempDir()
	src := "# checkout flags\nnew-checkout:\n  variations:\n    enabled: true\n    disabled: false\n  defaultRule:\n    variation: disabled\n"
	if err := os.WriteFile(filepath.Join(dir, "goff.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFlag(t, dir, map[string]string{"provider": "goff", "flag": "new-checkout", "file": "goff.yaml", "rollout": "10"})
	if r.code != 0 || r.newState.Rollout != 10 || r.newState.RolloutVariant != "enabled" || r.before.Rollout != -1 {
		t.Fatalf("exit %d %v\n%s", r.code, r.outputs, r.log)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "goff.yaml"))
	if !strings.HasPrefix(string(b), "# checkout flags\n") || !strings.Contains(string(b), "enabled: 10") {
		t.Errorf("goff file:\n%s", b)
	}
}
