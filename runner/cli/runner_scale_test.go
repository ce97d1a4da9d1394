package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runnerv1 "code.gitea.io/actions-proto-go/runner/v1"

	"github.com/gantry-ci/gantry/runner/forge/gitea/giteatest"
	"github.com/gantry-ci/gantry/runner/forge/github/githubtest"
)

// `gantry runner scale` against a Gitea server: four queued tasks, two
// runners at most, each task once; the stop (SIGTERM's context) ends it
// with nothing left in --dir and no token in the log.
func TestRunnerScaleGitea(t *testing.T) {
	srv := giteatest.New(t)
	const regToken = "SCALE-REG-TOKEN-xyz789"
	srv.AddRegistrationToken(regToken)
	var ids []int64
	for range 4 {
		ids = append(ids, srv.AddTask(giteatest.TaskSpec{RunsOn: []string{"self-hosted"},
			Workflow: "on: push\njobs:\n  j:\n    runs-on: self-hosted\n    steps:\n      - run: echo scaled\n"}))
	}
	dir := filepath.Join(t.TempDir(), "fleet")
	t.Setenv("GANTRY_RUNNER_TOKEN", regToken)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"runner", "scale", "--url", srv.URL, "--max-runners", "2", "--dir", dir,
			"--labels", "self-hosted:host", "--name-prefix", "cli-fleet", "--log-format", "json"}, IO{Out: &out, Err: &errb})
	}()
	wctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runners := map[int64]bool{}
	for _, id := range ids {
		task, err := srv.WaitDone(wctx, id)
		if err != nil || task.Result != runnerv1.Result_RESULT_SUCCESS || task.Picks != 1 || runners[task.RunnerID] {
			t.Fatalf("task %d: %v %v picks %d runner %d (seen %v)\n%s", id, err, task.Result, task.Picks, task.RunnerID, runners, errb.String())
		}
		runners[task.RunnerID] = true
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("scale exited %d\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("scale did not stop")
	}
	if strings.Contains(out.String()+errb.String(), regToken) {
		t.Errorf("the log holds the registration token:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), `"msg":"fleet stopped"`) {
		t.Errorf("log:\n%s", errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--dir left behind: %v", err)
	}
}

// `gantry runner scale` on GitHub: JIT configs generated with the token
// through the REST API; three jobs, two runners, none left registered.
func TestRunnerScaleGitHub(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	pat := srv.PAT()
	var jobs []*githubtest.Job
	for i := range 3 {
		jobs = append(jobs, srv.Queue(githubtest.JobSpec{Name: fmt.Sprintf("j%d", i), YAML: "steps:\n  - run: echo scaled-on-github\n"}))
	}
	dir := filepath.Join(t.TempDir(), "fleet")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"runner", "scale", "--url", srv.RepoURL(), "--forge", "github", "--token", pat,
			"--max-runners", "2", "--dir", dir, "--labels", "self-hosted:host", "--grace", "20s"}, IO{Out: &out, Err: &errb})
	}()
	for _, j := range jobs {
		if snap := srv.Wait(j, 60*time.Second); len(snap.Completions) != 1 || snap.Completions[0].Conclusion != "succeeded" {
			t.Fatalf("job %s: %+v\n%s", j.ID, snap.Completions, errb.String())
		}
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("scale exited %d\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("scale did not stop")
	}
	if strings.Contains(out.String()+errb.String(), pat) {
		t.Errorf("the log holds the token:\n%s", errb.String())
	}
	if left := srv.Agents(); len(left) != 0 {
		t.Errorf("runners left registered: %v", left)
	}
	for name, n := range srv.JobsByRunner() {
		if n != 1 {
			t.Errorf("runner %s ran %d jobs", name, n)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--dir left behind: %v", err)
	}
}
