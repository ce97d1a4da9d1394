// Package buildaction is the build action: reproducible Go binaries for a
// list of targets with version stamping, archives, SHA256SUMS and a CycloneDX
// SBOM per binary; or any build command, with checksums of what it made.
package buildaction

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/build/internal/archive"
	"github.com/gantry-ci/gantry/actions/build/internal/image"
	"github.com/gantry-ci/gantry/actions/build/internal/sbom"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

type config struct {
	dir         string
	packages    []string
	targets     []string
	version     string
	commit      string
	versionVar  string
	commitVar   string
	outDir      string
	format      string
	sbom        bool
	command     string
	artifacts   []string
	ldflags     string
	projectName string

	image      string
	imageTags  []string
	dockerfile string
	imageCtx   string
	push       bool
	regUser    string
	regPass    string
	buildArgs  []string
	source     string
	platforms  []image.Platform
}

func inputs(k *actionkit.Kit) *config {
	c := &config{
		dir:         k.String("working-directory", "."),
		packages:    k.List("packages"),
		targets:     k.List("targets"),
		version:     k.String("version", ""),
		commit:      k.String("commit", k.Getenv("GITHUB_SHA")),
		versionVar:  k.String("version-variable", "main.version"),
		commitVar:   k.String("commit-variable", "main.commit"),
		outDir:      k.String("output-dir", "dist"),
		format:      k.OneOf("archive", "tar.gz", "tar.gz", "zip", "none"),
		sbom:        k.Bool("sbom", true),
		command:     k.String("command", ""),
		artifacts:   k.List("artifacts"),
		ldflags:     k.String("ldflags", ""),
		projectName: k.String("name", ""),
		image:       k.String("image", ""),
		imageTags:   k.List("image-tags"),
		dockerfile:  k.String("dockerfile", "Dockerfile"),
		imageCtx:    k.String("image-context", ""),
		push:        k.Bool("push", false),
		regUser:     k.String("registry-username", ""),
		regPass:     k.String("registry-password", ""),
		buildArgs:   k.List("image-build-args"),
		source:      k.String("source-url", ""),
	}
	k.Mask(c.regPass)
	for _, p := range k.List("image-platforms") {
		pl, err := image.ParsePlatform(p)
		if err != nil {
			k.Invalid("image-platforms", "%v", err)
			continue
		}
		c.platforms = append(c.platforms, pl)
	}
	if len(c.targets) == 0 {
		c.targets = []string{"linux/amd64"}
	}
	for _, t := range c.targets {
		if os, arch, ok := strings.Cut(t, "/"); !ok || os == "" || arch == "" {
			k.Invalid("targets", "%q is not GOOS/GOARCH, e.g. linux/amd64", t)
		}
	}
	for _, t := range c.imageTags {
		if ImageTag(t) != t {
			k.Invalid("image-tags", "%q is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -); e.g. %q", t, ImageTag(t))
		}
	}
	if c.command != "" && len(c.artifacts) == 0 {
		k.Invalid("artifacts", "is required with command: list the files the command builds")
	}
	return c
}

