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
