// Package finding is what every scanner reports: a rule broken at a place,
// with a severity and a stable fingerprint.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Severities, most severe first.
var Severities = []string{"critical", "high", "medium", "low"}

// Rank orders severities: critical 4 ... low 1, unknown 0.
func Rank(sev string) int {
	switch sev {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	}
	return 0
}

// SecuritySeverity is GitHub code scanning's numeric severity for a level.
func SecuritySeverity(sev string) string {
	switch sev {
	case "critical":
		return "9.5"
	case "high":
		return "8.0"
	case "medium":
		return "5.5"
	}
	return "2.0"
}

// Rule describes a check.
type Rule struct {
	ID       string
	Name     string
	Severity string
	Help     string
}

// Finding is one problem found.
type Finding struct {
	Scanner  string // secrets, workflows, dockerfiles, ...
	Rule     Rule
	Message  string
	File     string // slash-separated, relative to the scanned root
	Line     int    // 1-based; 0 when the whole file
	Col      int
	EndLine  int
	EndCol   int
	Severity string
	// Identity is what makes the finding itself (e.g. the secret): it goes
	// into the fingerprint hashed, never in clear.
	Identity    string
	Fingerprint string
}

// Fingerprint hashes the rule, file and identity (not the line, so the
// fingerprint survives edits elsewhere in the file; a new secret on an old
// line gets a new one).
func Fingerprint(scanner, rule, file, identity string) string {
	h := sha256.Sum256([]byte(strings.Join([]string{scanner, rule, file, identity}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// Finish fills the fingerprint and severity defaults.
func (f *Finding) Finish() {
	if f.Severity == "" {
		f.Severity = f.Rule.Severity
	}
	if f.Fingerprint == "" {
		id := f.Identity
		if id == "" {
			id = f.Message
		}
		f.Fingerprint = Fingerprint(f.Scanner, f.Rule.ID, f.File, id)
	}
}
