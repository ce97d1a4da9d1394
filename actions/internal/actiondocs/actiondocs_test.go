package actiondocs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// documented are the actions a user adds to a workflow; each needs a README.
var documented = []string{"build", "test", "scan", "canary", "flag"}

var (
	fence   = regexp.MustCompile("(?s)```ya?ml\n(.*?)```")
	ownUses = regexp.MustCompile(`^gantry-ci/gantry/actions/([a-z-]+)@`)
)

func loadActions(t *testing.T) map[string]*action.Metadata {
	t.Helper()
	all := map[string]*action.Metadata{}
	for _, name := range documented {
		path := filepath.Join("..", "..", name, "action.yml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		md, err := action.Parse(path, data)
		if err != nil {
			t.Fatal(err)
		}
		all[name] = md
	}
	return all
}

func TestReadmesCoverInputsAndOutputs(t *testing.T) {
	for name, md := range loadActions(t) {
		path := filepath.Join("..", "..", name, "README.md")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("actions/%s has no README.md: write one (what it does, a workflow example, every input and output)", name)
			continue
		}
		text := string(data)
		for _, in := range md.Inputs {
			if !strings.Contains(text, "`"+in.Name+"`") {
				t.Errorf("actions/%s/README.md does not document input `%s`", name, in.Name)
			}
		}
		for _, out := range md.Outputs {
			if !strings.Contains(text, "`"+out.Name+"`") {
				t.Errorf("actions/%s/README.md does not document output `%s`", name, out.Name)
			}
		}
	}
}

// TestReadmeExamplesAreValid parses every YAML block with jobs: as a
// workflow and checks each step that uses one of our actions against that
// action's inputs.
func TestReadmeExamplesAreValid(t *testing.T) {
	actions := loadActions(t)
	for _, name := range documented {
		path := filepath.Join("..", "..", name, "README.md")
		data, err := os.ReadFile(path)
		if err != nil {
			continue // reported by TestReadmesCoverInputsAndOutputs
		}
		examples := 0
		for i, m := range fence.FindAllStringSubmatch(string(data), -1) {
			src := m[1]
			if !strings.Contains(src, "jobs:") {
				continue
			}
			examples++
			where := fmt.Sprintf("actions/%s/README.md example %d", name, i+1)
			wf, err := workflow.Parse(where, []byte(src))
			if err != nil {
				t.Errorf("%s is not a valid workflow: %v", where, err)
				continue
			}
			for _, job := range wf.Jobs {
				for _, st := range job.Steps {
					sm := ownUses.FindStringSubmatch(st.Uses)
					if sm == nil {
						continue
					}
					md, ok := actions[sm[1]]
					if !ok {
						t.Errorf("%s: step uses %s, which is not one of our actions", where, st.Uses)
						continue
					}
					checkWith(t, where, st, md)
				}
			}
		}
		if examples == 0 {
			t.Errorf("actions/%s/README.md has no example workflow (a ```yaml block with jobs:)", name)
		}
	}
}

func checkWith(t *testing.T, where string, st *workflow.Step, md *action.Metadata) {
	t.Helper()
	declared := map[string]bool{}
	for _, in := range md.Inputs {
		declared[in.Name] = true
	}
	for _, kv := range st.With {
		if !declared[kv.Key] {
			t.Errorf("%s line %d: %s has no input %q", where, kv.Pos.Line, st.Uses, kv.Key)
		}
	}
	for _, in := range md.Inputs {
		if _, ok := st.With.Get(in.Name); in.Required && !ok {
			t.Errorf("%s line %d: %s needs input %q", where, st.Pos.Line, st.Uses, in.Name)
		}
	}
}
