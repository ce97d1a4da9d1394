package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/toolcache"
)

// nodeFor finds the node that runs an action declaring using (node20,
// node24): that major from the tool cache (mounted in job containers too),
// else the job's node on PATH, with a warning naming the version that runs
// instead when its major differs.
func (j *jobRun) nodeFor(ctx context.Context, using, pathEnv string) (string, error) {
	major, _ := strings.CutPrefix(using, "node")
	if major != "" && j.toolCache != "" {
		c := &toolcache.Cache{Dir: j.toolCache}
		if e, err := c.Find("node", major); err == nil {
			if bin := filepath.Join(e.Path, "bin", "node"); isFile(bin) {
				return j.path(bin), nil
			}
		}
	}
	node, err := j.env.LookPath(ctx, "node", pathEnv)
	if err != nil {
		return "", fmt.Errorf("%s actions need node, and none is on PATH nor in the tool cache: add one with `%s`, or use a job image that has it", using, toolcache.AddCommand("node", major))
	}
	if major == "" {
		return node, nil
	}
	j.mu.Lock()
	v, known := j.nodeVersions[node]
	j.mu.Unlock()
	if !known {
		v = j.nodeVersion(ctx, node, pathEnv)
		j.mu.Lock()
		if j.nodeVersions == nil {
			j.nodeVersions = map[string]string{}
		}
		j.nodeVersions[node] = v
		j.mu.Unlock()
	}
	key := "warned\x00" + using // one warning per job and major is enough
	j.mu.Lock()
	warned := j.nodeVersions[key] != ""
	j.nodeVersions[key] = "yes"
	j.mu.Unlock()
	if got, _, _ := strings.Cut(v, "."); got != major && !warned {
		if v == "" {
			v = "of unknown version"
		}
		j.rep.warnf("%s action runs on Node %s (%s), not Node %s: the tool cache has no Node %s; add one with `%s`",
			using, v, node, major, major, toolcache.AddCommand("node", major))
	}
	return node, nil
}

// nodeVersion asks node for its version (without the v), "" when it cannot say.
func (j *jobRun) nodeVersion(ctx context.Context, node, pathEnv string) string {
	var out strings.Builder
	exit, err := j.env.Run(ctx, jobenv.Process{
		Argv: []string{node, "--version"}, Dir: "/", Env: map[string]string{"PATH": pathEnv},
		Stdout: &out, Stderr: io.Discard,
	})
	if err != nil || exit != 0 {
		return ""
	}
	return strings.TrimPrefix(strings.TrimSpace(out.String()), "v")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// setupTools are the setup actions that look their tool up in the tool
// cache before they download it, by the tool's name there.
var setupTools = map[string]string{"setup-go": "go", "setup-node": "node", "setup-python": "Python"}

// toolCacheHint adds to a failed setup action's error what the tool cache
// has and how to add a version: offline, a version it lacks is the usual
// reason (the action's own message is about its download).
func (j *jobRun) toolCacheHint(la *loadedAction, inputs map[string]string, err error) error {
	repo := strings.ToLower(la.ref.Repo)
	tool, ok := setupTools[repo]
	if !ok || !strings.EqualFold(la.ref.Owner, "actions") || j.toolCache == "" {
		return err
	}
	c := &toolcache.Cache{Dir: j.toolCache}
	var have []string
	if list, lerr := c.List(); lerr == nil {
		for _, e := range list {
			if e.Tool == tool {
				have = append(have, e.Version)
			}
		}
	}
	has := "no " + tool
	if len(have) > 0 {
		has = tool + " " + strings.Join(have, ", ")
	}
	want := "VERSION"
	if v := strings.TrimSpace(inputs[strings.TrimPrefix(repo, "setup-")+"-version"]); v != "" {
		want = v // go-version, node-version, python-version
	}
	return fmt.Errorf("%w; the tool cache %s has %s: without a network, ask for one of those or add the version with `%s`",
		err, c.Dir, has, toolcache.AddCommand(tool, want))
}
