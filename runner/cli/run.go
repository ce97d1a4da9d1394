package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/internal/suggest"
	"github.com/gantry-ci/gantry/runner/plan"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/spf13/cobra"
)

type runFlags struct {
	workflows    string
	dir          string
	jobs         []string
	eventPath    string
	secrets      []string
	secretFiles  []string
	vars         []string
	varFiles     []string
	inputs       []string
	matrix       []string
	platforms    []string
	buildArgs    []string
	list         bool
	dryRun       bool
	bind         bool
	actionCache  string
	actionMirror string
	noColor      bool
	keep         bool
	workRoot     string
	actor        string
	network      string
	tools        toolFlags
	services     serviceFlags
}

func newRunCmd(stdio IO) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [EVENT]",
		Short: "Run the workflows triggered by EVENT (default push)",
		Long: `Run the workflows of a repository that EVENT triggers, the way GitHub would.

Exit status: 0 when every job succeeded, 1 when a job failed, 2 for usage or
validation errors.`,
		Example: `  gantry run                      # the push workflows of this repository
  gantry run pull_request -e pr.json
  gantry run workflow_dispatch --input level=debug -j build
  gantry run -P ubuntu-latest=host -s TOKEN=abc`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			event := "push"
			if len(args) == 1 {
				event = args[0]
			}
			return runWorkflows(cmd.Context(), stdio, f, event)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.workflows, "workflows", "W", ".github/workflows", "workflow file or folder, relative to the repository")
	fl.StringVarP(&f.dir, "directory", "C", ".", "the repository to run in")
	fl.StringSliceVarP(&f.jobs, "job", "j", nil, "run only this job (and the jobs it needs); repeatable")
	fl.StringVarP(&f.eventPath, "eventpath", "e", "", "JSON file with the event payload")
	fl.StringArrayVarP(&f.secrets, "secret", "s", nil, "a secret as KEY=VALUE, or KEY to read it from the environment; repeatable")
	fl.StringArrayVar(&f.secretFiles, "secret-file", nil, "a file of KEY=VALUE secrets (dotenv format)")
	fl.StringArrayVar(&f.vars, "var", nil, "a configuration variable as KEY=VALUE; repeatable")
	fl.StringArrayVar(&f.varFiles, "var-file", nil, "a file of KEY=VALUE variables")
	fl.StringArrayVar(&f.inputs, "input", nil, "a workflow_dispatch/workflow_call input as NAME=VALUE; repeatable")
	fl.StringArrayVar(&f.matrix, "matrix", nil, "run only matrix cells with KEY:VALUE; repeatable")
	fl.StringArrayVarP(&f.platforms, "platform", "P", nil, "map a runs-on label: LABEL=host or LABEL=IMAGE; repeatable")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "a build argument for Dockerfile actions, KEY=VALUE (e.g. BASE_IMAGE=gantry/busybox:latest); repeatable")
	fl.BoolVarP(&f.list, "list", "l", false, "list the workflows and jobs the event triggers, and exit")
	fl.BoolVarP(&f.dryRun, "dryrun", "n", false, "plan and show the jobs and steps without running them")
	fl.BoolVarP(&f.bind, "bind", "b", false, "use the repository directory itself as the workspace instead of a copy")
	fl.StringVar(&f.actionCache, "action-cache", "", "folder of actions as OWNER/REPO/REF/ (default ~/.cache/gantry/actions)")
	fl.StringVar(&f.actionMirror, "action-mirror", "", "git mirror for actions: a folder of OWNER/REPO.git or a URL prefix")
	fl.BoolVar(&f.noColor, "no-color", false, "no colour even on a terminal")
	fl.BoolVar(&f.keep, "keep-workdir", false, "keep the run's working directory for debugging")
	fl.StringVar(&f.workRoot, "workdir", "", "where run directories are made (default: the system temp dir)")
	fl.StringVar(&f.actor, "actor", "", "github.actor (default: from the payload or git)")
	addToolFlags(fl, &f.tools)
	fl.StringVar(&f.network, "network", "", "Docker network for job containers and docker actions of jobs without services, e.g. host to reach this machine's loopback (default: Docker's bridge)")
	addServiceFlags(fl, &f.services)
	return cmd
}

