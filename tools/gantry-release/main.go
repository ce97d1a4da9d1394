// Command gantry-release publishes the actions' images and pins their
// action.yml files to them (see internal/release):
//
//	go run ./tools/gantry-release -registry ghcr.io/gantry-ci -version v1.2.0 \
//	    -platforms linux/amd64,linux/arm64 -push -out .
//
// Credentials come from GANTRY_REGISTRY_USERNAME and GANTRY_REGISTRY_PASSWORD.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/gantry-ci/gantry/internal/release"
)

func main() {
	var o release.Options
	var platforms, bases, only string
	flag.StringVar(&o.Repo, "repo", ".", "the gantry checkout")
	flag.StringVar(&o.Registry, "registry", "", "where the images go: REGISTRY/gantry-NAME (e.g. ghcr.io/gantry-ci)")
	flag.StringVar(&o.Version, "version", "", "the release tag (e.g. v1.2.0)")
	flag.StringVar(&o.Commit, "commit", "", "the commit stamped (default HEAD)")
	flag.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "platforms of every image")
	flag.StringVar(&bases, "base", "", "base images as KIND=IMAGE,... (kinds: go, git, static; {os} and {arch} are replaced)")
	flag.StringVar(&only, "only", "", "release only these actions (comma separated)")
	flag.BoolVar(&o.Push, "push", false, "push the images and the multi-arch indexes")
	flag.StringVar(&o.VulnDB, "vuln-db", "", "a Go vulnerability database folder to bake into the scan image")
	flag.StringVar(&o.OutDir, "out", "", "write pinned actions/NAME/action.yml files under this folder (. rewrites the checkout's)")
	flag.StringVar(&o.BuildBin, "build-action", "", "the build action's program (default go run ./actions/build)")
	flag.Parse()
	o.Platforms = split(platforms)
	o.Only = split(only)
	o.Bases = map[string]string{}
	for _, b := range split(bases) {
		k, v, ok := strings.Cut(b, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "gantry-release: -base %q is not KIND=IMAGE\n", b)
			os.Exit(2)
		}
		o.Bases[k] = v
	}
	o.Username, o.Password = os.Getenv("GANTRY_REGISTRY_USERNAME"), os.Getenv("GANTRY_REGISTRY_PASSWORD")
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := release.Run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gantry-release: %v\n", err)
		os.Exit(1)
	}
	for _, r := range res {
		fmt.Printf("%s\t%s@%s\t%s\n", r.Name, r.Image, r.Digest, r.Pinned)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
