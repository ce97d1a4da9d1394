package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantry-ci/gantry/runner/action"
	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// newRunnerCmd is `gantry runner`: register with a forge, serve its jobs,
// unregister. The protocols come from runner_forges.go.
func newRunnerCmd(stdio IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runner",
		Short: "Serve a forge's jobs as a self-hosted runner (Gitea, Forgejo, GitHub)",
	}
	cmd.AddCommand(newRunnerRegisterCmd(stdio), newRunnerStartCmd(stdio), newRunnerRemoveCmd(stdio), newRunnerScaleCmd(stdio))
	return cmd
}

func defaultRunnerDir() string {
	if dir, err := os.UserConfigDir(); err == nil {
		return filepath.Join(dir, "gantry", "runner")
	}
	return ".gantry-runner"
}

func runnerLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("--log-level %q: use debug, info, warn or error", level))
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, withCode(ExitUsage, fmt.Errorf("--log-format %q: use text or json", format))
}

func newRunnerRegisterCmd(stdio IO) *cobra.Command {
	var (
		url, token, jit, name, dir, kind string
		labels                           []string
		ephemeral, replace               bool
	)
	cmd := &cobra.Command{
		Use:   "register --url URL --token TOKEN",
		Short: "Register this machine as a runner of a forge (non-interactive)",
		Long: `Register this machine as a runner. The forge kind comes from the URL
(github.com and GitHub Enterprise hosts are GitHub, anything else Gitea or
Forgejo) unless --forge says. Labels are NAME:host (run on this machine) or
NAME:docker://IMAGE (run in a fresh container of IMAGE). The token may also
come from $GANTRY_RUNNER_TOKEN, so it stays out of the process list.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token == "" {
				token = os.Getenv("GANTRY_RUNNER_TOKEN")
			}
			if url == "" && jit == "" {
				return withCode(ExitUsage, errors.New("--url is required (the forge, an organisation or a repository URL)"))
			}
			if token == "" && jit == "" {
				return withCode(ExitUsage, errors.New("--token is required (the registration token from the forge's runner settings), or --jit-config on GitHub"))
			}
			if kind == "" {
				kind = forge.Detect(url)
				if jit != "" {
					kind = "github"
				}
			}
			if len(labels) == 0 {
				labels = selfhosted.DefaultLabels
			}
			parsed, err := selfhosted.ParseLabels(labels)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--labels: %w", err))
			}
			if name == "" {
				name, _ = os.Hostname()
			}
			if _, _, err := selfhosted.Load(dir); err == nil && !replace {
				return withCode(ExitUsage, fmt.Errorf("%s already holds a registration; run `gantry runner remove --dir %s` first, or pass --replace", dir, dir))
			}
			log, _ := runnerLogger(stdio.Err, "text", "info")
			proto, err := forge.NewProtocol(kind, forge.Options{Logger: log, Version: Version})
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--forge: %w", err))
			}
			creds, err := proto.Register(cmd.Context(), forge.Registration{
				URL: url, Token: token, JITConfig: jit, Name: name,
				Labels: selfhosted.Names(parsed), Ephemeral: ephemeral, Version: Version,
			})
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("register with %s: %w", url, err))
			}
			if creds.Forge == "" {
				creds.Forge = kind
			}
			if creds.Name == "" {
				creds.Name = name
			}
			strs := make([]string, len(parsed))
			for i, l := range parsed {
				strs[i] = l.String()
			}
			// A JIT runner takes one job: the server forgets it after.
			cfg := &selfhosted.Config{Forge: kind, URL: url, Name: creds.Name, Labels: strs, Ephemeral: ephemeral || jit != ""}
			if err := selfhosted.Save(dir, cfg, creds); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(stdio.Out, "Registered runner %q with %s (%s), labels %s; credentials in %s\n",
				creds.Name, url, kind, strings.Join(strs, ","), dir)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&url, "url", "", "the forge (Gitea/Forgejo instance, GitHub repository or organisation) URL")
	fl.StringVar(&token, "token", "", "registration token (or $GANTRY_RUNNER_TOKEN)")
	fl.StringVar(&jit, "jit-config", "", "GitHub: an encoded just-in-time runner config instead of --url and --token")
	fl.StringVar(&name, "name", "", "runner name (default: the host name)")
	fl.StringSliceVar(&labels, "labels", nil, "labels, comma-separated: NAME:host or NAME:docker://IMAGE (default "+strings.Join(selfhosted.DefaultLabels, ",")+")")
	fl.BoolVar(&ephemeral, "ephemeral", false, "take one job, then unregister")
	fl.StringVar(&dir, "dir", defaultRunnerDir(), "the runner's folder: registration, credentials (mode 0600), in-flight jobs")
	fl.StringVar(&kind, "forge", "", "github or gitea (default: from the URL)")
	fl.BoolVar(&replace, "replace", false, "overwrite a registration already in --dir")
	return cmd
}

func newRunnerStartCmd(stdio IO) *cobra.Command {
	var (
		dir, metricsAddr, logFormat, logLevel, workDir string
		once                                           bool
		capacity                                       int
		grace                                          time.Duration
		actionCache, actionMirror, network             string
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Serve the forge's jobs until SIGTERM",
		Long: `Connect to the forge and run its jobs, --capacity at once, each in a fresh
workspace (and a fresh container for a docker label). On SIGTERM or SIGINT the
runner takes no new jobs, lets running ones finish within --grace, then
cancels them and reports them cancelled. Jobs a previous process left
running (it died) are reported failed at start, never run again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := runnerLogger(stdio.Err, logFormat, logLevel)
			if err != nil {
				return err
			}
			cfg, creds, err := selfhosted.Load(dir)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			labels, err := selfhosted.ParseLabels(cfg.Labels)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("%s: %w", dir, err))
			}
			if capacity < 1 {
				return withCode(ExitUsage, fmt.Errorf("--capacity %d: give at least 1", capacity))
			}
			metrics := selfhosted.NewMetrics()
			proto, err := forge.NewProtocol(cfg.Forge, forge.Options{Logger: log, PollError: metrics.PollError, Version: Version})
			if err != nil {
				return withCode(ExitUsage, err)
			}
			stop, cancel := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer cancel()
			go func() {
				// After the first signal the default handling comes back:
				// a second one ends the process at once (its running jobs
				// are then reported failed at the next start).
				<-stop.Done()
				cancel()
			}()

			if metricsAddr != "" {
				ln, err := net.Listen("tcp", metricsAddr)
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("--metrics %s: %w", metricsAddr, err))
				}
				srv := &http.Server{Handler: metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
				log.Info("metrics listening", "addr", ln.Addr().String())
			}
			containers, noContainers := containerBackend(stop)
			if workDir == "" {
				workDir = filepath.Join(dir, "work")
			}
			exec := &selfhosted.Executor{
				Containers: containers, NoContainers: noContainers,
				Actions:  action.CacheSource{CacheDir: actionCache, Mirror: actionMirror},
				WorkRoot: workDir, Labels: labels, Network: network,
			}
			r := &selfhosted.Runner{
				Protocol: proto, Creds: creds, Labels: labels, Executor: exec, Dir: dir,
				Capacity: capacity, Once: once, Ephemeral: cfg.Ephemeral, Grace: grace,
				Logger: log, Metrics: metrics,
			}
			if err := r.Run(stop); err != nil {
				return withCode(ExitFailure, err)
			}
			if cfg.Ephemeral {
				// The server forgets an ephemeral runner after its job.
				if err := selfhosted.Forget(dir); err != nil {
					log.Warn("forget the ephemeral registration", "err", err)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "dir", defaultRunnerDir(), "the runner's folder (from register)")
	fl.BoolVar(&once, "once", false, "take one job, run it, exit")
	fl.IntVar(&capacity, "capacity", 1, "jobs to run at once")
	fl.StringVar(&metricsAddr, "metrics", "", "serve /metrics and /healthz on ADDR (e.g. 127.0.0.1:9102)")
	fl.DurationVar(&grace, "grace", 5*time.Minute, "on SIGTERM, how long running jobs may go on before they are cancelled")
	fl.StringVar(&logFormat, "log-format", "text", "text or json")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&workDir, "work-dir", "", "where each job's folder is made (default DIR/work)")
	fl.StringVar(&actionCache, "action-cache", "", "folder of actions as OWNER/REPO/REF/ (default ~/.cache/gantry/actions)")
	fl.StringVar(&actionMirror, "action-mirror", "", "git mirror for actions: a folder of OWNER/REPO.git or a URL prefix")
	fl.StringVar(&network, "network", "", "Docker network for job containers (default: Docker's bridge)")
	return cmd
}

func newRunnerRemoveCmd(stdio IO) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Unregister the runner and forget its credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, creds, err := selfhosted.Load(dir)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			log, _ := runnerLogger(stdio.Err, "text", "info")
			proto, err := forge.NewProtocol(cfg.Forge, forge.Options{Logger: log, Version: Version})
			if err != nil {
				return withCode(ExitUsage, err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			if err := proto.Remove(ctx, creds); err != nil {
				return withCode(ExitFailure, fmt.Errorf("unregister: %w", err))
			}
			if err := selfhosted.Forget(dir); err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(stdio.Out, "Removed runner %q (%s) and its credentials in %s\n", cfg.Name, cfg.URL, dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultRunnerDir(), "the runner's folder (from register)")
	return cmd
}
