package buildaction

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Names a program's build variables go by (goreleaser's main.version,
// main.commit and main.date, and the usual spellings in version packages).
var (
	versionNames = map[string]bool{"version": true, "Version": true}
	commitNames  = map[string]bool{"commit": true, "Commit": true, "gitCommit": true, "GitCommit": true, "revision": true, "Revision": true}
	dateNames    = map[string]bool{"date": true, "Date": true, "buildDate": true, "BuildDate": true}
	// Besides main, only packages that exist to hold build information are
	// stamped: a Version elsewhere may be a protocol or API version.
	infoPackages = map[string]bool{"version": true, "buildinfo": true, "build": true}
)

// stampVars are the -X targets found in the program's own packages.
type stampVars struct{ version, commit, date []string }

// findStampVars lists the string variables -X can set in the main packages
// and the main module's version packages they import: package-level, of
// type string, uninitialised or set to a string literal (what -X overrides).
func findStampVars(ctx context.Context, dir string, pkgs []string) (stampVars, error) {
	args := append([]string{"list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}}\t{{.Name}}\t{{.Dir}}\t{{join .GoFiles \",\"}}{{end}}{{end}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stampVars{}, fmt.Errorf("go list -deps: %v\n%s", err, strings.TrimSpace(stderr.String()))
	}
	var sv stampVars
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 4 || (f[1] != "main" && !infoPackages[f[1]]) {
			continue
		}
		prefix := f[0]
		if f[1] == "main" {
			prefix = "main" // -X names a main package's symbols as main.name
		}
		for _, file := range strings.Split(f[3], ",") {
			for _, name := range stringVars(filepath.Join(f[2], file)) {
				sym := prefix + "." + name
				if seen[sym] {
					continue
				}
				seen[sym] = true
				switch {
				case versionNames[name]:
					sv.version = append(sv.version, sym)
				case commitNames[name]:
					sv.commit = append(sv.commit, sym)
				case dateNames[name]:
					sv.date = append(sv.date, sym)
				}
			}
		}
	}
	sort.Strings(sv.version)
	sort.Strings(sv.commit)
	sort.Strings(sv.date)
	return sv, nil
}

// stringVars are a file's package-level string variables -X can set.
func stringVars(path string) []string {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			typed := false
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
				typed = true
			}
			for i, n := range vs.Names {
				switch {
				case len(vs.Values) == 0 && typed:
				case i < len(vs.Values) && isStringLit(vs.Values[i]) && (vs.Type == nil || typed):
				default:
					continue
				}
				if versionNames[n.Name] || commitNames[n.Name] || dateNames[n.Name] {
					out = append(out, n.Name)
				}
			}
		}
	}
	return out
}

func isStringLit(e ast.Expr) bool {
	b, ok := e.(*ast.BasicLit)
	return ok && b.Kind == token.STRING
}

// gitEnv lets git read a checkout owned by another user (an action's
// container runs as root over the runner's files); the checkout is the
// job's own.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=safe.directory", "GIT_CONFIG_VALUE_0=*")
}

// vcsStamping says whether go build can stamp version control information
// (debug.ReadBuildInfo's vcs.revision, vcs.time, vcs.modified and, since Go
// 1.24, the main module's version from a tag): dir is in a git checkout
// git can read.
func vcsStamping(ctx context.Context, dir string) bool {
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain")
	cmd.Dir = dir
	cmd.Env = gitEnv()
	return cmd.Run() == nil
}

// ldflagsFor is the -ldflags of a build: stripped, no build ID, and every
// variable found or named stamped.
func ldflagsFor(c *config, sv stampVars, date string) string {
	parts := []string{"-s", "-w", "-buildid="}
	add := func(syms []string, value string) {
		seen := map[string]bool{}
		for _, s := range syms {
			if s != "" && !seen[s] {
				seen[s] = true
				parts = append(parts, "-X", s+"="+value)
			}
		}
	}
	add(append([]string{c.versionVar}, sv.version...), c.version)
	add(append([]string{c.commitVar}, sv.commit...), c.commit)
	add(sv.date, date)
	if c.ldflags != "" {
		parts = append(parts, c.ldflags)
	}
	return strings.Join(parts, " ")
}