func runWorkflows(parent context.Context, stdio IO, f *runFlags, event string) error {
	repo, err := filepath.Abs(f.dir)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	if !trigger.KnownEvent(event) {
		return withCode(ExitUsage, fmt.Errorf("unknown event %q%s; GitHub's events are: %s", event, suggest.Hint(event, trigger.EventNames()), strings.Join(trigger.EventNames(), ", ")))
	}
	wfPath := f.workflows
	if !filepath.IsAbs(wfPath) {
		wfPath = filepath.Join(repo, wfPath)
	}
	if _, err := os.Stat(wfPath); err != nil {
		return withCode(ExitUsage, fmt.Errorf("workflow file or folder %s does not exist; run in a repository with .github/workflows, or point -W (or -C) at one", wfPath))
	}
	wfs, err := workflow.Load(wfPath)
	if err != nil {
		printWorkflowErrors(stdio, err)
		return withCode(ExitUsage, fmt.Errorf("fix the workflow errors above (gantry validate checks them)"))
	}
	if wfs, err = selectJobs(wfs, f.jobs); err != nil {
		return withCode(ExitUsage, err)
	}
	opts, err := buildOptions(parent, stdio, f, repo, event)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	opts.Jobs = f.jobs

	if f.list {
		return listWorkflows(stdio, wfs, opts)
	}
	if !f.dryRun {
		if err := checkActions(parent, triggered(wfs, opts), opts); err != nil {
			return withCode(ExitUsage, err)
		}
	}
	var svc *runServices
	if !f.dryRun {
		if svc, err = startServices(parent, stdio, &f.services, repo, event, &opts); err != nil {
			return withCode(ExitFailure, err)
		}
		defer svc.Close()
	}

	var sess *session // a dry run makes nothing to record
	if !f.dryRun {
		if sess, err = startSession(parent, stdio, &opts, f.workRoot, f.keep); err != nil {
			return withCode(ExitUsage, err)
		}
		defer sess.end()
	}

	// First Ctrl-C cancels: running steps are killed, always() steps still run.
	// A second one exits at once, saying what it leaves.
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			n++
			if n == 1 {
				fmt.Fprintln(stdio.Err, "\ngantry: cancelling; press Ctrl-C again to exit at once")
				cancel()
				continue
			}
			sess.abandon(stdio)
			os.Exit(130)
		}
	}()

	start := time.Now()
	var all []*scheduler.JobResult
	ran, failed := 0, false
	for _, wf := range wfs {
		opts.RunID = sess.nextRunID()
		res, err := scheduler.Run(ctx, wf, opts)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		if res.Skipped {
			fmt.Fprintf(stdio.Err, "gantry: %s: not triggered by %s: %s\n", rel(repo, wf.Path), event, res.Reason)
			continue
		}
		ran++
		all = append(all, res.Jobs...)
		if !res.Success {
			failed = true
		}
		if len(res.Annotations) > 0 {
			fmt.Fprintln(stdio.Out, "\nAnnotations:")
			for _, a := range res.Annotations {
				fmt.Fprintln(stdio.Out, "  "+a.String())
			}
		}
		if res.SummaryPath != "" {
			fmt.Fprintf(stdio.Out, "\nJob summary: %s\n", res.SummaryPath)
		}
	}
	if ran == 0 {
		fmt.Fprintf(stdio.Err, "gantry: no workflow in %s is triggered by %s\n", rel(repo, wfPath), event)
		return nil
	}
	printTable(stdio, all, time.Since(start))
	svc.PrintArtifacts(stdio)
	if failed || ctx.Err() != nil {
		return withCode(ExitFailure, nil)
	}
	return nil
}

// selectJobs keeps the workflows that have one of the jobs asked for with
// -j; a job no workflow has is a usage error that lists the jobs there are.
func selectJobs(wfs []*workflow.Workflow, jobs []string) ([]*workflow.Workflow, error) {
	if len(jobs) == 0 {
		return wfs, nil
	}
	var kept []*workflow.Workflow
	found := map[string]bool{}
	for _, wf := range wfs {
		has := false
		for _, id := range jobs {
			if plan.Has(wf, id) {
				found[id], has = true, true
			}
		}
		if has {
			kept = append(kept, wf)
		}
	}
	var all []string
	for _, wf := range wfs {
		all = append(all, plan.JobIDs(wf)...)
	}
	sort.Strings(all)
	for _, id := range jobs {
		if !found[id] {
			return nil, fmt.Errorf("no job %q in any workflow%s; jobs are: %s", id, suggest.Hint(id, all), strings.Join(all, ", "))
		}
	}
	return kept, nil
}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

func printTable(stdio IO, jobs []*scheduler.JobResult, total time.Duration) {
	fmt.Fprintln(stdio.Out)
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tRESULT\tDURATION")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", j.Name, j.Result, j.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(tw, "total\t\t%s\n", total.Round(time.Millisecond))
	_ = tw.Flush()
}

func listWorkflows(stdio IO, wfs []*workflow.Workflow, opts scheduler.Options) error {
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW\tJOB\tNEEDS\tTRIGGERED")
	for _, wf := range wfs {
		p, err := planRun(wf, opts)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		trig := "yes"
		if !p.Triggered {
			trig = "no: " + p.Reason
		}
		name := wf.Name
		if name == "" {
			name = filepath.Base(wf.Path)
		}
		for _, j := range p.Jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, j.ID, strings.Join(j.Needs, ","), trig)
		}
	}
	return tw.Flush()
}

