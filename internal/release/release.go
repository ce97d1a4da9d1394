// Package release publishes the actions: one image per action, built for
// every platform by the build action itself (actions/build with
// image-platforms and push), on a base holding only what that action needs,
// and each action.yml pinned to its pushed multi-arch index by digest
// (docker://IMAGE@sha256:...), so that a job using an action pulls an image
// instead of building the root Dockerfile.
package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/envfile"
	"github.com/gantry-ci/gantry/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// Action is one released action.
type Action struct {
	Name     string
	Packages []string // built into the image besides the dispatcher
	Base     string   // kind of base image: go, git or static
}

// Actions are what a release publishes, each with the least base it needs:
// test and build run the Go toolchain; scan needs git (history, the
// repository root) and, only for Go code, a toolchain: scan carries none (a
// repository without Go needs none), scan-go is the same action with one;
// flag commits with
// git; canary talks HTTP and sockets only.
var Actions = []Action{
	{Name: "build", Packages: []string{"./actions/build"}, Base: "go"},
	{Name: "test", Packages: []string{"./actions/test"}, Base: "go"},
	{Name: "scan", Packages: []string{"./actions/scan", "./actions/scan/cmd/scan-gocode"}, Base: "git"},
	{Name: "scan-go", Packages: []string{"./actions/scan", "./actions/scan/cmd/scan-gocode"}, Base: "go"},
	{Name: "canary", Packages: []string{"./actions/canary"}, Base: "static"},
	{Name: "flag", Packages: []string{"./actions/flag"}, Base: "git"},
}

// DefaultBases are public multi-arch images for github.com.
var DefaultBases = map[string]string{
	"go":     "golang:1.26-bookworm",
	"git":    "buildpack-deps:bookworm-scm",
	"static": "gcr.io/distroless/static-debian12",
}

// Options of a release.
type Options struct {
	Repo      string            // the gantry checkout
	Registry  string            // images are REGISTRY/gantry-NAME, e.g. ghcr.io/gantry-ci
	Version   string            // the release tag, e.g. v1.2.0
	Commit    string            // stamped; default the checkout's HEAD
	Platforms []string          // e.g. linux/amd64, linux/arm64
	Bases     map[string]string // kind -> image; {os} and {arch} are replaced per platform
	Only      []string          // action names; default all
	Push      bool
	Username  string
	Password  string
	VulnDB    string // a vuln.go.dev-layout folder baked into the scan image
	OutDir    string // pinned action.yml files go to OUT/actions/NAME/action.yml
	BuildBin  string // the build action's program; default go run ./actions/build
	Log       io.Writer
}

// Result is one published action.
type Result struct {
	Name, Image, Digest string
	Pinned              string // the pinned action.yml written
}

