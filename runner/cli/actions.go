package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/internal/actionurl"
	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/spf13/cobra"
)

// actionUse is one remote action or reusable workflow a run needs.
type actionUse struct {
	ref   action.Ref
	uses  string
	where []string // file:line of the steps that use it
	repo  bool     // a reusable workflow: the whole repository is needed
}

// remoteUses lists the remote actions and reusable workflows of the
// workflows' selected jobs, each once.
func remoteUses(wfs []*workflow.Workflow, jobs []string, repository string) []*actionUse {
	byRef := map[string]*actionUse{}
	var order []string
	add := func(uses, where string, repo bool) {
		var ref action.Ref
		var err error
		if repo && actionurl.Is(uses) {
			// https://host/owner/repo/.gitea/workflows/x.yml@ref: the repository.
			ref, err = action.ParseRef(uses)
			ref.SubPath = ""
		} else if repo {
			path, version, _ := strings.Cut(uses, "@")
			parts := strings.SplitN(path, "/", 3)
			if len(parts) < 3 {
				return
			}
			ref, err = action.ParseRef(parts[0] + "/" + parts[1] + "@" + version)
		} else {
			ref, err = action.ParseRef(uses)
		}
		if err != nil || ref.IsLocal() || ref.IsDocker() {
			return
		}
		key := ref.URL + "/" + ref.Owner + "/" + ref.Repo + "@" + ref.Version + "/" + ref.SubPath
		u, ok := byRef[key]
		if !ok {
			u = &actionUse{ref: ref, uses: uses, repo: repo}
			byRef[key] = u
			order = append(order, key)
		}
		u.where = append(u.where, where)
	}
	want := map[string]bool{}
	for _, j := range jobs {
		want[j] = true
	}
	for _, wf := range wfs {
		for _, j := range wf.Jobs {
			if len(want) > 0 && !want[j.ID] && !neededBy(wf, j.ID, want) {
				continue
			}
			if j.Uses != "" && !strings.HasPrefix(j.Uses, "./") {
				add(j.Uses, j.Pos.String(), true)
			}
			for _, s := range j.Steps {
				if s.Uses == "" || strings.HasPrefix(s.Uses, "./") || strings.HasPrefix(s.Uses, "docker://") {
					continue
				}
				if ref, err := action.ParseRef(s.Uses); err == nil && action.IsSelfCheckout(ref, withMap(s), repository) {
					continue
				}
				add(s.Uses, s.Pos.String(), false)
			}
		}
	}
	out := make([]*actionUse, 0, len(order))
	for _, k := range order {
		out = append(out, byRef[k])
	}
	return out
}

// neededBy reports whether a selected job needs id, directly or not.
func neededBy(wf *workflow.Workflow, id string, selected map[string]bool) bool {
	byID := map[string]*workflow.Job{}
	for _, j := range wf.Jobs {
		byID[j.ID] = j
	}
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(cur string) bool {
		if seen[cur] {
			return false
		}
		seen[cur] = true
		j := byID[cur]
		if j == nil {
			return false
		}
		for _, n := range j.Needs {
			if n == id || walk(n) {
				return true
			}
		}
		return false
	}
	for s := range selected {
		if walk(s) {
			return true
		}
	}
	return false
}

func withMap(s *workflow.Step) map[string]string {
	m := map[string]string{}
	for _, kv := range s.With {
		m[kv.Key] = kv.Value
	}
	return m
}

// missingActions resolves every remote action of the run and returns those
// that cannot be had, with why.
func missingActions(ctx context.Context, uses []*actionUse, src action.CacheSource) map[*actionUse]error {
	missing := map[*actionUse]error{}
	for _, u := range uses {
		var err error
		if u.repo {
			_, err = src.ResolveRepo(ctx, u.ref)
		} else {
			_, err = src.Resolve(ctx, u.ref, "")
		}
		if err != nil {
			missing[u] = err
		}
	}
	return missing
}

// checkActions fails before any job starts when an action of the run is
// missing, naming every missing one and how to add it.
func checkActions(ctx context.Context, wfs []*workflow.Workflow, opts scheduler.Options) error {
	src := action.CacheSource{CacheDir: opts.ActionCache, Mirror: opts.ActionMirror}
	repository := ""
	if r, ok := opts.Payload["repository"].(map[string]any); ok {
		repository, _ = r["full_name"].(string)
	}
	uses := remoteUses(wfs, opts.Jobs, repository)
	missing := missingActions(ctx, uses, src)
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s", missingReport(uses, missing, src))
}

