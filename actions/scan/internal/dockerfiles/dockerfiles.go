// Package dockerfiles finds risky Dockerfiles, parsed with BuildKit's parser.
package dockerfiles

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Rules of this scanner.
var (
	RuleLatest      = finding.Rule{ID: "dockerfile/unpinned-base", Name: "Base image without a fixed tag", Severity: "medium", Help: "Use a versioned tag or, better, a digest (image:1.2@sha256:...): latest changes under you."}
	RuleRoot        = finding.Rule{ID: "dockerfile/runs-as-root", Name: "Container runs as root", Severity: "medium", Help: "Add USER with a non-root user to the final stage."}
	RuleAddURL      = finding.Rule{ID: "dockerfile/add-url", Name: "ADD from a URL", Severity: "medium", Help: "Download with a checksum check (curl + sha256sum -c) or ADD --checksum=; ADD from a URL is not verified."}
	RuleSecretEnv   = finding.Rule{ID: "dockerfile/secret-in-env", Name: "Secret in ENV or ARG", Severity: "high", Help: "ENV and ARG values stay in the image history; use build secrets (RUN --mount=type=secret)."}
	RuleCurlPipe    = finding.Rule{ID: "dockerfile/curl-pipe-shell", Name: "Remote script piped to a shell", Severity: "high", Help: "Download the script, verify its checksum or signature, then run it."}
	RuleHealthcheck = finding.Rule{ID: "dockerfile/no-healthcheck", Name: "No HEALTHCHECK", Severity: "low", Help: "Add HEALTHCHECK so orchestrators can tell a hung container from a healthy one."}
)

var (
	secretName = regexp.MustCompile(`(?i)(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|access[_-]?key)`)
	curlPipe   = regexp.MustCompile(`(?i)\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da)?sh\b`)
)

// Scan checks every Dockerfile (Dockerfile, *.Dockerfile, Dockerfile.*) under root.
func Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	var out []finding.Finding
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if e.Name() == ".git" || (rel != "." && skip != nil && skip(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		n := e.Name()
		if !(n == "Dockerfile" || strings.HasSuffix(n, ".Dockerfile") || strings.HasPrefix(n, "Dockerfile.") || strings.HasSuffix(n, ".dockerfile")) {
			return nil
		}
		if skip != nil && skip(rel) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		out = append(out, ScanFile(rel, data)...)
		return nil
	})
	return out, err
}

// ScanFile checks one Dockerfile's content.
func ScanFile(rel string, data []byte) []finding.Finding {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var out []finding.Finding
	add := func(r finding.Rule, line int, msg, identity string) {
		f := finding.Finding{Scanner: "dockerfiles", Rule: r, Message: msg, File: rel, Line: line, Col: 1, Identity: identity}
		f.Finish()
		out = append(out, f)
	}
	stages := map[string]bool{}
	lastFrom, user, hasHealth := 0, "", false
	for _, n := range res.AST.Children {
		args := []string{}
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		switch strings.ToLower(n.Value) {
		case "from":
			lastFrom, user = n.StartLine, ""
			if len(args) == 0 {
				continue
			}
			img := args[0]
			if len(args) >= 3 && strings.EqualFold(args[1], "as") {
				stages[strings.ToLower(args[2])] = true
			}
			if img == "scratch" || stages[strings.ToLower(img)] || strings.Contains(img, "$") {
				continue
			}
			name := img
			if i := strings.LastIndex(img, "/"); i >= 0 {
				name = img[i+1:]
			}
			if !strings.Contains(img, "@sha256:") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
				add(RuleLatest, n.StartLine, "base image "+img+" has no fixed tag", img)
			}
		case "user":
			if len(args) > 0 {
				user = args[0]
			}
		case "add":
			for _, a := range args {
				if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
					add(RuleAddURL, n.StartLine, "ADD downloads "+a+" without verification", a)
				}
			}
		case "env", "arg":
			for i := 0; i < len(args); i++ {
				k, v, hasEq := strings.Cut(args[i], "=")
				if !hasEq && strings.ToLower(n.Value) == "env" && i+1 < len(args) {
					v = args[i+1] // ENV key value pairs from the parser
					i++
				}
				if secretName.MatchString(k) && strings.TrimSpace(v) != "" && !strings.HasPrefix(v, "$") {
					add(RuleSecretEnv, n.StartLine, strings.ToUpper(n.Value)+" "+k+" holds a secret value", k)
				}
			}
		case "run":
			cmd := strings.Join(args, " ")
			if curlPipe.MatchString(cmd) {
				add(RuleCurlPipe, n.StartLine, "RUN pipes a download into a shell", cmd)
			}
		case "healthcheck":
			hasHealth = true
		}
	}
	if lastFrom > 0 && (user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root:")) {
		add(RuleRoot, lastFrom, "the final stage runs as root", "final-stage")
	}
	if lastFrom > 0 && !hasHealth {
		add(RuleHealthcheck, lastFrom, "the image has no HEALTHCHECK", "healthcheck")
	}
	return out
}
