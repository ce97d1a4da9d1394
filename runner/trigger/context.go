package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ContextOptions is what the github context is built from.
type ContextOptions struct {
	EventName    string
	Payload      map[string]any
	EventPath    string
	RepoDir      string
	Workspace    string
	RunID        string
	RunNumber    string
	RunAttempt   string
	Actor        string
	Token        string
	Workflow     string
	WorkflowPath string
	ServerURL    string
}

// GitHubContext builds the github context, filling what the payload lacks
// from the repository's git metadata, as GitHub and act do.
func GitHubContext(ctx context.Context, o ContextOptions) map[string]any {
	p := o.Payload
	if p == nil {
		p = map[string]any{}
	}
	info := RepoInfo(ctx, o.RepoDir)
	server := o.ServerURL
	if server == "" {
		server = "https://github.com"
	}
	repo := str(p, "repository", "full_name")
	if repo == "" {
		repo = info.Repository
	}
	owner, _, _ := strings.Cut(repo, "/")
	sha := firstNonEmpty(str(p, "after"), str(p, "head_commit", "id"), str(p, "pull_request", "head", "sha"), str(p, "workflow_run", "head_sha"), info.SHA)
	if strings.Trim(sha, "0") == "" {
		sha = info.SHA
	}
	ref := str(p, "ref")
	headRef, baseRef := "", ""
	switch o.EventName {
	case "pull_request", "pull_request_target":
		headRef = str(p, "pull_request", "head", "ref")
		baseRef = str(p, "pull_request", "base", "ref")
		if num, ok := p["number"].(float64); ok && o.EventName == "pull_request" {
			ref = fmt.Sprintf("refs/pull/%d/merge", int(num))
		} else if baseRef != "" {
			ref = "refs/heads/" + baseRef
		}
	case "release", "create", "delete":
		if t := str(p, "release", "tag_name"); t != "" {
			ref = "refs/tags/" + t
		} else if r := str(p, "ref"); r != "" && str(p, "ref_type") == "tag" {
			ref = "refs/tags/" + r
		} else if r != "" && str(p, "ref_type") == "branch" {
			ref = "refs/heads/" + r
		}
	}
	if ref == "" {
		ref = info.Ref
	}
	refType, refName := "branch", strings.TrimPrefix(ref, "refs/heads/")
	if strings.HasPrefix(ref, "refs/tags/") {
		refType, refName = "tag", strings.TrimPrefix(ref, "refs/tags/")
	} else if strings.HasPrefix(ref, "refs/pull/") {
		refName = strings.TrimPrefix(ref, "refs/")
	}
	actor := firstNonEmpty(o.Actor, str(p, "sender", "login"), info.User, "gantry")
	workflowRef := ""
	if o.WorkflowPath != "" {
		rel := o.WorkflowPath
		if r, err := filepath.Rel(o.RepoDir, o.WorkflowPath); err == nil && !strings.HasPrefix(r, "..") {
			rel = filepath.ToSlash(r)
		}
		workflowRef = repo + "/" + rel + "@" + ref
	}
	c := map[string]any{
		"event":               p,
		"event_name":          o.EventName,
		"event_path":          o.EventPath,
		"repository":          repo,
		"repository_owner":    owner,
		"repositoryUrl":       "git://" + strings.TrimPrefix(server, "https://") + "/" + repo + ".git",
		"sha":                 sha,
		"ref":                 ref,
		"ref_name":            refName,
		"ref_type":            refType,
		"ref_protected":       false,
		"head_ref":            headRef,
		"base_ref":            baseRef,
		"actor":               actor,
		"triggering_actor":    actor,
		"workspace":           o.Workspace,
		"run_id":              o.RunID,
		"run_number":          o.RunNumber,
		"run_attempt":         firstNonEmpty(o.RunAttempt, "1"),
		"retention_days":      "90",
		"server_url":          server,
		"api_url":             apiURL(server),
		"graphql_url":         apiURL(server) + "/graphql",
		"token":               o.Token,
		"workflow":            o.Workflow,
		"workflow_ref":        workflowRef,
		"workflow_sha":        sha,
		"job":                 "",
		"action":              "",
		"action_path":         "",
		"action_ref":          "",
		"action_repository":   "",
		"secret_source":       "Actions",
		"repository_id":       numString(p, "repository", "id"),
		"repository_owner_id": numString(p, "repository", "owner", "id"),
		"actor_id":            numString(p, "sender", "id"),
	}
	return c
}

