package engine

import (
	"path/filepath"
	"strings"
)

// actionRoot is the folder an action's files may come from: the repository
// for a local action, its own checkout (OWNER/REPO/REF) for a remote one.
func (j *jobRun) actionRoot(la *loadedAction) string {
	if la.ref.IsLocal() || la.self {
		return j.workspace
	}
	if la.ref.SubPath != "" {
		return strings.TrimSuffix(la.dir, string(filepath.Separator)+filepath.FromSlash(la.ref.SubPath))
	}
	return la.dir
}
