package workflows

import (
	"path"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
)

// githubOwned are the owners whose actions GitHub itself publishes: a moved
// tag there is a smaller risk than a third party's, but still a risk.
var githubOwned = []string{"actions", "github"}

// Unpinned decides the pinning rule for one `uses:` value, the same for
// steps and reusable workflows:
//   - local (./...) and allow-listed references are fine;
//   - a 40-hex commit SHA (or an image @sha256 digest) is fine;
//   - a GitHub-owned action (actions/*, github/*) on a tag or branch: low;
//   - an image without a digest: low;
//   - any other action or reusable workflow on a tag or branch: medium.
//
// It returns the rule with its severity, the message, and whether it applies.
func (p *Policy) Unpinned(uses string) (finding.Rule, string, bool) {
	r := RuleUnpinned
	if uses == "" || strings.HasPrefix(uses, "./") || strings.HasPrefix(uses, "../") {
		return r, "", false
	}
	if img, ok := strings.CutPrefix(uses, "docker://"); ok {
		if strings.Contains(img, "@sha256:") || p.allowed(uses) {
			return r, "", false
		}
		r.Severity = "low"
		return r, "image " + uses + " is not pinned to a digest", true
	}
	name, ref, ok := strings.Cut(uses, "@")
	if !ok {
		return r, "", false // not a valid reference; the workflow linter reports it
	}
	if sha.MatchString(ref) || p.allowed(uses) {
		return r, "", false
	}
	owner, _, _ := strings.Cut(name, "/")
	for _, o := range githubOwned {
		if strings.EqualFold(owner, o) {
			r.Severity = "low"
			return r, uses + " (GitHub-owned) is not pinned to a commit SHA", true
		}
	}
	return r, uses + " is not pinned to a commit SHA", true
}

// allowed matches uses (without its @ref or :tag) against AllowUnpinned.
func (p *Policy) allowed(uses string) bool {
	var name string
	if img, ok := strings.CutPrefix(uses, "docker://"); ok {
		img, _, _ = strings.Cut(img, "@")
		// Drop a tag, not a registry port: the tag follows the last slash.
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
			img = img[:i]
		}
		name = "docker://" + img
	} else {
		name, _, _ = strings.Cut(uses, "@")
	}
	name = strings.ToLower(name)
	for _, a := range p.AllowUnpinned {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		if a == name || strings.HasPrefix(name, strings.TrimSuffix(a, "/*")+"/") && strings.HasSuffix(a, "/*") {
			return true
		}
		if !strings.HasPrefix(a, "docker://") && !strings.Contains(strings.TrimSuffix(a, "/*"), "*") {
			// owner/repo also covers owner/repo/sub-action and its workflows.
			if strings.HasPrefix(name, a+"/") {
				return true
			}
			continue
		}
		if ok, _ := path.Match(a, name); ok {
			return true
		}
	}
	return false
}
