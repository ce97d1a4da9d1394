// Package workflows finds risky GitHub Actions workflows: script injection
// from untrusted event data (rhysd/actionlint), and Gantry's own rules for
// pull_request_target checkouts, broad permissions, unpinned actions and
// secrets echoed to the log.
package workflows

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/rhysd/actionlint"
)

// Rules of this scanner.
var (
	RuleInjection  = finding.Rule{ID: "workflow/script-injection", Name: "Untrusted input in a script", Severity: "high", Help: "Pass untrusted event data (titles, bodies, branch names) through env: and quote the variable in the script, instead of ${{ }} inside run:."}
	RulePRTarget   = finding.Rule{ID: "workflow/pr-target-checkout", Name: "pull_request_target checks out the pull request", Severity: "critical", Help: "pull_request_target runs with secrets and a write token; checking out the pull request's head runs untrusted code with them. Use pull_request, or never build the head in this workflow."}
	RuleWriteAll   = finding.Rule{ID: "workflow/write-all", Name: "permissions: write-all", Severity: "high", Help: "Grant only the scopes the job needs, e.g. permissions: {contents: read}."}
	RuleNoPerms    = finding.Rule{ID: "workflow/missing-permissions", Name: "No permissions set", Severity: "medium", Help: "Set permissions: at the top of the workflow (e.g. contents: read) so the token is not the repository default."}
	RuleUnpinned   = finding.Rule{ID: "workflow/unpinned-action", Name: "Action not pinned to a commit", Severity: "medium", Help: "Pin actions to a full 40-character commit SHA (keep the tag in a comment): tags can be moved. GitHub-owned actions (actions/*, github/*) and images are reported at low severity; list trusted owners in the allow-unpinned input."}
	RuleSecretEcho = finding.Rule{ID: "workflow/secret-echo", Name: "Secret printed by a script", Severity: "high", Help: "Do not echo secrets; masking is best effort (encoded or split values leak)."}
)

var sha = regexp.MustCompile(`^[0-9a-f]{40}$`)
var secretEcho = regexp.MustCompile(`(?i)\b(echo|printf|cat|print)\b[^\n]*\$\{\{\s*secrets\.`)

// Policy is the scanner's configuration.
type Policy struct {
	// AllowUnpinned lists actions that may be used by tag or branch:
	// "owner/*" (every action of an owner), "owner/repo" (and its
	// sub-actions and reusable workflows) or "docker://image" (every tag).
	AllowUnpinned []string
}

// Scan checks every workflow under root/.github/workflows with the default policy.
func Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	return (&Policy{}).Scan(root, skip)
}

// Scan checks every workflow under root/.github/workflows.
func (p *Policy) Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	dir := filepath.Join(root, ".github", "workflows")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []finding.Finding
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
			continue
		}
		rel := ".github/workflows/" + name
		if skip != nil && skip(rel) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, p.ScanFile(rel, data)...)
	}
	return out, nil
}

// ScanFile checks one workflow's content with the default policy.
func ScanFile(rel string, data []byte) []finding.Finding { return (&Policy{}).ScanFile(rel, data) }

// ScanFile checks one workflow's content; rel names it in findings.
func (p *Policy) ScanFile(rel string, data []byte) []finding.Finding {
	var out []finding.Finding
	add := func(r finding.Rule, line, col int, msg, identity string) {
		f := finding.Finding{Scanner: "workflows", Rule: r, Message: msg, File: rel, Line: line, Col: col, Identity: identity}
		f.Finish()
		out = append(out, f)
	}
	lines := bytes.Split(data, []byte("\n"))
	doc := parseYAML(data)
	blocks := runValues(doc)
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err == nil {
		errs, _ := linter.Lint(rel, data, nil)
		for _, e := range errs {
			if e.Kind == "expression" && strings.Contains(e.Message, "untrusted") {
				line, col := e.Line, e.Column
				if n := blocks[e.Line]; n != nil {
					line, col = inBlock(n, lines, e.Column)
				}
				add(RuleInjection, line, col, e.Message, e.Message)
			}
		}
	}
	wf, _ := workflow.Parse(rel, data) // positions survive even when the file has errors
	if wf == nil {
		return out
	}
	prTarget := wf.On != nil && wf.On.Has("pull_request_target")
	if p, ok := wf.Permissions.(string); ok && p == "write-all" {
		add(RuleWriteAll, lineOf(lines, "permissions"), 1, "the workflow grants write-all", "workflow")
	}
	for _, j := range wf.Jobs {
		if p, ok := j.Permissions.(string); ok && p == "write-all" {
			add(RuleWriteAll, j.Pos.Line, j.Pos.Col, "job "+j.ID+" grants write-all", "job/"+j.ID)
		}
		if wf.Permissions == nil && j.Permissions == nil {
			add(RuleNoPerms, j.Pos.Line, j.Pos.Col, "job "+j.ID+" runs with the default token permissions", "job/"+j.ID)
		}
		uses := j.Steps
		for _, s := range uses {
			if s.Uses != "" {
				line, col := valuePos(s.Node, "uses", s.Pos.Line, s.Pos.Col)
				p.checkUses(add, s, line, col, prTarget)
			}
			if s.Run != "" {
				for _, sl := range scriptLines(s.Node, lines) {
					if loc := secretEcho.FindStringIndex(sl.text); loc != nil {
						add(RuleSecretEcho, sl.line, sl.col+loc[0], "a run: step prints a secret: "+strings.TrimSpace(sl.text), strings.TrimSpace(sl.text))
					}
				}
			}
		}
		if j.Uses != "" {
			line, col := valuePos(jobNode(doc, j.ID), "uses", j.Pos.Line, j.Pos.Col)
			if r, msg, ok := p.Unpinned(j.Uses); ok {
				add(r, line, col, "reusable workflow "+msg, j.Uses)
			}
		}
	}
	return out
}

func (p *Policy) checkUses(add func(finding.Rule, int, int, string, string), s *workflow.Step, line, col int, prTarget bool) {
	u := s.Uses
	if r, msg, ok := p.Unpinned(u); ok {
		add(r, line, col, msg, u)
	}
	if prTarget && strings.HasPrefix(u, "actions/checkout@") {
		ref, _ := s.With.Get("ref")
		repo, _ := s.With.Get("repository")
		if strings.Contains(ref, "pull_request.head") || strings.Contains(ref, "head_ref") || strings.Contains(ref, "refs/pull/") || strings.Contains(repo, "pull_request.head") {
			add(RulePRTarget, s.Pos.Line, s.Pos.Col, "pull_request_target checks out the pull request's code ("+ref+")", u+ref)
		}
	}
}

func lineOf(lines [][]byte, key string) int {
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte(key+":")) {
			return i + 1
		}
	}
	return 1
}