// buildOptions turns flags into engine options.
func buildOptions(ctx context.Context, stdio IO, f *runFlags, repo, event string) (scheduler.Options, error) {
	opts := scheduler.Options{
		RepoDir: repo, Bind: f.bind, EventName: event, DryRun: f.dryRun,
		Out: stdio.Out, Color: stdio.IsTTY && !f.noColor && os.Getenv("NO_COLOR") == "",
		Groups:      os.Getenv("GITHUB_ACTIONS") == "true",
		ActionCache: f.actionCache, ActionMirror: f.actionMirror,
		KeepWorkDir: f.keep, WorkRoot: f.workRoot, Actor: f.actor, Network: f.network,
		Masker: mask.New(),
	}
	var err error
	if f.eventPath != "" {
		if opts.Payload, err = trigger.LoadPayload(f.eventPath); err != nil {
			return opts, err
		}
	}
	if opts.Payload != nil {
		opts.ChangedFiles = changedFiles(ctx, repo, opts.Payload)
	} else {
		// Made once here, so -l and the run judge the trigger on the same payload.
		opts.Payload = trigger.DefaultPayload(ctx, event, repo)
	}
	if opts.Secrets, err = keyValues(f.secrets, f.secretFiles, true); err != nil {
		return opts, fmt.Errorf("secrets: %w", err)
	}
	if opts.Vars, err = keyValues(f.vars, f.varFiles, false); err != nil {
		return opts, fmt.Errorf("vars: %w", err)
	}
	if opts.Inputs, err = keyValues(f.inputs, nil, false); err != nil {
		return opts, fmt.Errorf("inputs: %w", err)
	}
	opts.Matrix = scheduler.MatrixFilter{}
	for _, m := range f.matrix {
		k, v, ok := strings.Cut(m, ":")
		if !ok {
			return opts, fmt.Errorf("--matrix %q: use KEY:VALUE", m)
		}
		// As act's --matrix: a repeated key allows each of its values.
		opts.Matrix[k] = append(opts.Matrix[k], v)
	}
	if opts.Platforms, opts.ActionBuildArgs, err = platforms(repo, f.platforms, f.buildArgs); err != nil {
		return opts, err
	}
	if !f.list && !f.dryRun {
		opts.Containers, opts.NoContainers = containerBackend(ctx)
		if err := applyToolOptions(ctx, stdio, &f.tools, repo, &opts); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

// changedFiles lists the files an event changed: from the payload's commits,
// else from git between the payload's before and after.
func changedFiles(ctx context.Context, repo string, payload map[string]any) []string {
	if commits, ok := payload["commits"].([]any); ok && len(commits) > 0 {
		seen := map[string]bool{}
		var files []string
		for _, c := range commits {
			cm, _ := c.(map[string]any)
			for _, key := range []string{"added", "modified", "removed"} {
				list, _ := cm[key].([]any)
				for _, f := range list {
					if s, ok := f.(string); ok && !seen[s] {
						seen[s] = true
						files = append(files, s)
					}
				}
			}
		}
		if len(files) > 0 {
			sort.Strings(files)
			return files
		}
	}
	before, _ := payload["before"].(string)
	after, _ := payload["after"].(string)
	if pr, ok := payload["pull_request"].(map[string]any); ok {
		base, _ := pr["base"].(map[string]any)
		head, _ := pr["head"].(map[string]any)
		before, _ = base["sha"].(string)
		after, _ = head["sha"].(string)
	}
	if before == "" || after == "" || strings.Trim(before, "0") == "" {
		return nil
	}
	files, err := trigger.ChangedFilesFromGit(ctx, repo, before, after)
	if err != nil {
		return nil
	}
	return files
}

// triggered keeps the workflows this run's event triggers: actions of a
// workflow that will not run need not be in the cache.
func triggered(wfs []*workflow.Workflow, opts scheduler.Options) []*workflow.Workflow {
	var out []*workflow.Workflow
	for _, wf := range wfs {
		p, err := planRun(wf, opts)
		if err != nil || p.Triggered {
			out = append(out, wf) // an error is reported by the run itself
		}
	}
	return out
}

// planRun plans wf for the run's event and -j selection, as -l lists it and
// the action check reads it.
func planRun(wf *workflow.Workflow, opts scheduler.Options) (*plan.Plan, error) {
	return plan.Build(wf, plan.Options{
		Event: trigger.Event{Name: opts.EventName, Payload: opts.Payload, ChangedFiles: opts.ChangedFiles},
		Jobs:  opts.Jobs,
	})
}
