package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/fleet"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// newRunnerScaleCmd is `gantry runner scale`: a small autoscaler keeping up
// to --max-runners ephemeral runners (runner/fleet) serving one forge.
func newRunnerScaleCmd(stdio IO) *cobra.Command {
	var (
		url, token, kind, dir, prefix, logFormat, logLevel, workDir string
		actionCache, actionMirror, network                          string
		labels                                                      []string
		maxRunners                                                  int
		group                                                       int64
		grace                                                       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "scale --url URL --token TOKEN --max-runners N",
		Short: "Keep up to N ephemeral runners serving the forge's queue",
		Long: `Keep up to --max-runners ephemeral runners alive, in this process: each is
registered anew (GitHub: a just-in-time config generated with --token, which
must be allowed to manage the repository's or organisation's runners; Gitea
and Forgejo: an ephemeral registration with the registration token), takes
one job and ends, and another takes its place. On SIGTERM idle runners stop
at once, running jobs get --grace to finish, and every runner is removed from
the forge where its protocol allows (Gitea cannot remove a runner that never
took a task: delete those in the web UI). The token may come from
$GANTRY_RUNNER_TOKEN; it is never logged nor saved.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := runnerLogger(stdio.Err, logFormat, logLevel)
			if err != nil {
				return err
			}
			if token == "" {
				token = os.Getenv("GANTRY_RUNNER_TOKEN")
			}
			switch {
			case url == "":
				return withCode(ExitUsage, errors.New("--url is required (the Gitea/Forgejo instance, or the GitHub repository or organisation)"))
			case token == "":
				return withCode(ExitUsage, errors.New("--token is required (Gitea: a registration token; GitHub: a token that may create runners), or $GANTRY_RUNNER_TOKEN"))
			case maxRunners < 1:
				return withCode(ExitUsage, fmt.Errorf("--max-runners %d: give at least 1", maxRunners))
			}
			if kind == "" {
				kind = forge.Detect(url)
			}
			if len(labels) == 0 {
				labels = selfhosted.DefaultLabels
			}
			parsed, err := selfhosted.ParseLabels(labels)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--labels: %w", err))
			}
			if prefix == "" {
				host, _ := os.Hostname()
				prefix = "gantry-" + host
			}
			proto, err := forge.NewProtocol(kind, forge.Options{Logger: log, Version: Version})
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--forge: %w", err))
			}
			var prov fleet.Provisioner
			switch kind {
			case "github":
				g, err := fleet.NewGitHubJIT(proto, url, token, nil, selfhosted.Names(parsed))
				if err != nil {
					return withCode(ExitUsage, err)
				}
				g.RunnerGroupID = group
				prov = g
			default:
				prov = &fleet.GiteaEphemeral{Protocol: proto, URL: url, Token: token, Labels: selfhosted.Names(parsed), Version: Version}
			}
			stop, cancel := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer cancel()
			go func() { <-stop.Done(); cancel() }() // a second signal ends the process at once
			containers, noContainers := containerBackend(stop)
			if workDir == "" {
				workDir = filepath.Join(dir, "work")
			}
			exec := &selfhosted.Executor{
				Containers: containers, NoContainers: noContainers,
				Actions:  action.CacheSource{CacheDir: actionCache, Mirror: actionMirror},
				WorkRoot: workDir, Labels: parsed, Network: network,
			}
			s := &fleet.Supervisor{Max: maxRunners, Dir: dir, Prefix: prefix, Protocol: proto, Provisioner: prov,
				Labels: parsed, Executor: exec, Grace: grace, Logger: log}
			err = s.Run(stop)
			_ = os.Remove(workDir) // empty once every job's folder is gone
			_ = os.Remove(dir)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "the forge: Gitea/Forgejo instance, or GitHub repository/organisation URL")
	fl.StringVar(&token, "token", "", "Gitea: registration token; GitHub: token allowed to create runners (or $GANTRY_RUNNER_TOKEN)")
	fl.StringVar(&kind, "forge", "", "github or gitea (default: from the URL)")
	fl.IntVar(&maxRunners, "max-runners", 1, "ephemeral runners (and so jobs) at once")
	fl.StringVar(&dir, "dir", filepath.Join(os.TempDir(), "gantry-fleet"), "folder for the runners' folders and job work, removed as they end")
	fl.StringVar(&prefix, "name-prefix", "", "runner names are PREFIX-<random> (default gantry-HOSTNAME)")
	fl.StringSliceVar(&labels, "labels", nil, "labels, comma-separated: NAME:host or NAME:docker://IMAGE (default "+strings.Join(selfhosted.DefaultLabels, ",")+")")
	fl.Int64Var(&group, "runner-group-id", 1, "GitHub: the runner group of the runners")
	fl.DurationVar(&grace, "grace", 5*time.Minute, "on SIGTERM, how long running jobs may go on before they are cancelled")
	fl.StringVar(&logFormat, "log-format", "text", "text or json")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&workDir, "work-dir", "", "where each job's folder is made (default DIR/work)")
	fl.StringVar(&actionCache, "action-cache", "", "folder of actions as OWNER/REPO/REF/ (default ~/.cache/gantry/actions)")
	fl.StringVar(&actionMirror, "action-mirror", "", "git mirror for actions: a folder of OWNER/REPO.git or a URL prefix")
	fl.StringVar(&network, "network", "", "Docker network for job containers (default: Docker's bridge)")
	return cmd
}
