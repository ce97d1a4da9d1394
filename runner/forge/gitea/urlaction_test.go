package gitea_test

import (
	"strings"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/internal/githttptest"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// A Gitea task whose steps use owner/repo@v1 (from the instance's
// DEFAULT_ACTIONS_URL) and https://other-host/owner/repo@v1 (a full URL):
// each is cloned from its own host over HTTP, and they stay two actions.
func TestTaskWithURLActions(t *testing.T) {
	say := func(s string) map[string]string {
		return map[string]string{"action.yml": "name: say\nruns:\n  using: composite\n  steps:\n    - run: echo " + s + "\n      shell: bash\n"}
	}
	rootDefault, rootOther := t.TempDir(), t.TempDir()
	githttptest.Repo(t, rootDefault, "owner", "say", "v1", say("from-default-actions-url"))
	githttptest.Repo(t, rootOther, "owner", "say", "v1", say("from-the-full-url"))
	def, other := githttptest.Serve(t, rootDefault), githttptest.Serve(t, rootOther)

	srv := giteatest.New(t)
	labels, _ := selfhosted.ParseLabels([]string{"self-hosted:host"})
	exec := &selfhosted.Executor{Labels: labels, WorkRoot: t.TempDir(), Actions: action.CacheSource{CacheDir: t.TempDir()}}
	startRunner(t, srv, runnerOpts{labels: []string{"self-hosted:host"}, exec: exec})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"},
		Context:  map[string]any{"gitea_default_actions_url": def.URL},
		Workflow: wf("self-hosted", "    steps:\n      - uses: owner/say@v1\n      - uses: "+other.URL+"/owner/say@v1\n")})
	task := waitDone(t, srv, id, 60*time.Second)
	log := strings.Join(task.Log, "\n")
	if task.Result != runnerv1.Result_RESULT_SUCCESS || !strings.Contains(log, "from-default-actions-url") || !strings.Contains(log, "from-the-full-url") {
		t.Fatalf("task %v, log:\n%s", task.Result, log)
	}
	// A bad full URL fails its step with the reason; the runner goes on.
	bad := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"},
		Workflow: wf("self-hosted", "    steps:\n      - uses: https://tok@"+strings.TrimPrefix(other.URL, "http://")+"/owner/say@v1\n")})
	task = waitDone(t, srv, bad, 60*time.Second)
	log = strings.Join(task.Log, "\n")
	if task.Result != runnerv1.Result_RESULT_FAILURE || !strings.Contains(log, "credentials") || strings.Contains(log, "tok@") {
		t.Errorf("bad URL task %v, log:\n%s", task.Result, log)
	}
}

// The same two same-named actions in a job container: each is staged
// into the container under its own host, none shadows the other.
func TestTaskWithURLActionsContainer(t *testing.T) {
	say := func(s string) map[string]string {
		return map[string]string{"action.yml": "name: say\nruns:\n  using: composite\n  steps:\n    - run: echo " + s + " in $(cat /etc/debian_version | cut -d. -f1)\n      shell: bash\n"}
	}
	rootA, rootB := t.TempDir(), t.TempDir()
	githttptest.Repo(t, rootA, "owner", "say", "v1", say("host-a"))
	githttptest.Repo(t, rootB, "owner", "say", "v1", say("host-b"))
	a, b := githttptest.Serve(t, rootA), githttptest.Serve(t, rootB)
	srv := giteatest.New(t)
	lbl := []string{"ubuntu-latest:docker://gantry/debian:bookworm"}
	labels, _ := selfhosted.ParseLabels(lbl)
	exec := &selfhosted.Executor{Labels: labels, WorkRoot: t.TempDir(), Containers: containers(t, lbl), Actions: action.CacheSource{CacheDir: t.TempDir()}}
	startRunner(t, srv, runnerOpts{labels: lbl, exec: exec})
	id := srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"ubuntu-latest"}, Context: map[string]any{"gitea_default_actions_url": a.URL},
		Workflow: wf("ubuntu-latest", "    steps:\n      - uses: "+a.URL+"/owner/say@v1\n      - uses: "+b.URL+"/owner/say@v1\n")})
	task := waitDone(t, srv, id, 90*time.Second)
	log := strings.Join(task.Log, "\n")
	if task.Result != runnerv1.Result_RESULT_SUCCESS || !strings.Contains(log, "host-a in 12") || !strings.Contains(log, "host-b in 12") {
		t.Fatalf("task %v, log:\n%s", task.Result, log)
	}
	if n := leftoverContainers(t, id); n != 0 {
		t.Errorf("%d containers left", n)
	}
}
