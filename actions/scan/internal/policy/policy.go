// Package policy decides what fails the job: the fail-on threshold, a
// baseline of accepted findings, inline suppressions with a justification,
// path excludes, and an organisation's enforced config file.
package policy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/gantry-ci/gantry/internal/ghglob"
	"gopkg.in/yaml.v3"
)

// Config is .gantry/scan.yml. With Enforce, its values win over inputs.
type Config struct {
	FailOn   string   `yaml:"fail-on"`
	Excludes []string `yaml:"excludes"`
	Baseline string   `yaml:"baseline"`
	Scanners []string `yaml:"scanners"`
	// AllowUnpinned lists actions trusted on a tag (see the workflows scanner).
	AllowUnpinned []string `yaml:"allow-unpinned"`
	Enforce       bool     `yaml:"enforce"`
}

// LoadConfig reads the config file; a missing file is no config.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w (keys: fail-on, excludes, baseline, scanners, allow-unpinned, enforce)", path, err)
	}
	return &c, nil
}

// Excluder matches paths against exclude patterns (GitHub filter syntax).
func Excluder(patterns []string) (func(string) bool, error) {
	for _, p := range patterns {
		if _, err := ghglob.Compile(p); err != nil {
			return nil, fmt.Errorf("exclude %q: %w", p, err)
		}
	}
	return func(rel string) bool {
		if len(patterns) == 0 {
			return false
		}
		ok, _ := ghglob.MatchList(patterns, rel)
		if ok {
			return true
		}
		ok, _ = ghglob.MatchList(patterns, rel+"/")
		return ok
	}, nil
}

// Baseline is a file of accepted fingerprints.
type Baseline struct {
	Fingerprints []string `json:"fingerprints"`
}

// LoadBaseline reads a baseline; a missing file is an empty one.
func LoadBaseline(path string) (map[string]bool, error) {
	out := map[string]bool{}
	if path == "" {
		return out, nil
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	for _, f := range b.Fingerprints {
		out[f] = true
	}
	return out, nil
}

// WriteBaseline records every finding's fingerprint.
func WriteBaseline(path string, fs []finding.Finding) error {
	var b Baseline
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.Fingerprint] {
			seen[f.Fingerprint] = true
			b.Fingerprints = append(b.Fingerprints, f.Fingerprint)
		}
	}
	sort.Strings(b.Fingerprints)
	data, _ := json.MarshalIndent(b, "", "  ")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// suppression: gantry-scan:ignore RULE -- why (on the line or the line above).
var suppression = regexp.MustCompile(`gantry-scan:ignore\s+(\S+)(?:\s+--\s*(\S.*))?`)

// Suppressed splits findings into kept and suppressed by inline comments.
// A suppression without a justification does not count and is reported.
func Suppressed(root string, fs []finding.Finding) (kept, suppressed []finding.Finding, problems []string) {
	cache := map[string][]string{}
	linesOf := func(file string) []string {
		if l, ok := cache[file]; ok {
			return l
		}
		var lines []string
		if f, err := os.Open(filepath.Join(root, filepath.FromSlash(file))); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		cache[file] = lines
		return lines
	}
	for _, f := range fs {
		lines := linesOf(f.File)
		matched := false
		for _, ln := range []int{f.Line, f.Line - 1} {
			if ln < 1 || ln > len(lines) {
				continue
			}
			m := suppression.FindStringSubmatch(lines[ln-1])
			if m == nil || (m[1] != f.Rule.ID && m[1] != "all") {
				continue
			}
			if strings.TrimSpace(m[2]) == "" {
				problems = append(problems, fmt.Sprintf("%s:%d: suppression of %s has no justification; write `gantry-scan:ignore %s -- why`", f.File, ln, m[1], m[1]))
				continue
			}
			matched = true
		}
		if matched {
			suppressed = append(suppressed, f)
		} else {
			kept = append(kept, f)
		}
	}
	return kept, suppressed, problems
}
