// Package gocoderun runs the gocode scanner (cmd/scan-gocode) as a separate
// program, so that the scan action itself does not link gosec: its
// dependencies' start-up (zxcvbn's dictionaries: tens of milliseconds and
// about 18 MB) would otherwise be paid by every scan, secrets only included.
package gocoderun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
)

// Program is the helper's name; the image installs it beside the action.
const Program = "scan-gocode"

// EnvProgram overrides where the helper is.
const EnvProgram = "GANTRY_SCAN_GOCODE"

// Request is what the helper reads on stdin.
type Request struct {
	Root string `json:"root"`
	// Skip lists the root-relative folders the excludes leave out (the gocode
	// scanner asks only about folders: modules and packages).
	Skip []string `json:"skip,omitempty"`
}

// Skipper answers the scanner's skip questions from the list.
func (r Request) Skipper() func(string) bool {
	if len(r.Skip) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, s := range r.Skip {
		set[s] = true
	}
	// A folder under a skipped one is skipped: the walk stopped there.
	return func(rel string) bool {
		for p := rel; p != "." && p != "/" && p != ""; p = filepath.ToSlash(filepath.Dir(p)) {
			if set[p] {
				return true
			}
		}
		return false
	}
}

// Scan runs the helper on root. skip is asked about every folder, here, so
// that the helper needs no pattern matching of its own.
func Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	req := Request{Root: abs}
	if skip != nil {
		_ = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel(abs, p)
			rel = filepath.ToSlash(rel)
			if rel != "." && skip(rel) {
				req.Skip = append(req.Skip, rel)
				return filepath.SkipDir
			}
			return nil
		})
	}
	argv, err := command()
	if err != nil {
		return nil, err
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		msg = strings.TrimPrefix(msg, Program+": ")
		if msg == "" {
			msg = err.Error()
		}
		return nil, errors.New(msg)
	}
	var out []finding.Finding
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("%s: bad output: %w", Program, err)
	}
	return out, nil
}

// command finds the helper: GANTRY_SCAN_GOCODE, beside this program (the
// image, a release archive), on PATH; else, in a checkout of this module
// (go run ./actions/scan), go run builds it.
func command() ([]string, error) {
	if p := os.Getenv(EnvProgram); p != "" {
		return []string{p}, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), Program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath(Program); err == nil {
		return []string{p}, nil
	}
	const pkg = "github.com/gantry-ci/gantry/actions/scan/cmd/scan-gocode"
	if out, err := exec.Command("go", "list", "-f", "{{.Dir}}", pkg).Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		return []string{"go", "run", pkg}, nil
	}
	return nil, fmt.Errorf("the gocode scanner needs the %s program: install it beside the scan action (go build -o DIR/ ./actions/scan/cmd/%s), put it on PATH or name it in %s", Program, Program, EnvProgram)
}
