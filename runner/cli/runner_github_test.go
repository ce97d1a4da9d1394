package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/forge/github/githubtest"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// `gantry runner register|start --once|remove` against the fake GitHub
// Actions service: credentials on disk 0600 without the registration
// token, one job run on the host, the runner gone after remove.
func TestRunnerCommandsGitHub(t *testing.T) {
	srv := githubtest.New(t, githubtest.Options{Broker: true})
	dir := filepath.Join(t.TempDir(), "runner")
	token := srv.RegistrationToken()
	code, out, errOut := gantry(t, "runner", "register", "--forge", "github", "--url", srv.RepoURL(), "--token", token,
		"--name", "cli-runner", "--labels", "self-hosted:host", "--dir", dir)
	if code != 0 {
		t.Fatalf("register: %d %s %s", code, out, errOut)
	}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), token) {
			t.Errorf("%s holds the registration token", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	credsPath := filepath.Join(dir, "credentials.json")
	fi, err := os.Stat(credsPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials: %v, mode %v", err, fi)
	}
	_, creds, err := selfhosted.Load(dir)
	if err != nil || creds.Forge != "github" || !strings.Contains(string(creds.Data), `"rsaParams"`) ||
		strings.Contains(string(creds.Data), token) {
		t.Errorf("credentials %s: %v", creds.Forge, err)
	}
	j := srv.Queue(githubtest.JobSpec{Name: "j", YAML: "steps:\n  - run: echo from-the-cli\n"})
	done := make(chan int, 1)
	go func() {
		code, _, _ := gantry(t, "runner", "start", "--dir", dir, "--once", "--work-dir", t.TempDir())
		done <- code
	}()
	got := srv.Wait(j, 60*time.Second)
	if got.Completions[0].Conclusion != "succeeded" {
		t.Errorf("conclusion %q", got.Completions[0].Conclusion)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("start --once exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("start --once did not exit after its job")
	}
	if code, out, errOut := gantry(t, "runner", "remove", "--dir", dir); code != 0 {
		t.Fatalf("remove: %d %s %s", code, out, errOut)
	}
	if a := srv.Agents(); len(a) != 0 {
		t.Errorf("agents after remove: %v", a)
	}
}