func missingReport(uses []*actionUse, missing map[*actionUse]error, src action.CacheSource) string {
	cache := src.CacheDir
	if cache == "" {
		cache = action.DefaultCacheDir()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d action(s) of this run are not in the action cache %s:\n", len(missing), cache)
	for _, u := range uses {
		if _, ok := missing[u]; !ok {
			continue
		}
		fmt.Fprintf(&b, "  %s (used at %s)\n", u.uses, strings.Join(u.where, ", "))
	}
	b.WriteString("Add them while there is network with one command:\n")
	b.WriteString("  gantry actions fetch --mirror https://github.com\n")
	b.WriteString("or by hand, which works for tags, branches and commit SHAs alike:\n")
	for _, u := range uses {
		if _, ok := missing[u]; !ok {
			continue
		}
		dir, err := action.CacheDirFor(cache, u.ref)
		if err != nil {
			dir = filepath.Join(cache, u.ref.Owner, u.ref.Repo, u.ref.Version)
		}
		fmt.Fprintf(&b, "  git clone %s %s && git -C %s checkout %s\n", action.CloneURL(u.ref), dir, dir, u.ref.Version)
	}
	b.WriteString("or run with --action-mirror DIR|URL to clone them as they are needed")
	return b.String()
}

func newActionsCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{Use: "actions", Short: "Inspect and fill the action cache"}
	var dir, wfFlag, cache, mirror string
	var jobs []string
	load := func() ([]*workflow.Workflow, string, error) {
		repo, err := filepath.Abs(dir)
		if err != nil {
			return nil, "", err
		}
		p := wfFlag
		if !filepath.IsAbs(p) {
			p = filepath.Join(repo, p)
		}
		wfs, err := workflow.Load(p)
		if err != nil {
			printWorkflowErrors(stdio, err)
			return nil, "", fmt.Errorf("fix the workflow errors above (gantry validate checks them)")
		}
		return wfs, repo, nil
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the remote actions the workflows use and whether the cache has them",
		RunE: func(cmd *cobra.Command, _ []string) error {
			wfs, _, err := load()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			uses := remoteUses(wfs, jobs, "")
			missing := missingActions(cmd.Context(), uses, action.CacheSource{CacheDir: cache})
			sort.Slice(uses, func(i, j int) bool { return uses[i].uses < uses[j].uses })
			for _, u := range uses {
				state := "cached"
				if _, ok := missing[u]; ok {
					state = "missing"
				}
				fmt.Fprintf(stdio.Out, "%-8s %s\n", state, u.uses)
			}
			if len(missing) > 0 {
				return withCode(ExitFailure, nil)
			}
			return nil
		},
	}
	fetch := &cobra.Command{
		Use:   "fetch",
		Short: "Fill the action cache with every remote action the workflows use, from a mirror or URL",
		Example: `  gantry actions fetch --mirror https://github.com
  gantry actions fetch --mirror /srv/git      # a folder of OWNER/REPO.git`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			wfs, _, err := load()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			uses := remoteUses(wfs, jobs, "")
			// Full-URL actions (uses: https://host/owner/repo@ref) come
			// from their own host; the others need --mirror.
			for _, u := range uses {
				if u.ref.URL == "" && mirror == "" {
					return withCode(ExitUsage, fmt.Errorf("--mirror is required for %s (used at %s): a URL prefix such as https://github.com, or a folder of OWNER/REPO.git", u.uses, strings.Join(u.where, ", ")))
				}
			}
			missing := missingActions(cmd.Context(), uses, action.CacheSource{CacheDir: cache, Mirror: mirror, FetchURLs: true})
			for _, u := range uses {
				if err, ok := missing[u]; ok {
					fmt.Fprintf(stdio.Out, "failed   %s: %v\n", u.uses, err)
				} else {
					fmt.Fprintf(stdio.Out, "cached   %s\n", u.uses)
				}
			}
			if len(missing) > 0 {
				return withCode(ExitFailure, fmt.Errorf("%d action(s) could not be fetched", len(missing)))
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{list, fetch} {
		c.Flags().StringVarP(&dir, "directory", "C", ".", "the repository")
		c.Flags().StringVarP(&wfFlag, "workflows", "W", ".github/workflows", "workflow file or folder, relative to the repository")
		c.Flags().StringVar(&cache, "action-cache", "", "folder of actions as OWNER/REPO/REF/ (default ~/.cache/gantry/actions)")
		c.Flags().StringSliceVarP(&jobs, "job", "j", nil, "only the actions of this job (and the jobs it needs)")
	}
	fetch.Flags().StringVar(&mirror, "mirror", "", "where to clone from: a URL prefix (https://github.com) or a folder of OWNER/REPO.git")
	cmd.AddCommand(list, fetch)
	return cmd
}
