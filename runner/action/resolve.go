package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/internal/actionurl"
	"github.com/gantry-ci/gantry/internal/safepath"
)

// Resolver finds the directory of an action without the network: in the
// workspace, an action cache, or a git mirror.
type Resolver struct {
	Workspace string
	// CacheDir holds actions as OWNER/REPO/REF/; default ~/.cache/gantry/actions.
	CacheDir string
	// Mirror is where remote actions are cloned from: a folder of
	// OWNER/REPO(.git) repositories, or a URL prefix (with {owner} and {repo}
	// placeholders, or OWNER/REPO.git appended).
	Mirror string
	// FetchURLs clones full-URL actions from their own URL even without a
	// Mirror (gantry actions fetch); a Mirror URL allows it too.
	FetchURLs bool
}

// DefaultCacheDir is where actions are cached when none is configured.
func DefaultCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "gantry", "actions")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".cache", "gantry", "actions")
	}
	return filepath.Join(os.TempDir(), "gantry-actions")
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Resolve returns the directory holding the action's metadata.
func (r *Resolver) Resolve(ctx context.Context, ref Ref) (string, error) {
	if ref.IsDocker() {
		return "", fmt.Errorf("%s is an image, not a directory", ref)
	}
	if ref.IsLocal() {
		dir := filepath.Join(r.Workspace, filepath.FromSlash(ref.Local))
		// A symlink in the repository may point anywhere: judge where it leads.
		if _, err := safepath.Within(r.Workspace, dir); err != nil {
			return "", fmt.Errorf("local action %s: %w; local actions must live in the repository", ref.Local, err)
		}
		if !hasMetadata(dir) {
			return "", fmt.Errorf("local action %s: no action.yml (or Dockerfile) in %s; local actions need the repository checked out first (actions/checkout)", ref.Local, dir)
		}
		return dir, nil
	}
	cache := r.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	repoDir, err := cachePath(cache, ref)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(repoDir); err != nil || !fi.IsDir() {
		if ref.URL != "" && !r.fetchesURLs() {
			return "", r.urlMissing(ref, cache, repoDir)
		}
		if r.Mirror == "" && ref.URL == "" {
			return "", fmt.Errorf("action %s is not in the action cache %s and no mirror is configured; fill it with `gantry actions fetch --mirror URL|DIR`, or by hand with `git clone https://github.com/%s/%s %s && git -C %s checkout %s` (works for tags, branches and SHAs), or pass --action-mirror",
				ref, cache, ref.Owner, ref.Repo, repoDir, repoDir, ref.Version)
		}
		if err := r.clone(ctx, ref, repoDir); err != nil {
			return "", err
		}
	}
	dir := repoDir
	if ref.SubPath != "" {
		dir = filepath.Join(repoDir, filepath.FromSlash(ref.SubPath))
	}
	if _, err := safepath.Within(cache, dir); err != nil {
		return "", fmt.Errorf("action %s: %w; refusing to run it", ref, err)
	}
	if !hasMetadata(dir) {
		return "", fmt.Errorf("action %s: no action.yml in %s", ref, dir)
	}
	return dir, nil
}

// ResolveRepo returns the checked-out repository of a reference (for reusable
// workflows, which live at a path inside it).
func (r *Resolver) ResolveRepo(ctx context.Context, ref Ref) (string, error) {
	cache := r.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	repoDir, err := cachePath(cache, ref)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(repoDir); err == nil && fi.IsDir() {
		return repoDir, nil
	}
	if ref.URL != "" && !r.fetchesURLs() {
		return "", r.urlMissing(ref, cache, repoDir)
	}
	if r.Mirror == "" && ref.URL == "" {
		return "", fmt.Errorf("%s/%s@%s is not in the action cache %s and no mirror is configured", ref.Owner, ref.Repo, ref.Version, cache)
	}
	if err := r.clone(ctx, ref, repoDir); err != nil {
		return "", err
	}
	return repoDir, nil
}

