// Package sarif writes SARIF 2.1.0 for GitHub code scanning: one run per
// scanner (GitHub rejects several runs under one category), rules with help
// and security-severity, results with regions and partial fingerprints.
package sarif

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
)

// MaxResultsPerRun keeps a run well under GitHub's limits (25,000 results per
// run, 10 MB gzipped per file).
const MaxResultsPerRun = 5000

// Log is a SARIF file.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one tool's results.
type Run struct {
	Tool              Tool               `json:"tool"`
	AutomationDetails *AutomationDetails `json:"automationDetails,omitempty"`
	Results           []Result           `json:"results"`
	Properties        map[string]any     `json:"properties,omitempty"`
}

// AutomationDetails gives each run its own code-scanning category.
type AutomationDetails struct {
	ID string `json:"id"`
}

// Tool names the scanner.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool and its rules.
type Driver struct {
	Name           string `json:"name"`
	InformationURI string `json:"informationUri,omitempty"`
	Rules          []Rule `json:"rules"`
}

// Rule is a reportingDescriptor.
type Rule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name,omitempty"`
	ShortDescription Text           `json:"shortDescription"`
	Help             Text           `json:"help"`
	Properties       map[string]any `json:"properties,omitempty"`
	DefaultConfig    *Config        `json:"defaultConfiguration,omitempty"`
}

// Config is a rule's default level.
type Config struct {
	Level string `json:"level"`
}

// Text is a message.
type Text struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             Text              `json:"message"`
	Locations           []Location        `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

// Location is where a result is.
type Location struct {
	PhysicalLocation Physical `json:"physicalLocation"`
}

// Physical is a file and region.
type Physical struct {
	ArtifactLocation Artifact `json:"artifactLocation"`
	Region           *Region  `json:"region,omitempty"`
}

// Artifact is a file relative to the repository root.
type Artifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// Region is a line/column range.
type Region struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

func level(sev string) string {
	switch sev {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

// Build makes one run per scanner, in a stable order.
func Build(findings []finding.Finding, scanners []string) *Log {
	log := &Log{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0"}
	by := map[string][]finding.Finding{}
	for _, f := range findings {
		by[f.Scanner] = append(by[f.Scanner], f)
	}
	for _, sc := range scanners {
		fs := by[sc]
		run := Run{Tool: Tool{Driver: Driver{Name: "gantry-scan/" + sc, InformationURI: "https://github.com/gantry-ci/gantry"}},
			AutomationDetails: &AutomationDetails{ID: "gantry-scan/" + sc + "/"}, Results: []Result{}}
		rules := map[string]finding.Rule{}
		for _, f := range fs {
			rules[f.Rule.ID] = f.Rule
		}
		ids := make([]string, 0, len(rules))
		for id := range rules {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			r := rules[id]
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, Rule{ID: r.ID, Name: r.Name, ShortDescription: Text{r.Name}, Help: Text{r.Help},
				DefaultConfig: &Config{Level: level(r.Severity)},
				Properties:    map[string]any{"security-severity": finding.SecuritySeverity(r.Severity), "tags": []string{"security", sc}}})
		}
		if run.Tool.Driver.Rules == nil {
			run.Tool.Driver.Rules = []Rule{}
		}
		for i, f := range fs {
			if i >= MaxResultsPerRun {
				run.Properties = map[string]any{"truncated": len(fs) - MaxResultsPerRun}
				break
			}
			loc := Location{PhysicalLocation: Physical{ArtifactLocation: Artifact{URI: f.File, URIBaseID: "%SRCROOT%"}}}
			if f.Line > 0 {
				loc.PhysicalLocation.Region = &Region{StartLine: f.Line, StartColumn: f.Col, EndLine: f.EndLine, EndColumn: f.EndCol}
			}
			run.Results = append(run.Results, Result{RuleID: f.Rule.ID, Level: level(f.Severity), Message: Text{f.Message}, Locations: []Location{loc},
				PartialFingerprints: map[string]string{"gantryFingerprint/v1": f.Fingerprint},
				Properties:          map[string]any{"severity": f.Severity}})
		}
		log.Runs = append(log.Runs, run)
	}
	return log
}

// Write writes the log as JSON.
func Write(path string, l *Log) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write SARIF %s: %w", path, err)
	}
	return nil
}