func apiURL(server string) string {
	if server == "https://github.com" {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(server, "/") + "/api/v3"
}

func numString(p map[string]any, path ...string) string {
	var cur any = p
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[k]
	}
	if f, ok := cur.(float64); ok {
		return fmt.Sprintf("%.0f", f)
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Repo is what git says about a repository directory.
type Repo struct {
	Repository string // owner/name
	SHA        string
	Ref        string
	User       string
	Email      string
}

var remoteRepo = regexp.MustCompile(`[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$`)

// RepoInfo reads git metadata; a directory that is not a git repository gives
// "local/<dir name>" and an all-zero SHA.
func RepoInfo(ctx context.Context, dir string) Repo {
	r := Repo{SHA: strings.Repeat("0", 40), Ref: "refs/heads/main"}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	r.Repository = "local/" + filepath.Base(abs)
	if out, err := git(ctx, dir, "remote", "get-url", "origin"); err == nil {
		if m := remoteRepo.FindStringSubmatch(out); m != nil {
			r.Repository = m[1] + "/" + m[2]
		}
	}
	if out, err := git(ctx, dir, "rev-parse", "HEAD"); err == nil {
		r.SHA = out
	}
	if out, err := git(ctx, dir, "symbolic-ref", "-q", "HEAD"); err == nil && out != "" {
		r.Ref = out
	} else if out, err := git(ctx, dir, "describe", "--tags", "--exact-match"); err == nil && out != "" {
		r.Ref = "refs/tags/" + out
	}
	if out, err := git(ctx, dir, "config", "user.name"); err == nil {
		r.User = out
	}
	if out, err := git(ctx, dir, "config", "user.email"); err == nil {
		r.Email = out
	}
	return r
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// ChangedFilesFromGit lists the files changed between two commits.
func ChangedFilesFromGit(ctx context.Context, repoDir, base, head string) ([]string, error) {
	out, err := git(ctx, repoDir, "diff", "--name-only", base, head)
	if err != nil {
		return nil, err
	}
	if out == "" {
		return []string{}, nil
	}
	return strings.Split(out, "\n"), nil
}

// DefaultPayload is a minimal, plausible payload for an event run without -e.
func DefaultPayload(ctx context.Context, event, repoDir string) map[string]any {
	info := RepoInfo(ctx, repoDir)
	owner, name, _ := strings.Cut(info.Repository, "/")
	repo := map[string]any{
		"full_name":      info.Repository,
		"name":           name,
		"owner":          map[string]any{"login": owner},
		"default_branch": "main",
	}
	sender := map[string]any{"login": firstNonEmpty(info.User, "gantry")}
	p := map[string]any{"repository": repo, "sender": sender}
	branch := strings.TrimPrefix(info.Ref, "refs/heads/")
	switch event {
	case "push":
		p["ref"] = info.Ref
		p["before"] = strings.Repeat("0", 40)
		p["after"] = info.SHA
		p["head_commit"] = map[string]any{"id": info.SHA, "message": "", "author": map[string]any{"name": info.User, "email": info.Email}}
	case "pull_request", "pull_request_target":
		p["action"] = "opened"
		p["number"] = float64(1)
		p["pull_request"] = map[string]any{
			"number": float64(1),
			"head":   map[string]any{"ref": branch, "sha": info.SHA, "repo": repo},
			"base":   map[string]any{"ref": "main", "repo": repo},
		}
	case "workflow_dispatch":
		p["ref"] = info.Ref
		p["inputs"] = map[string]any{}
	case "schedule":
		p = map[string]any{"schedule": "", "repository": repo}
	}
	return p
}

// LoadPayload reads an event payload file.
func LoadPayload(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read event payload: %w", err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(data, int(se.Offset))
			return nil, fmt.Errorf("%s:%d:%d: invalid JSON in event payload: %v", path, line, col, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			line, col := lineCol(data, int(te.Offset))
			return nil, fmt.Errorf("%s:%d:%d: the event payload must be a JSON object", path, line, col)
		}
		return nil, fmt.Errorf("%s: invalid event payload: %w", path, err)
	}
	if p == nil {
		return nil, fmt.Errorf("%s:1:1: the event payload must be a JSON object, not null", path)
	}
	return p, nil
}

func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}
