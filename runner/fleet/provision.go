package fleet

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/gantry-ci/gantry/runner/forge"
)

// GitHubJIT provisions each runner with a just-in-time config made through
// the REST API (generate-jitconfig on the repository or organisation): the
// server makes an ephemeral runner for it, and forgets it after its job.
type GitHubJIT struct {
	Protocol      forge.Protocol // the GitHub runner protocol
	Client        *gh.Client     // authenticated with a token that may manage runners
	Owner, Repo   string         // Repo empty: organisation runners
	RunnerGroupID int64          // 1 (Default) when zero
	Labels        []string       // label names
}

// NewGitHubJIT reads the owner (and repository) from a GitHub URL
// (https://github.com/OWNER[/REPO], or a GHES host, whose API is /api/v3).
// The token goes into the client's requests only.
func NewGitHubJIT(p forge.Protocol, rawURL, token string, hc *http.Client, labels []string) (*GitHubJIT, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("--url %q: give https://github.com/OWNER or https://github.com/OWNER/REPO", rawURL)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) == 0 || parts[0] == "" || len(parts) > 2 {
		return nil, fmt.Errorf("--url %q: give the organisation (https://HOST/OWNER) or the repository (https://HOST/OWNER/REPO) the runners serve", rawURL)
	}
	client := gh.NewClient(hc).WithAuthToken(token)
	if h := strings.ToLower(u.Hostname()); h != "github.com" && h != "www.github.com" {
		base := u.Scheme + "://" + u.Host + "/api/v3/"
		if strings.HasSuffix(h, ".ghe.com") {
			base = u.Scheme + "://api." + u.Host + "/"
		}
		client, err = client.WithEnterpriseURLs(base, base)
		if err != nil {
			return nil, fmt.Errorf("--url %q: %w", rawURL, err)
		}
	}
	g := &GitHubJIT{Protocol: p, Client: client, Owner: parts[0], Labels: labels}
	if len(parts) == 2 {
		g.Repo = strings.TrimSuffix(parts[1], ".git")
	}
	return g, nil
}

// Provision implements Provisioner.
func (g *GitHubJIT) Provision(ctx context.Context, name string) (*forge.Credentials, error) {
	group := g.RunnerGroupID
	if group == 0 {
		group = 1
	}
	req := &gh.GenerateJITConfigRequest{Name: name, RunnerGroupID: group, Labels: g.Labels}
	var (
		jit *gh.JITRunnerConfig
		err error
	)
	if g.Repo != "" {
		jit, _, err = g.Client.Actions.GenerateRepoJITConfig(ctx, g.Owner, g.Repo, req)
	} else {
		jit, _, err = g.Client.Actions.GenerateOrgJITConfig(ctx, g.Owner, req)
	}
	if err != nil {
		return nil, fmt.Errorf("generate a JIT config for %s: %w (the token needs the repository's administration or the organisation's self-hosted runners permission)", name, err)
	}
	creds, err := g.Protocol.Register(ctx, forge.Registration{JITConfig: jit.GetEncodedJITConfig(), Name: name, Labels: g.Labels, Ephemeral: true})
	if err != nil {
		return nil, fmt.Errorf("register %s with its JIT config: %w", name, err)
	}
	return creds, nil
}

// Deprovision implements Provisioner: the runner deletes itself (GitHub
// already removed one that ran its job; that counts as removed).
func (g *GitHubJIT) Deprovision(ctx context.Context, creds *forge.Credentials, _ bool) error {
	return g.Protocol.Remove(ctx, creds)
}

// GiteaEphemeral provisions each runner by registering it as ephemeral
// with a registration token (Gitea ≥ 1.23, Forgejo): the server deletes
// it after its task.
type GiteaEphemeral struct {
	Protocol forge.Protocol
	URL      string
	Token    string
	Labels   []string
	Version  string
}

// Provision implements Provisioner.
func (g *GiteaEphemeral) Provision(ctx context.Context, name string) (*forge.Credentials, error) {
	creds, err := g.Protocol.Register(ctx, forge.Registration{URL: g.URL, Token: g.Token, Name: name, Labels: g.Labels, Ephemeral: true, Version: g.Version})
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	return creds, nil
}

// Deprovision implements Provisioner. Gitea's runner protocol cannot
// unregister a runner: one stopped before it took a task stays listed
// (offline) until deleted in the web UI, which the error says.
func (g *GiteaEphemeral) Deprovision(_ context.Context, creds *forge.Credentials, took bool) error {
	if took {
		return nil
	}
	return fmt.Errorf("runner %q never took a task and stays registered (offline) on %s: Gitea's runner protocol cannot remove it; delete it in Settings → Actions → Runners", creds.Name, g.URL)
}
