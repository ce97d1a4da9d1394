package gitops

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// GitHub commits through GitHub's REST API (git data API: blobs, a tree on
// the parent's tree, a commit, a fast-forward ref update), so the flag file
// and its audit log land in one commit and a concurrent push is detected.
type GitHub struct {
	Client      *github.Client
	Owner, Repo string
}

// NewGitHub returns a client for repository ("owner/name") at apiURL.
func NewGitHub(apiURL, token, repository string) (*GitHub, error) {
	owner, repo, ok := strings.Cut(repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("repository %q is not owner/name", repository)
	}
	u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q is not an http(s) URL", apiURL)
	}
	c := github.NewClient(nil).WithAuthToken(token)
	c.BaseURL = u
	return &GitHub{Client: c, Owner: owner, Repo: repo}, nil
}

// DefaultBranch returns the repository's default branch.
func (g *GitHub) DefaultBranch(ctx context.Context) (string, error) {
	r, _, err := g.Client.Repositories.Get(ctx, g.Owner, g.Repo)
	if err != nil {
		return "", fmt.Errorf("read repository %s/%s: %w", g.Owner, g.Repo, err)
	}
	return r.GetDefaultBranch(), nil
}

// Head returns the commit branch points at.
func (g *GitHub) Head(ctx context.Context, branch string) (string, error) {
	ref, _, err := g.Client.Git.GetRef(ctx, g.Owner, g.Repo, "heads/"+branch)
	if err != nil {
		if status(err) == http.StatusNotFound {
			return "", fmt.Errorf("branch %s not found in %s/%s", branch, g.Owner, g.Repo)
		}
		return "", fmt.Errorf("read branch %s of %s/%s: %w", branch, g.Owner, g.Repo, err)
	}
	return ref.GetObject().GetSHA(), nil
}

// ReadAt returns path at commit sha; fs.ErrNotExist when it is missing.
func (g *GitHub) ReadAt(ctx context.Context, sha, path string) ([]byte, error) {
	fc, _, _, err := g.Client.Repositories.GetContents(ctx, g.Owner, g.Repo, path, &github.RepositoryContentGetOptions{Ref: sha})
	if err != nil {
		if status(err) == http.StatusNotFound {
			return nil, fmt.Errorf("read %s at %.12s: %w", path, sha, fs.ErrNotExist)
		}
		return nil, fmt.Errorf("read %s at %.12s from %s/%s: %w", path, sha, g.Owner, g.Repo, err)
	}
	if fc == nil || fc.GetType() != "file" {
		return nil, fmt.Errorf("%s at %.12s is not a file", path, sha)
	}
	if fc.GetEncoding() != "none" && (fc.Content != nil || fc.GetSize() == 0) {
		content, err := fc.GetContent()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", path, err)
		}
		return []byte(content), nil
	}
	// Files over 1 MB come without content: fetch the blob.
	b, _, err := g.Client.Git.GetBlobRaw(ctx, g.Owner, g.Repo, fc.GetSHA())
	if err != nil {
		return nil, fmt.Errorf("read blob of %s: %w", path, err)
	}
	return b, nil
}

// CommitOn commits files on top of parent and moves branch to it without
// force; ErrConflict when branch no longer points at parent's line.
func (g *GitHub) CommitOn(ctx context.Context, branch, parent string, files map[string][]byte, message string) (string, error) {
	pc, _, err := g.Client.Git.GetCommit(ctx, g.Owner, g.Repo, parent)
	if err != nil {
		return "", fmt.Errorf("read commit %.12s: %w", parent, err)
	}
	var entries []*github.TreeEntry
	for _, p := range sortedPaths(files) {
		blob, _, err := g.Client.Git.CreateBlob(ctx, g.Owner, g.Repo, &github.Blob{
			Content: github.String(base64.StdEncoding.EncodeToString(files[p])), Encoding: github.String("base64")})
		if err != nil {
			return "", fmt.Errorf("upload %s: %w", p, err)
		}
		entries = append(entries, &github.TreeEntry{Path: github.String(p), Mode: github.String("100644"), Type: github.String("blob"), SHA: blob.SHA})
	}
	tree, _, err := g.Client.Git.CreateTree(ctx, g.Owner, g.Repo, pc.GetTree().GetSHA(), entries)
	if err != nil {
		return "", fmt.Errorf("create tree: %w", err)
	}
	c, _, err := g.Client.Git.CreateCommit(ctx, g.Owner, g.Repo, &github.Commit{
		Message: github.String(message), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: github.String(parent)}}}, nil)
	if err != nil {
		return "", fmt.Errorf("create commit: %w", err)
	}
	_, _, err = g.Client.Git.UpdateRef(ctx, g.Owner, g.Repo, &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: c.SHA}}, false)
	if err != nil {
		if status(err) == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(err.Error()), "fast forward") {
			return "", fmt.Errorf("update branch %s: %w", branch, ErrConflict)
		}
		return "", fmt.Errorf("update branch %s to %.12s: %w", branch, c.GetSHA(), err)
	}
	return c.GetSHA(), nil
}

