// Package vulndeps finds vulnerable Go dependencies with govulncheck
// (golang.org/x/vuln/scan, embedded), reachability included, against an
// offline vulnerability database.
package vulndeps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"golang.org/x/vuln/scan"
)

// DefaultDB is where the actions image keeps a database baked in at build time.
const DefaultDB = "/opt/gantry/vulndb"

// ErrNoDB says no database is available; the scan is skipped, not failed.
var ErrNoDB = errors.New("no Go vulnerability database: set the vuln-db input to a folder in the vuln.go.dev layout (index/db.json, index/modules.json, ID/*.json), or bake one into the image at " + DefaultDB)

// Locate returns a usable database path: the input, else the baked-in one.
func Locate(input string) (string, error) {
	db := strings.TrimPrefix(input, "file://")
	if db == "" {
		db = DefaultDB
	}
	if _, err := os.Stat(filepath.Join(db, "index", "db.json")); err != nil {
		if input == "" {
			return "", ErrNoDB
		}
		return "", fmt.Errorf("vuln-db %s: %w; %v", input, err, ErrNoDB)
	}
	return filepath.Abs(db)
}

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

type message struct {
	OSV *struct {
		ID      string   `json:"id"`
		Summary string   `json:"summary"`
		Details string   `json:"details"`
		Aliases []string `json:"aliases"`
	} `json:"osv"`
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

// Scan runs govulncheck on every module under root.
func Scan(ctx context.Context, root, db string, skip func(string) bool) ([]finding.Finding, error) {
	var mods []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "vendor" || (rel != "." && skip != nil && skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "go.mod" {
			mods = append(mods, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []finding.Finding
	for _, m := range mods {
		fs, err := scanModule(ctx, root, m, db)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

func scanModule(ctx context.Context, root, mod, db string) ([]finding.Finding, error) {
	var stdout, stderr bytes.Buffer
	cmd := scan.Command(ctx, "-C", mod, "-db", "file://"+db, "-format", "json", "./...")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("govulncheck %s: %w", mod, err)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("govulncheck %s: %v\n%s", mod, err, strings.TrimSpace(stderr.String()))
	}
	osvs := map[string]*struct {
		ID      string   `json:"id"`
		Summary string   `json:"summary"`
		Details string   `json:"details"`
		Aliases []string `json:"aliases"`
	}{}
	// The most precise finding per vulnerability wins: symbol, then package, then module.
	best := map[string]*message{}
	level := func(m *message) int {
		t := m.Finding.Trace
		switch {
		case len(t) > 0 && t[0].Function != "":
			return 3
		case len(t) > 0 && t[0].Package != "":
			return 2
		}
		return 1
	}
	dec := json.NewDecoder(&stdout)
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.OSV != nil {
			osvs[m.OSV.ID] = m.OSV
		}
		if m.Finding != nil {
			if cur, ok := best[m.Finding.OSV]; !ok || level(&m) > level(cur) {
				mm := m
				best[m.Finding.OSV] = &mm
			}
		}
	}
	relMod, _ := filepath.Rel(root, mod)
	var out []finding.Finding
	for id, m := range best {
		f := m.Finding
		vuln := f.Trace[0]
		info := osvs[id]
		name := id
		if info != nil && len(info.Aliases) > 0 {
			name += " (" + strings.Join(info.Aliases, ", ") + ")"
		}
		summary := ""
		help := "Upgrade the module to a fixed version."
		if info != nil {
			summary, help = info.Summary, info.Details+" Upgrade the module to a fixed version."
		}
		fixed := "no fixed version yet"
		if f.FixedVersion != "" {
			fixed = "fixed in " + f.FixedVersion
		}
		fd := finding.Finding{Scanner: "vulns", Identity: id + "@" + vuln.Module}
		switch level(m) {
		case 3:
			fd.Severity = "high"
			sym := vuln.Function
			if vuln.Receiver != "" {
				sym = vuln.Receiver + "." + sym
			}
			fd.Message = fmt.Sprintf("%s: %s; %s@%s, %s; your code calls %s.%s", name, summary, vuln.Module, vuln.Version, fixed, vuln.Package, sym)
			// The frame nearest the entry point is in the user's code.
			for i := len(f.Trace) - 1; i >= 0; i-- {
				if p := f.Trace[i].Position; p != nil && p.Filename != "" && !strings.Contains(p.Filename, "@") {
					fd.File = filepath.ToSlash(filepath.Join(relMod, p.Filename))
					fd.Line, fd.Col = p.Line, p.Column
					break
				}
			}
		case 2:
			fd.Severity = "medium"
			fd.Message = fmt.Sprintf("%s: %s; %s@%s, %s; package %s is imported but the vulnerable code is not called", name, summary, vuln.Module, vuln.Version, fixed, vuln.Package)
		default:
			fd.Severity = "low"
			fd.Message = fmt.Sprintf("%s: %s; %s@%s, %s; the module is required but its vulnerable packages are not imported", name, summary, vuln.Module, vuln.Version, fixed)
		}
		if fd.File == "" {
			fd.File = filepath.ToSlash(filepath.Join(relMod, "go.mod"))
			fd.Line = requireLine(filepath.Join(mod, "go.mod"), vuln.Module)
		}
		fd.Rule = finding.Rule{ID: "vuln/" + id, Name: summary, Severity: fd.Severity, Help: help}
		fd.Finish()
		out = append(out, fd)
	}
	return out, nil
}

// requireLine finds the go.mod line that requires a module.
func requireLine(gomod, module string) int {
	f, err := os.Open(gomod)
	if err != nil {
		return 0
	}
	defer f.Close()
	re := regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(module) + `\s+v`)
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if re.MatchString(sc.Text()) {
			return n
		}
	}
	return 0
}
