package scheduler

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gantry-ci/gantry/internal/safepath"
	"github.com/gantry-ci/gantry/runner/action"
)

// reusableURLPath finds a called workflow written as a full URL, as Gitea
// and Forgejo users write it: https://host/owner/repo/.gitea/workflows/x.yml@ref.
func (r *run) reusableURLPath(ctx context.Context, uses string) (string, error) {
	a, err := action.ParseRef(uses)
	if err != nil {
		return "", err
	}
	if a.SubPath == "" {
		return "", fmt.Errorf("%q names no workflow file; write https://HOST/OWNER/REPO/.gitea/workflows/x.yml@REF", uses)
	}
	file := a.SubPath
	a.SubPath = ""
	dir, err := r.opts.Actions.ResolveRepo(ctx, a)
	if err != nil {
		return "", err
	}
	return safepath.Within(dir, filepath.Join(dir, filepath.FromSlash(file)))
}
