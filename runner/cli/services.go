package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/services"
	"github.com/gantry-ci/gantry/runner/trigger"
	"github.com/spf13/pflag"
)

// serviceFlags configure the runtime services of a run (cache, artifacts).
type serviceFlags struct {
	cacheDir   string
	cacheMaxMB int64
}

func addServiceFlags(fl *pflag.FlagSet, f *serviceFlags) {
	fl.StringVar(&f.cacheDir, "cache-dir", "", "where actions/cache entries are kept, shared by runs (default ~/.cache/gantry/cache)")
	fl.Int64Var(&f.cacheMaxMB, "cache-max-mb", 10240, "size limit of the cache folder in MB; the least recently used entries go first")
}

// runServices are the cache and artifact services of one `gantry run`.
type runServices struct {
	svc     *services.Services
	repoDir string
	runID   string
}

// startServices starts the services and hands their environment to every
// job through opts; containers get an address of this machine they reach.
func startServices(ctx context.Context, stdio IO, f *serviceFlags, repo, event string, opts *scheduler.Options) (*runServices, error) {
	if opts.RunID == 0 {
		opts.RunID = uniqueRunID(time.Now().UnixNano() / 1e6 % 1e10)
	}
	runID := strconv.FormatInt(opts.RunID, 10)
	gh := trigger.GitHubContext(ctx, trigger.ContextOptions{EventName: event, Payload: opts.Payload, RepoDir: repo})
	str := func(k string) string { s, _ := gh[k].(string); return s }
	scopes := []string{str("ref")}
	if b := str("base_ref"); b != "" {
		scopes = append(scopes, "refs/heads/"+b)
	}
	def := ""
	if r, ok := opts.Payload["repository"].(map[string]any); ok {
		def, _ = r["default_branch"].(string)
	}
	if def == "" {
		def = trigger.RepoInfo(ctx, repo).DefaultBranch
	}
	if def != "" {
		scopes = append(scopes, "refs/heads/"+def)
	}
	cfg := services.Config{
		RunID: runID, Repo: str("repository"), Scopes: scopes,
		CacheDir: f.cacheDir, CacheMaxBytes: f.cacheMaxMB << 20,
		ArtifactDir: filepath.Join(repo, ".gantry", "artifacts", runID),
		Log:         func(msg string) { fmt.Fprintln(stdio.Err, "gantry: "+msg) },
	}
	if opts.Containers != nil {
		cfg.ContainerHost = bridgeAddress(ctx)
	}
	svc, err := services.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start the cache and artifact services: %w", err)
	}
	opts.Env = merge(opts.Env, svc.Env)
	opts.ContainerEnv = merge(opts.ContainerEnv, svc.ContainerEnv)
	if opts.Masker != nil {
		opts.Masker.Add(svc.Token)
	}
	return &runServices{svc: svc, repoDir: repo, runID: runID}, nil
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// bridgeAddress is this machine's address on Docker's default bridge,
// which containers of every bridge network reach (127.0.0.1 is their own);
// "" when the engine is elsewhere.
func bridgeAddress(ctx context.Context) string {
	e, err := container.Connect(ctx)
	if err != nil {
		return ""
	}
	defer e.Close()
	subnets, err := e.BridgeSubnets(ctx)
	if err != nil {
		return ""
	}
	return services.LocalAddressIn(subnets)
}

// Close stops the services.
func (s *runServices) Close() {
	if s != nil {
		s.svc.Close()
	}
}

// PrintArtifacts lists the run's artifacts with their sizes.
func (s *runServices) PrintArtifacts(stdio IO) {
	if s == nil {
		return
	}
	list := s.svc.Artifacts.List()
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(stdio.Out, "\nArtifacts (%s):\n", rel(s.repoDir, filepath.Join(s.repoDir, ".gantry", "artifacts", s.runID)))
	for _, a := range list {
		fmt.Fprintf(stdio.Out, "  %-30s %10s  %s\n", a.Name, humanSize(a.Size), a.File())
	}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
