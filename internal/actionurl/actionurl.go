// Package actionurl parses an action reference written as a full URL, as
// Gitea and Forgejo users write it:
//
//	uses: https://gitea.example.com/owner/repo[/path]@ref
//	uses: https://github.com/actions/checkout@v4
//
// Only http and https are accepted; credentials, queries, fragments and
// percent-encoding in the URL are refused, and the path and ref obey the
// same rules as owner/repo@ref (internal/safepath). runner/workflow checks
// it at validate time and runner/action resolves it, both from here.
package actionurl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gantry-ci/gantry/internal/safepath"
)

// Ref is a parsed full-URL action reference.
type Ref struct {
	Base    string // scheme://host[:port], host lowercased
	Owner   string
	Repo    string // without a trailing .git
	SubPath string
	Version string
}

// Is reports whether uses is written as a URL (SCHEME://...); docker://
// images are not action URLs.
func Is(uses string) bool {
	u := strings.TrimSpace(uses)
	i := strings.Index(u, "://")
	return i > 0 && !strings.HasPrefix(u, "docker://") && !strings.ContainsAny(u[:i], "/@.")
}

// Parse parses and checks a full-URL action reference.
func Parse(uses string) (Ref, error) {
	u := strings.TrimSpace(uses)
	for _, r := range u {
		if r < 0x20 || r == 0x7f {
			return Ref{}, fmt.Errorf("%q contains a control character (%U)", uses, r)
		}
		if r == '\\' {
			return Ref{}, fmt.Errorf("%q contains a backslash", uses)
		}
	}
	scheme, _, _ := strings.Cut(u, "://")
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return Ref{}, fmt.Errorf("%q: only http:// and https:// action URLs are supported (not %s://)", uses, scheme)
	}
	at := strings.LastIndex(u, "@")
	if at < 0 || at == len(u)-1 {
		return Ref{}, fmt.Errorf("%q has no version; pin one: %s@v1 (a tag, branch or commit SHA)", uses, strings.TrimSuffix(u, "@"))
	}
	loc, version := u[:at], u[at+1:]
	if strings.Contains(loc, "@") {
		return Ref{}, errCredentials
	}
	if strings.Contains(loc, "%") {
		return Ref{}, fmt.Errorf("%q: percent-encoding is not allowed in an action URL; write the path as it is", uses)
	}
	pu, err := url.Parse(loc)
	if err != nil {
		return Ref{}, fmt.Errorf("%q is not a URL: %v", uses, err)
	}
	switch {
	case pu.User != nil:
		return Ref{}, errCredentials
	case pu.Host == "" || pu.Hostname() == "":
		return Ref{}, fmt.Errorf("%q names no host; write https://HOST/OWNER/REPO@REF", uses)
	case pu.RawQuery != "" || pu.ForceQuery || pu.Fragment != "" || strings.Contains(loc, "#"):
		return Ref{}, fmt.Errorf("%q: an action URL takes no ?query or #fragment; write https://HOST/OWNER/REPO[/PATH]@REF", uses)
	}
	if err := checkHost(pu.Host); err != nil {
		return Ref{}, fmt.Errorf("%q: %v", uses, err)
	}
	p := strings.TrimPrefix(pu.Path, "/")
	if err := safepath.CheckSegments("action path", p); err != nil {
		return Ref{}, fmt.Errorf("%q: %v; write https://HOST/OWNER/REPO[/PATH]@REF", uses, err)
	}
	parts := strings.Split(p, "/")
	repo := strings.TrimSuffix(parts[len(parts)-1], ".git")
	if len(parts) >= 2 {
		repo = strings.TrimSuffix(parts[1], ".git")
	}
	if len(parts) < 2 || repo == "" || repo == "." || repo == ".." {
		return Ref{}, fmt.Errorf("%q names no repository; write https://HOST/OWNER/REPO[/PATH]@REF", uses)
	}
	if err := safepath.CheckRef(version); err != nil {
		return Ref{}, fmt.Errorf("%q: %v; pin a tag, a branch or a commit SHA", uses, err)
	}
	return Ref{Base: strings.ToLower(scheme) + "://" + strings.ToLower(pu.Host), Owner: parts[0], Repo: repo,
		SubPath: strings.Join(parts[2:], "/"), Version: version}, nil
}

// checkHost allows host names, IPv4 and bracketed IPv6 addresses, with an
// optional port: nothing that could reach a path or a shell.
func checkHost(host string) error {
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-:[]_", r):
		default:
			return fmt.Errorf("host %q contains %q", host, r)
		}
	}
	return nil
}

// CheckBase refuses a Base not made by Parse (a Ref built by hand).
func CheckBase(base string) error {
	scheme, host, ok := strings.Cut(base, "://")
	if !ok || (scheme != "http" && scheme != "https") || host == "" {
		return fmt.Errorf("action URL %q: only http(s)://HOST is allowed", base)
	}
	return checkHost(host)
}

// HostDir is the host as one folder name (the port after '_'), so the
// cache keeps two hosts' OWNER/REPO apart.
func HostDir(base string) string {
	_, host, _ := strings.Cut(base, "://")
	host = strings.NewReplacer(":", "_", "[", "", "]", "").Replace(strings.ToLower(host))
	if host == "" || host == "." || host == ".." {
		return "_"
	}
	return host
}

// CloneURL is the repository's git URL.
func (r Ref) CloneURL() string { return r.Base + "/" + r.Owner + "/" + r.Repo }

func (r Ref) String() string {
	s := r.Base + "/" + r.Owner + "/" + r.Repo
	if r.SubPath != "" {
		s += "/" + r.SubPath
	}
	return s + "@" + r.Version
}

// errCredentials does not repeat the URL: it holds a secret.
var errCredentials = errors.New("the action URL holds credentials (user@ or user:password@ before the host); never put them in a workflow: give git a credential helper for the host instead")
