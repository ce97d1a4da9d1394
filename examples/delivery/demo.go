package delivery

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
)

// DemoOptions are the demo command's flags.
type DemoOptions struct {
	Repo      string
	Strategy  string // canary or blue-green
	Keep      bool   // leave the stack running until ctx ends
	Verbose   bool   // stream the pipeline's log
	Out       io.Writer
	GoImage   string
	Workspace string // default Repo/.gantry/demo
}

// DemoTuning is the demo's pace: short enough to watch, long enough to see
// every step judged from real traffic.
func DemoTuning(goImage string) Tuning {
	return Tuning{Steps: "10,25,50,100", Interval: "5s", FailureLimit: 1, MinRequests: 10, GuardDuration: "5s", GuardWindow: "15s",
		GoImage: goImage, BaseImage: "gantry/busybox:latest", PostgresImage: "gantry/postgres:15"}
}

// Demo starts the stack, runs a good and a bad release through the
// pipeline and prints what happened. It fails when the story did not
// happen as it should.
func Demo(ctx context.Context, o DemoOptions) error {
	out := o.Out
	e, err := container.Connect(ctx)
	if err != nil {
		return fmt.Errorf("no Docker engine (%v): run scripts/setup.sh", err)
	}
	defer e.Close()
	for _, img := range []string{o.GoImage, "gantry/busybox:latest", "gantry/postgres:15", "gantry/debian:bookworm"} {
		if !e.ImageExists(ctx, img) {
			return fmt.Errorf("image %s is missing: run scripts/setup.sh", img)
		}
	}
	ws := o.Workspace
	if ws == "" {
		ws = filepath.Join(o.Repo, ".gantry", "demo")
	}
	if err := os.RemoveAll(ws); err != nil {
		return err
	}
	began := time.Now()
	fmt.Fprintf(out, "Gantry delivery demo (%s): the shop through .github/workflows/deliver.yml, twice\n", o.Strategy)
	s, err := Start(ctx, e, Options{Repo: o.Repo, Workspace: ws, Name: "shop-demo", Log: out})
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			fmt.Fprintf(out, "clean-up: %v\n", err)
		} else {
			fmt.Fprintln(out, "stack removed (processes stopped, canary containers and pushed images removed)")
		}
	}()
	tune := DemoTuning(o.GoImage)
	fmt.Fprintf(out, "stack ready in %s; the same run by hand:\n  %s\n", time.Since(began).Round(100*time.Millisecond), s.Command(tune, "v2", "0", o.Strategy))

	var problems []string
	runOne := func(version, failRate string) (*Report, error) {
		logPath := filepath.Join(s.Dir, "pipeline-"+version+".log")
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var log io.Writer = f
		if o.Verbose {
			log = io.MultiWriter(f, out)
		}
		fmt.Fprintf(out, "\nrunning the pipeline for %s (fail-rate %s); log: %s\n", version, failRate, rel(o.Repo, logPath))
		r, err := s.Run(ctx, Release{Version: version, FailRate: failRate, Strategy: o.Strategy}, tune, log)
		if err != nil {
			return nil, err
		}
		r.Print(out, o.Repo)
		return r, nil
	}
	good, err := runOne("v2", "0")
	if err != nil {
		return err
	}
	if good.Result != "promoted" || good.After["v2"] != 100 || good.FlagAfter != "on for 10%" {
		problems = append(problems, fmt.Sprintf("good release: rollout %q, traffic %s, flag %q (want promoted, v2 100%%, on for 10%%)", good.Result, shares(good.After), good.FlagAfter))
	}
	bad, err := runOne("v3", "0.5")
	if err != nil {
		return err
	}
	limit := tune.FailureLimit + 1
	if o.Strategy == "blue-green" {
		limit = 2 // the idle colour's analysis, then the one after the switch
	}
	if bad.Result != "rolled-back" || bad.After["v2"] != 100 || bad.FlagAfter != good.FlagAfter || len(bad.Steps) > limit {
		problems = append(problems, fmt.Sprintf("bad release: rollout %q after %d intervals, traffic %s, flag %q (want rolled-back within %d, v2 100%%, flag unchanged)",
			bad.Result, len(bad.Steps), shares(bad.After), bad.FlagAfter, limit))
	}
	fmt.Fprintln(out, "\nfiles of the good release:")
	good.PrintFiles(out, o.Repo)
	fmt.Fprintln(out, "files of the bad release:")
	bad.PrintFiles(out, o.Repo)
	fmt.Fprintf(out, "   logs:    %s/\n", rel(o.Repo, s.Dir))
	fmt.Fprintf(out, "\ndemo finished in %s\n", time.Since(began).Round(time.Second))
	if o.Keep {
		fmt.Fprintf(out, "--keep: the stack keeps running (HAProxy %s, Prometheus %s, Pushgateway %s, registry %s); press Ctrl-C to remove it\n",
			s.Front, s.Prometheus, s.Pushgateway, s.Registry)
		<-ctx.Done()
	}
	if len(problems) > 0 {
		return fmt.Errorf("the demo did not tell its story:\n  %s", strings.Join(problems, "\n  "))
	}
	fmt.Fprintln(out, "result: the good release was promoted and its feature released to 10%; the bad one was rolled back on its own")
	return nil
}

// Command is the gantry command line that runs the same pipeline against
// this stack.
func (s *Stack) Command(t Tuning, version, failRate, strategy string) string {
	vars := s.Vars(t)
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "gantry run workflow_dispatch -C %s -b --network host -W .github/workflows/deliver.yml", s.Opts.Workspace)
	fmt.Fprintf(&b, " --build-arg GO_IMAGE=%s --build-arg RUNTIME_IMAGE=%s --build-arg PREBUILT=1", t.GoImage, t.GoImage)
	for _, k := range keys {
		if vars[k] != "" {
			fmt.Fprintf(&b, " --var %s=%s", k, vars[k])
		}
	}
	b.WriteString(" -s GRAFANA_TOKEN")
	fmt.Fprintf(&b, " --input version=%s --input fail-rate=%s --input strategy=%s", version, failRate, strategy)
	return b.String()
}
