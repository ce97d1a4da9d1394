package engine

import (
	"reflect"
	"testing"

	"github.com/gantry-ci/gantry/runner/action"
)

// GitHub's container action handler: action.yml's runs.entrypoint wins over
// the step's with.entrypoint; with.args is split into words.
func TestDockerWithOverrides(t *testing.T) {
	withEP := &loadedAction{meta: &action.Metadata{Runs: action.Runs{Using: "docker", Entrypoint: "/entry.sh"}}}
	bare := &loadedAction{meta: &action.Metadata{Runs: action.Runs{Using: "docker"}}}
	in := map[string]string{"EntryPoint": "/bin/echo", "args": `"Mona the Octocat" two`}
	if got := mainEntrypoint(withEP, in); got != "/entry.sh" {
		t.Errorf("runs.entrypoint given: %q, want /entry.sh", got)
	}
	if got := mainEntrypoint(bare, in); got != "/bin/echo" {
		t.Errorf("no runs.entrypoint: %q, want with.entrypoint /bin/echo", got)
	}
	args, ok, err := withArgs(in)
	if err != nil || !ok || !reflect.DeepEqual(args, []string{"Mona the Octocat", "two"}) {
		t.Errorf("withArgs = %q, %v, %v", args, ok, err)
	}
	if _, _, err := withArgs(map[string]string{"args": `"unclosed`}); err == nil {
		t.Error("unclosed quote: no error")
	}
	if _, ok, _ := withArgs(map[string]string{}); ok {
		t.Error("no with.args: ok")
	}
}