func status(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// Branch commits straight onto a branch.
type Branch struct {
	GH     *GitHub
	Branch string
	head   string
}

func (b *Branch) String() string {
	return fmt.Sprintf("branch %s of %s/%s", b.Branch, b.GH.Owner, b.GH.Repo)
}

// Refresh implements Target.
func (b *Branch) Refresh() { b.head = "" }

// Read implements Target: every read of one change sees the same commit.
func (b *Branch) Read(ctx context.Context, path string) ([]byte, error) {
	if b.head == "" {
		h, err := b.GH.Head(ctx, b.Branch)
		if err != nil {
			return nil, err
		}
		b.head = h
	}
	return b.GH.ReadAt(ctx, b.head, path)
}

// Write implements Target.
func (b *Branch) Write(ctx context.Context, c Change) (Result, error) {
	if b.head == "" {
		return Result{}, fmt.Errorf("write to %s before reading it", b)
	}
	sha, err := b.GH.CommitOn(ctx, b.Branch, b.head, c.Files, c.Message)
	if err != nil {
		return Result{}, err
	}
	b.head = sha
	return Result{SHA: sha}, nil
}

// PullRequest commits onto a new branch made from Base and opens a pull
// request into Base.
type PullRequest struct {
	GH           *GitHub
	Base, Branch string
	base         string // the base commit read
	url          string
}

func (p *PullRequest) String() string {
	return fmt.Sprintf("a pull request from %s into %s of %s/%s", p.Branch, p.Base, p.GH.Owner, p.GH.Repo)
}

// Refresh implements Target.
func (p *PullRequest) Refresh() {
	if p.url == "" {
		p.base = ""
	}
}

// Read implements Target: files as they are on the base branch (on the new
// branch once it exists).
func (p *PullRequest) Read(ctx context.Context, path string) ([]byte, error) {
	if p.base == "" {
		h, err := p.GH.Head(ctx, p.Base)
		if err != nil {
			return nil, err
		}
		p.base = h
	}
	return p.GH.ReadAt(ctx, p.base, path)
}

// Write implements Target.
func (p *PullRequest) Write(ctx context.Context, c Change) (Result, error) {
	if p.base == "" {
		return Result{}, fmt.Errorf("write to %s before reading it", p)
	}
	if p.url == "" {
		_, _, err := p.GH.Client.Git.CreateRef(ctx, p.GH.Owner, p.GH.Repo, &github.Reference{Ref: github.String("refs/heads/" + p.Branch), Object: &github.GitObject{SHA: github.String(p.base)}})
		if err != nil {
			if status(err) == http.StatusUnprocessableEntity {
				return Result{}, fmt.Errorf("create branch %s: it already exists in %s/%s; name a new branch (input branch) or delete it: %w", p.Branch, p.GH.Owner, p.GH.Repo, err)
			}
			return Result{}, fmt.Errorf("create branch %s from %s: %w", p.Branch, p.Base, err)
		}
	}
	sha, err := p.GH.CommitOn(ctx, p.Branch, p.base, c.Files, c.Message)
	if err != nil {
		return Result{}, err
	}
	p.base = sha
	if p.url == "" {
		pr, _, err := p.GH.Client.PullRequests.Create(ctx, p.GH.Owner, p.GH.Repo, &github.NewPullRequest{
			Title: github.String(c.Title), Head: github.String(p.Branch), Base: github.String(p.Base), Body: github.String(c.Body)})
		if err != nil {
			return Result{SHA: sha}, fmt.Errorf("open pull request from %s into %s (the commit %.12s is on %s): %w", p.Branch, p.Base, sha, p.Branch, err)
		}
		p.url = pr.GetHTMLURL()
	}
	return Result{SHA: sha, PullRequestURL: p.url}, nil
}
