// Package action resolves action references and reads action metadata
// (action.yml), for local, cached, mirrored and docker:// actions.
package action

import (
	"fmt"
	"path"
	"strings"

	"github.com/gantry-ci/gantry/internal/actionurl"
	"github.com/gantry-ci/gantry/internal/safepath"
)

// Ref is a parsed uses: value.
type Ref struct {
	Local   string // ./path, relative to the workspace
	Owner   string
	Repo    string
	SubPath string // owner/repo/sub/dir@ref
	Version string
	Image   string // docker://image
	// URL is scheme://host of a full-URL reference (uses:
	// https://gitea.example.com/owner/repo@v1, see urlref.go); empty for
	// GitHub's owner/repo@ref.
	URL string
}

// IsLocal reports a ./path action.
func (r Ref) IsLocal() bool { return r.Local != "" }

// IsDocker reports a docker://image reference.
func (r Ref) IsDocker() bool { return r.Image != "" }

func (r Ref) String() string {
	switch {
	case r.Local != "":
		return r.Local
	case r.Image != "":
		return "docker://" + r.Image
	}
	s := r.Owner + "/" + r.Repo
	if r.URL != "" {
		s = r.URL + "/" + s
	}
	if r.SubPath != "" {
		s += "/" + r.SubPath
	}
	return s + "@" + r.Version
}

// ParseRef parses a step's uses: value.
func ParseRef(uses string) (Ref, error) {
	u := strings.TrimSpace(uses)
	switch {
	case u == "":
		return Ref{}, fmt.Errorf("uses is empty")
	case strings.HasPrefix(u, "docker://"):
		img := strings.TrimPrefix(u, "docker://")
		if img == "" {
			return Ref{}, fmt.Errorf("%q names no image; write docker://image:tag", uses)
		}
		return Ref{Image: img}, nil
	case strings.HasPrefix(u, "./"):
		clean := path.Clean(u)
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return Ref{}, fmt.Errorf("local action %q leaves the workspace", uses)
		}
		if strings.ContainsAny(clean, "\x00\\") {
			return Ref{}, fmt.Errorf("local action %q contains a NUL or a backslash", uses)
		}
		return Ref{Local: "./" + clean}, nil
	case strings.HasPrefix(u, "/") || strings.HasPrefix(u, "../"):
		return Ref{}, fmt.Errorf("%q: local actions start with ./ (relative to the repository root)", uses)
	}
	if actionurl.Is(u) {
		return parseURLRef(u)
	}
	repoPath, version, ok := strings.Cut(u, "@")
	if !ok || version == "" {
		return Ref{}, fmt.Errorf("%q has no version; pin one: %s@v4 (a tag, branch or commit SHA)", uses, repoPath)
	}
	parts := strings.Split(repoPath, "/")
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return Ref{}, fmt.Errorf("%q is not owner/repo@ref, owner/repo/path@ref, ./path or docker://image", uses)
	}
	if err := safepath.CheckSegments("action path", repoPath); err != nil {
		return Ref{}, fmt.Errorf("%q: %v", uses, err)
	}
	if err := safepath.CheckRef(version); err != nil {
		return Ref{}, fmt.Errorf("%q: %v", uses, err)
	}
	return Ref{Owner: parts[0], Repo: parts[1], SubPath: strings.Join(parts[2:], "/"), Version: version}, nil
}

// IsSelfCheckout reports actions/checkout of the repository being run, which
// gantry serves from the workspace it already made.
func IsSelfCheckout(r Ref, with map[string]string, repository string) bool {
	if !strings.EqualFold(r.Owner, "actions") || !strings.EqualFold(r.Repo, "checkout") || r.SubPath != "" {
		return false
	}
	repo := ""
	for k, v := range with {
		if strings.EqualFold(k, "repository") {
			repo = v
		}
	}
	return repo == "" || strings.EqualFold(repo, repository) || repo == "${{ github.repository }}"
}
