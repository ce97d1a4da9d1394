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

// ContextOptions is what the github context is built from. Empty fields get
// GitHub's defaults or values read from the payload and the git repository.
type ContextOptions struct {
	EventName     string
	Payload       map[string]any
	EventPath     string // where the payload file is, as the job sees it
	RepoDir       string // the repository on the runner host, for git metadata
	Workspace     string
	RunID         string
	RunNumber     string
	RunAttempt    string // default "1"
	Actor         string // default: payload sender.login, git user.name, "gantry"
	Token         string
	Job           string // the job id; the engine usually sets github.job per job
	Workflow      string // the workflow's name (or path when it has none)
	WorkflowPath  string // the workflow file, for workflow_ref
	WorkflowRef   string // overrides the computed workflow_ref
	ServerURL     string // default https://github.com
	APIURL        string // default derived from ServerURL
	GraphQLURL    string // default derived from APIURL
	RetentionDays string // default "90"
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
	owner := str(p, "repository", "owner", "login")
	if owner == "" {
		owner, _, _ = strings.Cut(repo, "/")
	}
	sha := firstNonEmpty(str(p, "after"), str(p, "head_commit", "id"), str(p, "pull_request", "head", "sha"), info.SHA)
	if strings.Trim(sha, "0") == "" {
		sha = info.SHA // a branch deletion's after is all zeros
	}
	ref := str(p, "ref")
	headRef, baseRef := "", ""
	switch o.EventName {
	case "pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment":
		if o.EventName == "pull_request" || o.EventName == "pull_request_target" {
			headRef = str(p, "pull_request", "head", "ref")
			baseRef = str(p, "pull_request", "base", "ref")
		}
		num := firstNonEmpty(numString(p, "number"), numString(p, "pull_request", "number"))
		if o.EventName != "pull_request_target" && num != "" {
			ref = "refs/pull/" + num + "/merge"
		} else if b := str(p, "pull_request", "base", "ref"); b != "" {
			// pull_request_target runs on the base branch's last commit.
			ref = "refs/heads/" + b
			if o.EventName == "pull_request_target" {
				sha = firstNonEmpty(str(p, "pull_request", "base", "sha"), info.SHA)
			}
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
	if ref == "" && defaultBranchEvents[o.EventName] {
		if b := str(p, "repository", "default_branch"); b != "" {
			ref = "refs/heads/" + b
		}
	}
	if ref == "" {
		ref = info.Ref
	}
	refType, refName := "branch", strings.TrimPrefix(ref, "refs/heads/")
	if strings.HasPrefix(ref, "refs/tags/") {
		refType, refName = "tag", strings.TrimPrefix(ref, "refs/tags/")
	} else if strings.HasPrefix(ref, "refs/pull/") {
		refName = strings.TrimPrefix(ref, "refs/pull/") // e.g. 12/merge
	}
	actor := firstNonEmpty(o.Actor, str(p, "sender", "login"), info.User, "gantry")
	workflowRef := o.WorkflowRef
	if workflowRef == "" && o.WorkflowPath != "" {
		rel := o.WorkflowPath
		if r, err := filepath.Rel(o.RepoDir, o.WorkflowPath); err == nil && !strings.HasPrefix(r, "..") {
			rel = filepath.ToSlash(r)
		}
		workflowRef = repo + "/" + rel + "@" + ref
	}
	api := firstNonEmpty(o.APIURL, apiURL(server))
	graphql := firstNonEmpty(o.GraphQLURL, graphqlURL(api))
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
		"retention_days":      firstNonEmpty(o.RetentionDays, "90"),
		"server_url":          server,
		"api_url":             api,
		"graphql_url":         graphql,
		"token":               o.Token,
		"workflow":            o.Workflow,
		"workflow_ref":        workflowRef,
		"workflow_sha":        sha,
		"job":                 o.Job,
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

// defaultBranchEvents run on the default branch's last commit (GITHUB_REF is
// the default branch) according to "Events that trigger workflows".
var defaultBranchEvents = map[string]bool{
	"branch_protection_rule": true, "check_run": true, "check_suite": true, "discussion": true,
	"discussion_comment": true, "fork": true, "gollum": true, "issue_comment": true, "issues": true,
	"label": true, "milestone": true, "page_build": true, "public": true, "repository_dispatch": true,
	"schedule": true, "watch": true, "workflow_run": true, "image_version": true,
	"status": true,
}

func apiURL(server string) string {
	server = strings.TrimSuffix(server, "/")
	if server == "https://github.com" {
		return "https://api.github.com"
	}
	return server + "/api/v3"
}

func graphqlURL(api string) string {
	if api == "https://api.github.com" {
		return api + "/graphql"
	}
	return strings.TrimSuffix(strings.TrimSuffix(api, "/"), "/v3") + "/graphql"
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
	Repository    string // owner/name
	SHA           string // HEAD, or 40 zeros outside git
	Ref           string // refs/heads/<branch>, refs/tags/<tag> on a detached tag, else refs/heads/main
	DefaultBranch string // origin's HEAD branch, else the current branch, else main
	User          string // git config user.name
	Email         string // git config user.email
	Message       string // HEAD's commit subject
}

var remoteRepo = regexp.MustCompile(`[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$`)

// RepoInfo reads git metadata with the git CLI; a directory that is not a git
// repository (or a machine without git) gives "local/<dir name>", an all-zero
// SHA and refs/heads/main.
func RepoInfo(ctx context.Context, dir string) Repo {
	r := Repo{SHA: strings.Repeat("0", 40), Ref: "refs/heads/main"}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	r.Repository = "local/" + filepath.Base(abs)
	// The queries are independent: asked at once, they cost one git start
	// instead of eight in a row (a run's fixed cost).
	q := gitAll(ctx, dir,
		[]string{"remote", "get-url", "origin"},
		[]string{"rev-parse", "--verify", "-q", "HEAD"},
		[]string{"symbolic-ref", "-q", "HEAD"},
		[]string{"describe", "--tags", "--exact-match"},
		[]string{"symbolic-ref", "-q", "refs/remotes/origin/HEAD"},
		[]string{"config", "user.name"},
		[]string{"config", "user.email"},
		[]string{"log", "-1", "--format=%s"},
	)
	if out, ok := q[0](); ok {
		if m := remoteRepo.FindStringSubmatch(out); m != nil {
			r.Repository = m[1] + "/" + m[2]
		}
	}
	if out, ok := q[1](); ok && out != "" {
		r.SHA = out
	}
	if out, ok := q[2](); ok && out != "" {
		r.Ref = out
	} else if out, ok := q[3](); ok && out != "" {
		r.Ref = "refs/tags/" + out
	}
	r.DefaultBranch = "main"
	if out, ok := q[4](); ok && out != "" {
		r.DefaultBranch = strings.TrimPrefix(out, "refs/remotes/origin/")
	} else if strings.HasPrefix(r.Ref, "refs/heads/") {
		r.DefaultBranch = strings.TrimPrefix(r.Ref, "refs/heads/")
	}
	if out, ok := q[5](); ok {
		r.User = out
	}
	if out, ok := q[6](); ok {
		r.Email = out
	}
	if out, ok := q[7](); ok {
		r.Message = out
	}
	return r
}

// gitAll runs the git commands concurrently; each result func waits for its own.
func gitAll(ctx context.Context, dir string, cmds ...[]string) []func() (string, bool) {
	out := make([]func() (string, bool), len(cmds))
	for i, args := range cmds {
		done := make(chan struct{})
		var s string
		var err error
		go func() {
			defer close(done)
			s, err = git(ctx, dir, args...)
		}()
		out[i] = func() (string, bool) { <-done; return s, err == nil }
	}
	return out
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	// No pager, no prompts, and a fixed language for parseable output.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_PAGER=cat", "LC_ALL=C")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s in %s: %w: %s", strings.Join(args, " "), dir, err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// ChangedFilesFromGit lists the files changed between two commits (git diff
// --name-only base head), for Event.ChangedFiles.
func ChangedFilesFromGit(ctx context.Context, repoDir, base, head string) ([]string, error) {
	out, err := git(ctx, repoDir, "diff", "--name-only", "--no-renames", base, head, "--")
	if err != nil {
		return nil, fmt.Errorf("list changed files: %w", err)
	}
	if out == "" {
		return []string{}, nil
	}
	return strings.Split(out, "\n"), nil
}

// DefaultPayload is a minimal, plausible payload for an event run without -e,
// built from the repository's git metadata (see PayloadFor).
func DefaultPayload(ctx context.Context, event, repoDir string) map[string]any {
	return PayloadFor(event, RepoInfo(ctx, repoDir))
}

// PayloadFor builds a minimal payload for event as act does: repository and
// sender always; ref, before, after and head_commit for push; a pull request
// from the current branch to the default branch for pull_request.
func PayloadFor(event string, info Repo) map[string]any {
	owner, name, _ := strings.Cut(info.Repository, "/")
	def := firstNonEmpty(info.DefaultBranch, "main")
	repo := map[string]any{
		"full_name":      info.Repository,
		"name":           name,
		"owner":          map[string]any{"login": owner},
		"default_branch": def,
	}
	login := firstNonEmpty(info.User, "gantry")
	p := map[string]any{"repository": repo, "sender": map[string]any{"login": login}}
	branch := strings.TrimPrefix(info.Ref, "refs/heads/")
	switch event {
	case "push":
		p["ref"] = info.Ref
		p["before"] = strings.Repeat("0", 40)
		p["after"] = info.SHA
		p["base_ref"] = nil
		p["pusher"] = map[string]any{"name": login, "email": info.Email}
		p["head_commit"] = map[string]any{
			"id": info.SHA, "message": info.Message,
			"author": map[string]any{"name": info.User, "email": info.Email},
		}
	case "pull_request", "pull_request_target":
		p["action"] = "opened"
		p["number"] = float64(1)
		p["pull_request"] = map[string]any{
			"number": float64(1),
			"title":  info.Message,
			"head":   map[string]any{"ref": branch, "sha": info.SHA, "repo": repo},
			"base":   map[string]any{"ref": def, "repo": repo},
		}
	case "workflow_dispatch":
		p["ref"] = info.Ref
		p["inputs"] = map[string]any{}
	case "create", "delete":
		if tag, ok := strings.CutPrefix(info.Ref, "refs/tags/"); ok {
			p["ref"], p["ref_type"] = tag, "tag"
		} else {
			p["ref"], p["ref_type"] = branch, "branch"
		}
	case "release":
		tag, ok := strings.CutPrefix(info.Ref, "refs/tags/")
		if !ok {
			tag = "v0.0.0" // a release always has a tag; HEAD has none
		}
		p["action"] = "published"
		p["release"] = map[string]any{"tag_name": tag, "name": tag, "target_commitish": info.SHA}
	case "schedule":
		p["schedule"] = ""
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
			if num, ok := strings.CutPrefix(te.Value, "number "); ok {
				// Valid JSON, but beyond what a float64 (JavaScript's number)
				// holds; the decoder's offset is past the enclosing value.
				if i := strings.Index(string(data), num); i >= 0 {
					line, col = lineCol(data, i)
				}
				return nil, fmt.Errorf("%s:%d:%d: invalid event payload: the number %s is out of range of a 64-bit float; write it as a string", path, line, col, num)
			}
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
