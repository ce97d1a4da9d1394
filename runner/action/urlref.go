package action

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/actionurl"
)

// Full-URL action references (uses: https://gitea.example.com/owner/repo@v1,
// as Gitea and Forgejo users write them) are cached under
// CACHE/_hosts/HOST/OWNER/REPO/REF, so two hosts' owner/repo never meet
// and none meets GitHub's OWNER/REPO (a GitHub owner cannot start with '_').
const hostsDir = "_hosts"

func parseURLRef(uses string) (Ref, error) {
	u, err := actionurl.Parse(uses)
	if err != nil {
		return Ref{}, err
	}
	return Ref{URL: u.Base, Owner: u.Owner, Repo: u.Repo, SubPath: u.SubPath, Version: u.Version}, nil
}

// CacheDirFor is where ref's repository sits in the action cache.
func CacheDirFor(cache string, ref Ref) (string, error) { return cachePath(cache, ref) }

// CloneURL is where ref's repository is cloned from without a mirror:
// its own URL, or https://github.com for owner/repo.
func CloneURL(ref Ref) string {
	if ref.URL != "" {
		return ref.URL + "/" + ref.Owner + "/" + ref.Repo
	}
	return "https://github.com/" + ref.Owner + "/" + ref.Repo
}

// fetchesURLs reports whether a full-URL action may be fetched: a mirror
// URL (the network is allowed) or FetchURLs. A folder mirror means no
// network; such actions are looked for in it as HOST/OWNER/REPO(.git).
func (r *Resolver) fetchesURLs() bool {
	return r.FetchURLs || r.Mirror != ""
}

func (r *Resolver) urlMissing(ref Ref, cache, repoDir string) error {
	return fmt.Errorf("action %s is not in the action cache %s and fetching is not allowed; fill it with `gantry actions fetch` (which clones it from %s), or by hand with `git clone %s %s && git -C %s checkout %s`, or pass --action-mirror",
		ref, cache, CloneURL(ref), CloneURL(ref), repoDir, repoDir, ref.Version)
}

// urlSource is where a full-URL action is cloned from: a folder mirror's
// HOST/OWNER/REPO(.git), else its own URL.
func (r *Resolver) urlSource(ref Ref) string {
	if m := r.Mirror; m != "" && !strings.Contains(m, "://") {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			base := filepath.Join(m, actionurl.HostDir(ref.URL), ref.Owner, ref.Repo)
			if _, err := os.Stat(base + ".git"); err == nil {
				return base + ".git"
			}
			return base
		}
	}
	return CloneURL(ref)
}

// cloneProtocols keeps git to http(s) for a full-URL action (a redirect or
// a submodule may not lead it to file:// or ssh), and off any helper that
// would prompt.
func cloneProtocols(ref Ref, url string) []string {
	if ref.URL == "" || !strings.Contains(url, "://") {
		return nil
	}
	return []string{"-c", "protocol.allow=never", "-c", "protocol.http.allow=always", "-c", "protocol.https.allow=always"}
}