// Run publishes every action.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Registry == "" || o.Version == "" || len(o.Platforms) == 0 {
		return nil, fmt.Errorf("release: registry, version and platforms are required")
	}
	dockerfile, err := os.ReadFile(filepath.Join(o.Repo, "actions", "release.Dockerfile"))
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	var out []Result
	for _, a := range Actions {
		if len(o.Only) > 0 && !contains(o.Only, a.Name) {
			continue
		}
		r, err := one(ctx, o, a, dockerfile)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", a.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func one(ctx context.Context, o Options, a Action, dockerfile []byte) (Result, error) {
	base := o.Bases[a.Base]
	if base == "" {
		base = DefaultBases[a.Base]
	}
	work, err := os.MkdirTemp("", "gantry-release-"+a.Name+"-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(work)
	// The image context holds only the binaries and the database: the build
	// sends no source.
	imgCtx := filepath.Join(work, "context")
	if err := os.MkdirAll(filepath.Join(imgCtx, "vulndb"), 0o755); err != nil {
		return Result{}, err
	}
	if a.Name == "scan" && o.VulnDB != "" {
		if out, err := exec.CommandContext(ctx, "cp", "-r", o.VulnDB+"/.", filepath.Join(imgCtx, "vulndb")).CombinedOutput(); err != nil {
			return Result{}, fmt.Errorf("copy the vulnerability database: %v %s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(imgCtx, "Dockerfile"), dockerfile, 0o644); err != nil {
		return Result{}, err
	}
	image := strings.TrimSuffix(o.Registry, "/") + "/gantry-" + a.Name
	outputs := filepath.Join(work, "outputs")
	if err := os.WriteFile(outputs, nil, 0o644); err != nil {
		return Result{}, err
	}
	inputs := map[string]string{
		"working-directory": o.Repo,
		"packages":          strings.Join(append(append([]string{}, a.Packages...), "./actions/dispatch"), "\n"),
		"targets":           strings.Join(o.Platforms, ","),
		"version":           o.Version,
		"commit":            o.Commit,
		"output-dir":        filepath.Join(imgCtx, "dist"),
		"archive":           "none",
		"sbom":              "false",
		"image":             image,
		"image-context":     imgCtx,
		"dockerfile":        "Dockerfile",
		"image-platforms":   strings.Join(o.Platforms, ","),
		"image-build-args":  "BASE_IMAGE=" + base,
		"push":              fmt.Sprint(o.Push),
		"registry-username": o.Username,
		"registry-password": o.Password,
	}
	argv := []string{"go", "run", "./actions/build"}
	if o.BuildBin != "" {
		argv = []string{o.BuildBin}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = o.Repo
	cmd.Env = append(os.Environ(), "GITHUB_OUTPUT="+outputs, "GITHUB_STEP_SUMMARY="+filepath.Join(work, "summary"), "CGO_ENABLED=0")
	for k, v := range inputs {
		cmd.Env = append(cmd.Env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.MultiWriter(&log, o.Log), io.MultiWriter(&log, o.Log)
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("the build action failed: %v\n%s", err, lastLines(log.String(), 20))
	}
	f, err := os.Open(outputs)
	if err != nil {
		return Result{}, err
	}
	kvs, err := envfile.ParseKV(f)
	f.Close()
	if err != nil {
		return Result{}, fmt.Errorf("build action outputs: %w", err)
	}
	r := Result{Name: a.Name, Image: image}
	for _, kv := range kvs {
		if kv.Key == "digest" {
			r.Digest = kv.Value
		}
	}
	if !o.Push {
		return r, nil
	}
	if r.Digest == "" {
		return Result{}, fmt.Errorf("the build action pushed no index digest")
	}
	if o.OutDir != "" {
		src := filepath.Join(o.Repo, "actions", a.Name, "action.yml")
		dst := filepath.Join(o.OutDir, "actions", a.Name, "action.yml")
		if err := Pin(src, dst, "docker://"+image+"@"+r.Digest); err != nil {
			return Result{}, err
		}
		r.Pinned = dst
	}
	return r, nil
}

// Pin writes src's action metadata to dst with runs.image set to ref,
// keeping everything else (comments, order, args) as it is.
func Pin(src, dst, ref string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return fmt.Errorf("%s: not an action.yml: %v", src, err)
	}
	runs := yamlnode.MapValue(doc.Content[0], "runs")
	img := yamlnode.MapValue(runs, "image")
	if img == nil || yamlnode.MapValue(runs, "using") == nil || yamlnode.MapValue(runs, "using").Value != "docker" {
		return fmt.Errorf("%s: runs.using docker with runs.image expected", src)
	}
	// Only the value's bytes change: find the line and replace it in the
	// text, which keeps the file byte for byte otherwise.
	lines := strings.SplitAfter(string(data), "\n")
	l := lines[img.Line-1]
	col := img.Column - 1
	end := col + len(img.Value)
	if img.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		end += 2
	}
	if end > len(l) {
		return fmt.Errorf("%s:%d: cannot rewrite runs.image", src, img.Line)
	}
	lines[img.Line-1] = l[:col] + ref + l[end:]
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, []byte(strings.Join(lines, "")), 0o644)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
