// Package scanaction is the security scan action: it runs the scanners,
// applies the policy, and reports findings as SARIF, annotations, a summary
// and outputs.
package scanaction

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/dockerfiles"
	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/gantry-ci/gantry/actions/scan/internal/gocoderun"
	"github.com/gantry-ci/gantry/actions/scan/internal/policy"
	"github.com/gantry-ci/gantry/actions/scan/internal/sarif"
	"github.com/gantry-ci/gantry/actions/scan/internal/secrets"
	"github.com/gantry-ci/gantry/actions/scan/internal/vulndeps"
	"github.com/gantry-ci/gantry/actions/scan/internal/workflows"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// scanners by name.
var scanners = map[string]func(root string, skip func(string) bool) ([]finding.Finding, error){
	"secrets":     secrets.Scan,
	"workflows":   workflows.Scan,
	"dockerfiles": dockerfiles.Scan,
	"gocode":      gocoderun.Scan,
	"vulns":       nil, // needs the database: set up in Run
}

// order is the order scanners run and report in.
var order = []string{"secrets", "workflows", "dockerfiles", "gocode", "vulns"}

type config struct {
	root          string
	scanners      []string
	failOn        string
	baseline      string
	writeBaseline string
	excludes      []string
	sarifFile     string
	vulnDB        string
	history       bool
	since         string
	allowUnpinned []string
}

func inputs(k *actionkit.Kit) (*config, error) {
	c := &config{
		root:          k.String("path", "."),
		scanners:      k.List("scanners"),
		failOn:        k.OneOf("fail-on", "high", "critical", "high", "medium", "low", "none"),
		baseline:      k.String("baseline", ".gantry/scan-baseline.json"),
		writeBaseline: k.String("write-baseline", ""),
		excludes:      k.List("excludes"),
		sarifFile:     k.String("sarif-file", "gantry-scan.sarif"),
		vulnDB:        k.String("vuln-db", ""),
		history:       k.Bool("history", false),
		since:         k.String("since", ""),
		allowUnpinned: k.List("allow-unpinned"),
	}
	// The Go scanners type-check packages: a kept build cache makes a warm
	// run many times faster than a cold one.
	if cache := k.String("go-cache", ""); cache != "" {
		abs, err := filepath.Abs(cache)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("input 'go-cache': %w", err)
		}
		os.Setenv("GOCACHE", abs)
	}
	if len(c.scanners) == 0 {
		c.scanners = order
	}
	for _, s := range c.scanners {
		if _, ok := scanners[s]; !ok {
			k.Invalid("scanners", "unknown scanner %q; available: %s", s, strings.Join(order, ", "))
		}
	}
	cfgPath := k.String("config", filepath.Join(c.root, ".gantry", "scan.yml"))
	cfg, err := policy.LoadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		// An organisation's enforced config wins over what a workflow asks.
		pick := func(input string, fromCfg string) string {
			if fromCfg != "" && (cfg.Enforce || input == "") {
				return fromCfg
			}
			return input
		}
		c.failOn = pick(c.failOn, cfg.FailOn)
		c.baseline = pick(c.baseline, cfg.Baseline)
		c.excludes = append(c.excludes, cfg.Excludes...)
		if cfg.Enforce {
			c.allowUnpinned = cfg.AllowUnpinned // the organisation decides what is trusted
		} else {
			c.allowUnpinned = append(c.allowUnpinned, cfg.AllowUnpinned...)
		}
		if cfg.Enforce && len(cfg.Scanners) > 0 {
			c.scanners = cfg.Scanners
		}
		if cfg.Enforce {
			k.Logf("policy enforced by %s: fail-on %s", cfgPath, c.failOn)
		}
	}
	return c, nil
}

