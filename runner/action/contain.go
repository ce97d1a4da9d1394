package action

import (
	"path"
	"strings"

	"github.com/gantry-ci/gantry/internal/envfile"
	"gopkg.in/yaml.v3"
)

// inside refuses a runs.main/pre/post/image path that names an absolute
// path or a NUL. A relative path may climb out of the action's folder (a
// repository's actions can share its root Dockerfile, as on GitHub); the
// engine checks at run time that it stays in the repository.
func (p *mparser) inside(v *yaml.Node, what string) {
	s := v.Value
	if s == "" || strings.HasPrefix(s, "docker://") {
		return
	}
	if strings.ContainsAny(s, "\x00\\") {
		p.errorf(v, "%s %q contains a NUL or a backslash", what, s)
		return
	}
	if path.IsAbs(s) {
		p.errorf(v, "%s %q is an absolute path; name a file of the action, relative to its action.yml", what, s)
	}
}

// envName refuses a runs.env name no process environment can hold.
func (p *mparser) envName(k *yaml.Node) {
	if err := envfile.InvalidName(k.Value); err != nil {
		p.errorf(k, "runs.env: %v", err)
	}
}
