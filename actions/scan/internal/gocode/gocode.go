// Package gocode finds insecure Go code with gosec's rules and analyzers,
// embedded as a library; #nosec suppressions are honoured.
package gocode

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"github.com/securego/gosec/v2/rules"
)

// vendored matches package dirs that are not the module's own code.
var vendored = regexp.MustCompile(`(^|/)(vendor|testdata)(/|$)`)

// mu serialises runs: gosec's analyzer keeps package-level state.
var mu sync.Mutex

// Scan analyses every Go package under root (each go.mod is a module).
// GOCACHE should point at a kept cache: a cold run is many times slower.
func Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	// gosec reports absolute file names and loads packages from the working
	// directory: relative roots lose every file (and every package once the
	// scanner changes directory).
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	mods, err := modules(root, skip)
	if err != nil || len(mods) == 0 {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	var out []finding.Finding
	for _, mod := range mods {
		fs, err := scanModule(root, mod, skip)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	// gosec reports in the order its goroutines finish.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Rule.ID < b.Rule.ID
	})
	return out, nil
}

func modules(root string, skip func(string) bool) ([]string, error) {
	var mods []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "vendor" || d.Name() == "testdata" || (rel != "." && skip != nil && skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" {
			mods = append(mods, filepath.Dir(p))
		}
		return nil
	})
	return mods, err
}

func scanModule(root, mod string, skip func(string) bool) ([]finding.Finding, error) {
	paths, err := gosec.PackagePaths(mod+"/...", nil)
	if err != nil {
		return nil, fmt.Errorf("list packages of %s: %w", mod, err)
	}
	var keep []string
	for _, p := range paths {
		inMod, _ := filepath.Rel(mod, p)
		if vendored.MatchString(filepath.ToSlash(inMod)) {
			continue
		}
		rel, _ := filepath.Rel(root, p)
		if skip == nil || !skip(filepath.ToSlash(rel)) {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return nil, nil
	}
	// gosec loads packages relative to the working directory.
	wd, _ := os.Getwd()
	if err := os.Chdir(mod); err != nil {
		return nil, err
	}
	defer func() { _ = os.Chdir(wd) }()
	a := gosec.NewAnalyzer(gosec.NewConfig(), false, true, true, 2, log.New(io.Discard, "", 0))
	a.LoadRules(rules.Generate(true).RulesInfo())
	a.LoadAnalyzers(analyzers.Generate(true).AnalyzersInfo())
	if err := a.Process(nil, keep...); err != nil {
		return nil, fmt.Errorf("gosec: %w", err)
	}
	issues, _, _ := a.Report()
	var out []finding.Finding
	for _, is := range issues {
		if is.NoSec || len(is.Suppressions) > 0 {
			continue
		}
		rel, err := filepath.Rel(root, is.File)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a file outside the tree (generated, cgo)
		}
		line, _ := strconv.Atoi(strings.SplitN(is.Line, "-", 2)[0])
		col, _ := strconv.Atoi(is.Col)
		sev := map[issue.Score]string{issue.High: "high", issue.Medium: "medium", issue.Low: "low"}[is.Severity]
		if is.Confidence == issue.Low && sev != "low" {
			sev = "low" // unsure findings should not fail builds
		}
		help := "See https://securego.io/docs/rules/" + strings.ToLower(is.RuleID) + ".html"
		if is.Cwe != nil {
			help += " (" + is.Cwe.ID + ": " + is.Cwe.Name + ")"
		}
		f := finding.Finding{Scanner: "gocode", Rule: finding.Rule{ID: "go/" + is.RuleID, Name: is.What, Severity: sev, Help: help},
			Message: is.What, File: filepath.ToSlash(rel), Line: line, Col: col, Identity: strings.TrimSpace(codeLine(is.Code))}
		f.Finish()
		out = append(out, f)
	}
	return out, nil
}

// codeLine is the flagged line out of gosec's "N: code" snippet.
func codeLine(code string) string {
	for _, l := range strings.Split(code, "\n") {
		if _, rest, ok := strings.Cut(l, ": "); ok {
			return rest
		}
	}
	return code
}