// Run is the action.
func Run(k *actionkit.Kit) error {
	c := inputs(k)
	if k.InputErrors() != nil {
		return nil
	}
	ctx := context.Background()
	abs, err := filepath.Abs(c.dir)
	if err != nil {
		return fmt.Errorf("working-directory: %w", err)
	}
	c.dir = abs
	if !filepath.IsAbs(c.outDir) {
		c.outDir = filepath.Join(c.dir, c.outDir)
	}
	if err := os.MkdirAll(c.outDir, 0o755); err != nil {
		return fmt.Errorf("output dir: %w", err)
	}
	if c.version == "" {
		c.version = gitOr(ctx, c.dir, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if c.commit == "" {
		c.commit = gitOr(ctx, c.dir, "unknown", "rev-parse", "HEAD")
	}
	mtime := sourceTime(ctx, c.dir, k.Getenv("SOURCE_DATE_EPOCH"))
	var arts []artifact
	if c.command != "" {
		arts, err = runCommand(ctx, k, c)
	} else {
		arts, err = buildGo(ctx, k, c, mtime)
	}
	if err != nil {
		return err
	}
	sums, err := writeSums(c.outDir, arts)
	if err != nil {
		return err
	}
	if c.image != "" {
		if err := buildImage(ctx, k, c, mtime); err != nil {
			return err
		}
	}
	var list []string
	for _, a := range arts {
		list = append(list, a.path)
	}
	k.SetOutput("artifacts", strings.Join(list, "\n"))
	k.SetOutput("checksums", sums)
	k.SetOutput("version", c.version)
	var rows [][]string
	for _, a := range arts {
		rows = append(rows, []string{a.kind, a.target, relTo(c.dir, a.path), strconv.FormatInt(a.size, 10), a.sha[:12]})
	}
	k.Summary(fmt.Sprintf("## 📦 Build %s (%s)\n\n", c.version, shortCommit(c.commit)) +
		actionkit.Table([]string{"kind", "target", "file", "bytes", "sha256"}, rows) +
		fmt.Sprintf("\nChecksums: `%s`\n", relTo(c.dir, sums)))
	return nil
}

type artifact struct {
	kind, target, path, sha string
	size                    int64
}

func shortCommit(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

func gitOr(ctx context.Context, dir, def string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return def
	}
	return strings.TrimSpace(string(out))
}

// sourceTime fixes every timestamp in the archives: SOURCE_DATE_EPOCH, else
// the commit time, else the Unix epoch — never the wall clock.
func sourceTime(ctx context.Context, dir, epoch string) time.Time {
	if n, err := strconv.ParseInt(epoch, 10, 64); err == nil {
		return time.Unix(n, 0).UTC()
	}
	if s := gitOr(ctx, dir, "", "log", "-1", "--format=%ct"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

// mainPackages lists the main packages matching the patterns.
func mainPackages(ctx context.Context, dir string, patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	args := append([]string{"list", "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}"}, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", strings.Join(patterns, " "), err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			pkgs = append(pkgs, l)
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no main packages match %s; set packages to the commands to build", strings.Join(patterns, " "))
	}
	return pkgs, nil
}

func buildGo(ctx context.Context, k *actionkit.Kit, c *config, mtime time.Time) ([]artifact, error) {
	pkgs, err := mainPackages(ctx, c.dir, c.packages)
	if err != nil {
		return nil, err
	}
	name := c.projectName
	if name == "" {
		name = execName(pkgs[0])
		if len(pkgs) > 1 {
			abs, _ := filepath.Abs(c.dir)
			name = filepath.Base(abs)
		}
	}
	sv, err := findStampVars(ctx, c.dir, pkgs)
	if err != nil {
		return nil, err
	}
	ldflags := ldflagsFor(c, sv, mtime.Format(time.RFC3339))
	buildvcs := "-buildvcs=false"
	if vcsStamping(ctx, c.dir) {
		buildvcs = "-buildvcs=true"
	}
	k.Logf("stamping: version %s into %s; commit into %s; date into %s; %s", c.version,
		strings.Join(append([]string{c.versionVar}, sv.version...), ", "), strings.Join(append([]string{c.commitVar}, sv.commit...), ", "), orNone(sv.date), buildvcs)
	// Every target is built before anything is written to the output folder:
	// files appearing in the checkout would make the next target's VCS
	// stamp say "modified".
	tmp, err := os.MkdirTemp("", "gantry-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, t := range c.targets {
		goos, goarch, _ := strings.Cut(t, "/")
		bdir := filepath.Join(tmp, goos+"_"+goarch)
		// One go build per target: the toolchain links the binaries in parallel.
		err := k.Group(fmt.Sprintf("build %s for %s", strings.Join(pkgs, " "), t), func() error {
			args := append([]string{"build", "-trimpath", buildvcs, "-ldflags", ldflags, "-o", bdir + string(filepath.Separator)}, pkgs...)
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = c.dir
			cmd.Env = append(gitEnv(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
			var outb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &outb, &outb
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("build for %s: %v\n%s", t, err, strings.TrimSpace(outb.String()))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var arts []artifact
	for _, t := range c.targets {
		goos, goarch, _ := strings.Cut(t, "/")
		tdir := filepath.Join(c.outDir, goos+"_"+goarch)
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			return nil, err
		}
		var files []archive.File
		for _, p := range pkgs {
			bin := execName(p)
			if goos == "windows" {
				bin += ".exe"
			}
			if err := moveFile(filepath.Join(tmp, goos+"_"+goarch, bin), filepath.Join(tdir, bin)); err != nil {
				return nil, err
			}
		}
		for _, p := range pkgs {
			bin := execName(p)
			if goos == "windows" {
				bin += ".exe"
			}
			out := filepath.Join(tdir, bin)
			a, err := describe("binary", t, out)
			if err != nil {
				return nil, err
			}
			arts = append(arts, a)
			files = append(files, archive.File{Name: bin, Path: out})
			if c.sbom {
				b, err := sbom.ForBinary(out, c.version)
				if err != nil {
					return nil, err
				}
				sp := out + ".cdx.json"
				if err := sbom.Write(sp, b); err != nil {
					return nil, err
				}
				sa, err := describe("sbom", t, sp)
				if err != nil {
					return nil, err
				}
				arts = append(arts, sa)
			}
		}
		if c.format == "none" {
			continue
		}
		format := c.format
		if goos == "windows" {
			format = "zip"
		}
		ap := filepath.Join(c.outDir, fmt.Sprintf("%s_%s_%s_%s.%s", name, strings.TrimPrefix(c.version, "v"), goos, goarch, format))
		if format == "zip" {
			err = archive.Zip(ap, files, mtime)
		} else {
			err = archive.TarGz(ap, files, mtime)
		}
		if err != nil {
			return nil, fmt.Errorf("archive %s: %w", t, err)
		}
		a, err := describe("archive", t, ap)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	return arts, nil
}

// runCommand runs the user's build command and collects the files it names.
func runCommand(ctx context.Context, k *actionkit.Kit, c *config) ([]artifact, error) {
	err := k.Group("build: "+c.command, func() error {
		cmd := exec.CommandContext(ctx, "bash", "-c", c.command)
		cmd.Dir = c.dir
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "VERSION="+c.version, "COMMIT="+c.commit)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build command failed: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var arts []artifact
	seen := map[string]bool{}
	for _, pattern := range c.artifacts {
		p := pattern
		if !filepath.IsAbs(p) {
			p = filepath.Join(c.dir, p)
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("artifacts pattern %q: %w", pattern, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("artifacts pattern %q matched no file; did the build command write it?", pattern)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if fi, err := os.Stat(m); err != nil || fi.IsDir() || seen[m] {
				continue
			}
			seen[m] = true
			a, err := describe("file", "", m)
			if err != nil {
				return nil, err
			}
			arts = append(arts, a)
		}
	}
	return arts, nil
}

func describe(kind, target, p string) (artifact, error) {
	f, err := os.Open(p)
	if err != nil {
		return artifact{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return artifact{}, err
	}
	return artifact{kind: kind, target: target, path: p, sha: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

// writeSums writes SHA256SUMS (sha256sum's format) for every artifact.
func writeSums(outDir string, arts []artifact) (string, error) {
	var b strings.Builder
	sorted := append([]artifact(nil), arts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	for _, a := range sorted {
		fmt.Fprintf(&b, "%s  %s\n", a.sha, relTo(outDir, a.path))
	}
	p := filepath.Join(outDir, "SHA256SUMS")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("write SHA256SUMS: %w", err)
	}
	return p, nil
}

// buildImage builds the container image with OCI annotations and pushes it.
func buildImage(ctx context.Context, k *actionkit.Kit, c *config, created time.Time) error {
	ctxDir := c.imageCtx
	if ctxDir == "" {
		ctxDir = c.dir
	} else if !filepath.IsAbs(ctxDir) {
		ctxDir = filepath.Join(c.dir, ctxDir)
	}
	source := c.source
	if source == "" && k.Getenv("GITHUB_REPOSITORY") != "" {
		server := k.Getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		source = server + "/" + k.Getenv("GITHUB_REPOSITORY")
	}
	labels := map[string]string{
		"org.opencontainers.image.revision": c.commit,
		"org.opencontainers.image.version":  c.version,
		"org.opencontainers.image.created":  created.Format(time.RFC3339),
	}
	if source != "" {
		labels["org.opencontainers.image.source"] = source
	}
	tags := []string{c.image + ":" + ImageTag(c.version)}
	for _, t := range c.imageTags {
		tags = append(tags, c.image+":"+t)
	}
	args := map[string]string{}
	for _, a := range c.buildArgs {
		key, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("input 'image-build-args': %q is not KEY=VALUE", a)
		}
		args[key] = v
	}
	if len(c.platforms) > 0 {
		return buildPlatforms(ctx, k, c, ctxDir, tags, labels, args)
	}
	var res *image.Result
	err := k.Group("image "+tags[0], func() error {
		var err error
		res, err = image.Build(ctx, image.Spec{Context: ctxDir, Dockerfile: c.dockerfile, Tags: tags, Labels: labels,
			BuildArgs: args, Push: c.push, Username: c.regUser, Password: c.regPass, Log: io.Discard})
		return err
	})
	if err != nil {
		return err
	}
	k.SetOutput("image", tags[0])
	k.SetOutput("image-id", res.ID)
	if res.Digest != "" {
		k.SetOutput("digest", res.Digest)
	}
	pushed := "built"
	if c.push {
		pushed = "pushed " + res.Digest
	}
	k.Summary(fmt.Sprintf("\n🐳 Image `%s` %s\n", strings.Join(tags, "`, `"), pushed))
	return nil
}

// ImageTag turns a version into a valid image tag: characters Docker does
// not allow in tags (such as semver's "+") become "-".
func ImageTag(version string) string {
	b := []byte(version)
	for i, ch := range b {
		ok := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-'
		if !ok {
			b[i] = '-'
		}
	}
	tag := strings.TrimLeft(string(b), ".-")
	if len(tag) > 128 {
		tag = tag[:128]
	}
	if tag == "" {
		return "latest"
	}
	return tag
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// execName is the file name go build gives a main package's binary: the last
// path element, or the one before a major-version suffix (cmd/tool/v2).
func execName(importPath string) string {
	elem := path.Base(importPath)
	if dir := path.Dir(importPath); majorVersion.MatchString(elem) && dir != "." {
		return path.Base(dir)
	}
	return elem
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none found)"
	}
	return strings.Join(s, ", ")
}

// moveFile renames, or copies across file systems.
func moveFile(from, to string) error {
	if err := os.Rename(from, to); err == nil {
		return nil
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("move %s: %w", from, err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		return fmt.Errorf("move %s: %w", from, err)
	}
	return os.Remove(from)
}

// buildPlatforms builds one image per platform and, when pushing, an index
// of them: the digest output is the index's, what a multi-arch reference
// (docker://image@sha256:...) pins.
func buildPlatforms(ctx context.Context, k *actionkit.Kit, c *config, ctxDir string, tags []string, labels, args map[string]string) error {
	var names []string
	for _, p := range c.platforms {
		names = append(names, p.String())
	}
	var res *image.MultiResult
	err := k.Group(fmt.Sprintf("image %s for %s", tags[0], strings.Join(names, ", ")), func() error {
		var err error
		res, err = image.BuildPlatforms(ctx, image.Spec{Context: ctxDir, Dockerfile: c.dockerfile, Tags: tags, Labels: labels,
			BuildArgs: args, Push: c.push, Username: c.regUser, Password: c.regPass, Log: io.Discard}, c.platforms)
		return err
	})
	if err != nil {
		return err
	}
	k.SetOutput("image", tags[0])
	var rows [][]string
	for _, p := range names {
		rows = append(rows, []string{p, res.Platforms[p]})
	}
	what := "built"
	if res.Digest != "" {
		k.SetOutput("digest", res.Digest)
		what = "pushed as the index " + res.Digest
	}
	k.Summary(fmt.Sprintf("\n🐳 Image `%s` %s\n\n", strings.Join(tags, "`, `"), what) + actionkit.Table([]string{"platform", "image"}, rows))
	return nil
}