// cachePath is OWNER/REPO/REF under the cache, refused when the reference
// (checked at parse time too, but a Ref can be built by hand) or a symlink
// in the cache would lead outside it.
func cachePath(cache string, ref Ref) (string, error) {
	for _, c := range []struct{ what, s string }{{"owner", ref.Owner}, {"repository", ref.Repo}} {
		if err := safepath.CheckSegments(c.what, c.s); err != nil || strings.Contains(c.s, "/") {
			return "", fmt.Errorf("action %s: invalid %s %q", ref, c.what, c.s)
		}
	}
	if err := safepath.CheckRef(ref.Version); err != nil {
		return "", fmt.Errorf("action %s: %w", ref, err)
	}
	if ref.SubPath != "" {
		if err := safepath.CheckSegments("action path", ref.SubPath); err != nil {
			return "", fmt.Errorf("action %s: %w", ref, err)
		}
	}
	dir := filepath.Join(cache, ref.Owner, ref.Repo, filepath.FromSlash(ref.Version))
	if ref.URL != "" {
		if err := actionurl.CheckBase(ref.URL); err != nil {
			return "", err
		}
		dir = filepath.Join(cache, hostsDir, actionurl.HostDir(ref.URL), ref.Owner, ref.Repo, filepath.FromSlash(ref.Version))
	}
	if _, err := safepath.Within(cache, dir); err != nil {
		return "", fmt.Errorf("action %s: %w; refusing to use it", ref, err)
	}
	return dir, nil
}

func hasMetadata(dir string) bool {
	for _, n := range []string{"action.yml", "action.yaml", "Dockerfile", "dockerfile"} {
		if fi, err := os.Stat(filepath.Join(dir, n)); err == nil && !fi.IsDir() {
			return true
		}
	}
	return false
}

// mirrorURL is where owner/repo is cloned from.
func (r *Resolver) mirrorURL(ref Ref) string {
	if ref.URL != "" {
		return r.urlSource(ref)
	}
	m := r.Mirror
	if strings.Contains(m, "{owner}") || strings.Contains(m, "{repo}") {
		return strings.NewReplacer("{owner}", ref.Owner, "{repo}", ref.Repo).Replace(m)
	}
	if fi, err := os.Stat(m); err == nil && fi.IsDir() {
		for _, cand := range []string{ref.Owner + "/" + ref.Repo + ".git", ref.Owner + "/" + ref.Repo} {
			p := filepath.Join(m, filepath.FromSlash(cand))
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
		return filepath.Join(m, ref.Owner, ref.Repo+".git")
	}
	return strings.TrimSuffix(m, "/") + "/" + ref.Owner + "/" + ref.Repo + ".git"
}

// clone fetches the ref from the mirror into dest, atomically: a failed
// clone leaves nothing behind.
func (r *Resolver) clone(ctx context.Context, ref Ref, dest string) error {
	url := r.mirrorURL(ref)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("action cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".clone-")
	if err != nil {
		return fmt.Errorf("action cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	pre := cloneProtocols(ref, url)
	if shaPattern.MatchString(ref.Version) {
		if err := git(ctx, "", append(pre, "clone", "--quiet", "--no-checkout", url, tmp)...); err != nil {
			return fmt.Errorf("fetch action %s from mirror %s: %w", ref, url, err)
		}
		if err := git(ctx, tmp, "checkout", "--quiet", ref.Version); err != nil {
			return fmt.Errorf("fetch action %s: commit %s is not in mirror %s: %w", ref, ref.Version, url, err)
		}
	} else if err := git(ctx, "", append(pre, "clone", "--quiet", "--depth", "1", "--branch", ref.Version, url, tmp)...); err != nil {
		return fmt.Errorf("fetch action %s from mirror %s: %w", ref, url, err)
	}
	_ = os.RemoveAll(filepath.Join(tmp, ".git"))
	if err := os.Rename(tmp, dest); err != nil {
		if _, statErr := os.Stat(dest); statErr == nil {
			return nil // another run put it there first
		}
		return fmt.Errorf("action cache: %w", err)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return err
		}
		return errors.New(msg)
	}
	return nil
}