// Run is the action.
func Run(k *actionkit.Kit) error {
	c, err := inputs(k)
	if err != nil {
		return err
	}
	if k.InputErrors() != nil {
		return nil
	}
	skip, err := policy.Excluder(c.excludes)
	if err != nil {
		return err
	}
	loc, err := newLocator(k.Getenv("GITHUB_WORKSPACE"), c.root)
	if err != nil {
		return err
	}
	if loc.outside {
		k.Logf("path %s is outside the workspace %s: locations are relative to it", loc.root, loc.workspace)
	}
	run := map[string]func(string, func(string) bool) ([]finding.Finding, error){}
	for name, fn := range scanners {
		run[name] = fn
	}
	run["workflows"] = (&workflows.Policy{AllowUnpinned: c.allowUnpinned}).Scan
	run["vulns"] = func(root string, skip func(string) bool) ([]finding.Finding, error) {
		db, err := vulndeps.Locate(c.vulnDB)
		if errors.Is(err, vulndeps.ErrNoDB) {
			// Air-gapped runners without a database still get the other scanners.
			k.Annotate(actionkit.Annotation{Level: "warning", Title: "vulnerable dependencies not checked", Message: err.Error()})
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return vulndeps.Scan(context.Background(), root, db, skip)
	}
	if c.history || c.since != "" {
		run["secrets"] = func(root string, skip func(string) bool) ([]finding.Finding, error) {
			tree, err := secrets.Scan(root, skip)
			if err != nil {
				return nil, err
			}
			past, err := secrets.History(context.Background(), root, c.since)
			if err != nil {
				return nil, err
			}
			loc.rebase(past, loc.gitToRoot())
			seen := map[string]bool{}
			for _, f := range tree {
				seen[f.Fingerprint] = true
			}
			for _, f := range past {
				if !seen[f.Fingerprint] && (skip == nil || !skip(f.File)) {
					seen[f.Fingerprint] = true
					tree = append(tree, f)
				}
			}
			return tree, nil
		}
	}
	// The released scan image carries no Go toolchain (a repository without
	// Go needs none); Go code then gets a warning instead of a failure.
	for _, name := range []string{"gocode", "vulns"} {
		fn := run[name]
		run[name] = func(root string, skip func(string) bool) ([]finding.Finding, error) {
			if _, err := exec.LookPath("go"); err != nil && hasGoModule(root, skip) {
				k.Annotate(actionkit.Annotation{Level: "warning", Title: name + " not run",
					Message: "Go modules found, but this image has no Go toolchain: use gantry-ci/gantry/actions/scan-go (the same action with Go) to check Go code"})
				return nil, nil
			}
			return fn(root, skip)
		}
	}
	var all []finding.Finding
	for _, name := range c.scanners {
		var fs []finding.Finding
		err := k.Group("scan: "+name, func() error {
			var err error
			fs, err = run[name](loc.root, loc.skip(skip))
			loc.rebase(fs, loc.fromRoot)
			k.Logf("%d findings", len(fs))
			return err
		})
		if err != nil {
			return fmt.Errorf("scanner %s: %w", name, err)
		}
		all = append(all, fs...)
	}
	kept, suppressed, problems := policy.Suppressed(loc.rootOfFiles(), all)
	for _, p := range problems {
		k.Annotate(actionkit.Annotation{Level: "warning", Title: "suppression", Message: p})
	}
	sort.SliceStable(kept, func(i, j int) bool {
		if finding.Rank(kept[i].Severity) != finding.Rank(kept[j].Severity) {
			return finding.Rank(kept[i].Severity) > finding.Rank(kept[j].Severity)
		}
		if kept[i].File != kept[j].File {
			return kept[i].File < kept[j].File
		}
		return kept[i].Line < kept[j].Line
	})

	if c.writeBaseline != "" {
		if err := policy.WriteBaseline(c.writeBaseline, kept); err != nil {
			return fmt.Errorf("write baseline: %w", err)
		}
		k.Logf("wrote %d fingerprints to %s", len(kept), c.writeBaseline)
	}
	base, err := policy.LoadBaseline(c.baseline)
	if err != nil {
		return err
	}
	var newOnes []finding.Finding
	for _, f := range kept {
		if !base[f.Fingerprint] {
			newOnes = append(newOnes, f)
		}
	}

	if err := sarif.Write(c.sarifFile, sarif.Build(kept, c.scanners)); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, f := range kept {
		counts[f.Severity]++
	}
	for _, s := range finding.Severities {
		k.SetOutput(s, strconv.Itoa(counts[s]))
	}
	k.SetOutput("total", strconv.Itoa(len(kept)))
	k.SetOutput("new-findings", strconv.Itoa(len(newOnes)))
	k.SetOutput("sarif-file", c.sarifFile)

	// Annotations: the most severe first; the kit caps them as GitHub does.
	for _, f := range kept {
		lvl := "notice"
		switch f.Severity {
		case "critical", "high":
			lvl = "error"
		case "medium":
			lvl = "warning"
		}
		k.Annotate(actionkit.Annotation{Level: lvl, File: f.File, Line: f.Line, Col: f.Col, Title: f.Rule.ID, Message: f.Message})
	}
	summary(k, c, kept, newOnes, suppressed, base)

	threshold := finding.Rank(c.failOn)
	if c.failOn == "none" {
		return nil
	}
	failing := 0
	for _, f := range newOnes {
		if finding.Rank(f.Severity) >= threshold {
			failing++
		}
	}
	if failing > 0 {
		return fmt.Errorf("%d new findings at or above %s (fail-on: %s); fix them, suppress them with a justification, or accept them in the baseline", failing, c.failOn, c.failOn)
	}
	return nil
}

func summary(k *actionkit.Kit, c *config, kept, newOnes, suppressed []finding.Finding, base map[string]bool) {
	mark := "✅"
	if len(newOnes) > 0 {
		mark = "⚠️"
	}
	k.Summary(fmt.Sprintf("## %s Security scan: %d findings, %d new, %d suppressed (fail-on: %s)\n", mark, len(kept), len(newOnes), len(suppressed), c.failOn))
	var rows [][]string
	for _, sc := range c.scanners {
		row := []string{sc}
		for _, sev := range finding.Severities {
			n := 0
			for _, f := range kept {
				if f.Scanner == sc && f.Severity == sev {
					n++
				}
			}
			row = append(row, strconv.Itoa(n))
		}
		rows = append(rows, row)
	}
	k.Summary("\n" + actionkit.Table(append([]string{"scanner"}, finding.Severities...), rows))
	if len(kept) > 0 {
		var fr [][]string
		for _, f := range kept {
			state := "new"
			if base[f.Fingerprint] {
				state = "baseline"
			}
			loc := f.File
			if f.Line > 0 {
				loc += ":" + strconv.Itoa(f.Line)
			}
			fr = append(fr, []string{f.Severity, f.Scanner, f.Rule.ID, loc, f.Message, state})
		}
		k.Summary("\n### Findings\n" + actionkit.Table([]string{"severity", "scanner", "rule", "where", "message", "state"}, fr))
	}
}

// hasGoModule says whether a go.mod lies in the tree (outside vendor and
// testdata, as the Go scanners look).
func hasGoModule(root string, skip func(string) bool) bool {
	found := false
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "vendor" || d.Name() == "testdata" || d.Name() == "node_modules" || (rel != "." && skip != nil && skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" {
			found = true
		}
		return nil
	})
	return found
}
