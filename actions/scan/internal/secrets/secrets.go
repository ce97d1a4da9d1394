// Package secrets finds committed secrets with gitleaks' rules (embedded as a
// library) and reports them redacted.
package secrets

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"

	"github.com/gantry-ci/gantry/actions/scan/internal/finding"
	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	"github.com/zricethezav/gitleaks/v8/sources"
)

var (
	once     sync.Once
	detector *detect.Detector
	initErr  error
)

// load builds the default detector once.
func load() (*detect.Detector, error) {
	once.Do(func() {
		logging.Logger = zerolog.Nop()
		var cfg config.Config
		cfg, initErr = defaultConfig()
		if initErr == nil {
			detector = detect.NewDetector(cfg)
		}
	})
	return detector, initErr
}

// repoDetectors caches detectors built from repositories' .gitleaks.toml.
var (
	repoMu        sync.Mutex
	repoDetectors = map[string]*detect.Detector{}
)

// forRoot returns the detector for a tree: the repository's own
// .gitleaks.toml when it has one (it may extend the default rules with
// [extend] useDefault = true), else gitleaks' default rules.
func forRoot(root string) (*detect.Detector, error) {
	base, err := load()
	if err != nil {
		return nil, fmt.Errorf("load gitleaks rules: %w", err)
	}
	path := filepath.Join(root, ".gitleaks.toml")
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return base, nil
	}
	if err != nil {
		return nil, err
	}
	repoMu.Lock()
	defer repoMu.Unlock()
	if d, ok := repoDetectors[path]; ok {
		return d, nil
	}
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := detect.NewDetector(cfg)
	repoDetectors[path] = d
	return d, nil
}

// Redact shows only the first few characters of a secret.
func Redact(s string) string {
	if len(s) <= 8 {
		return "****"
	}
	return s[:4] + strings.Repeat("*", 8)
}

// maxFileSize skips files larger than this (generated blobs, archives).
const maxFileSize = 2 << 20

// Scan walks root and reports every secret. skip says whether a relative
// path is excluded.
func Scan(root string, skip func(string) bool) ([]finding.Finding, error) {
	d, err := forRoot(root)
	if err != nil {
		return nil, err
	}
	var paths []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
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
		if !e.Type().IsRegular() || (skip != nil && skip(rel)) {
			return nil
		}
		if info, err := e.Info(); err == nil && info.Size() > 0 && info.Size() <= maxFileSize {
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// gitleaks' detector is safe for concurrent use (its own file scanner
	// calls it from many goroutines); scanning files in parallel matters on
	// large trees.
	// Detection makes short-lived garbage per file: collecting it sooner keeps
	// peak memory at the CLI's, for a little CPU (unless GOGC says otherwise).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(25))
	}
	results := make([][]finding.Finding, len(paths))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(paths[i])))
				if err != nil || len(data) == 0 || bytes.IndexByte(data, 0) >= 0 {
					continue // unreadable or binary
				}
				// The bytes are never written again: a string over them saves
				// a copy of every file (peak memory on large trees).
				results[i] = ScanContent(d, paths[i], unsafe.String(&data[0], len(data)))
			}
		}()
	}
	for i := range paths {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	var out []finding.Finding
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// chunkSize bounds what one detection sees at a time: the rules' regular
// expressions and gitleaks' decoding allocate in proportion to the input, so
// a large file is scanned in pieces that end at a line break (as the
// gitleaks CLI reads files), keeping peak memory at the CLI's.
const chunkSize = 100_000

// ScanContent reports the secrets in one file's content.
func ScanContent(d *detect.Detector, file, content string) []finding.Finding {
	if len(content) <= 2*chunkSize {
		return scanPiece(d, file, content, 0)
	}
	var out []finding.Finding
	line := 0
	for len(content) > 0 {
		end := len(content)
		if end > chunkSize {
			end = chunkSize
			if nl := strings.IndexByte(content[end:], '\n'); nl >= 0 {
				end += nl + 1
			} else {
				end = len(content)
			}
		}
		piece := content[:end]
		out = append(out, scanPiece(d, file, piece, line)...)
		line += strings.Count(piece, "\n")
		content = content[end:]
	}
	return out
}

// scanPiece detects in content that starts at line lineOffset (0-based) of file.
func scanPiece(d *detect.Detector, file, content string, lineOffset int) []finding.Finding {
	// The path lets the rules and allowlists that match on paths apply.
	//lint:ignore SA1019 gitleaks v8 has no other call that takes a file path; v9 replaces the type.
	found := d.Detect(detect.Fragment{Raw: content, FilePath: file})
	var out []finding.Finding
	for _, f := range found {
		// gitleaks counts lines from 0 when scanning a string.
		out = append(out, convert(f.RuleID, f.Description, f.Secret, file, lineOffset+f.StartLine+1, f.StartColumn, lineOffset+f.EndLine+1, f.EndColumn))
	}
	return out
}

func convert(ruleID, desc, secret, file string, line, col, endLine, endCol int) finding.Finding {
	sev := "high"
	if strings.Contains(ruleID, "private-key") || strings.Contains(ruleID, "aws") {
		sev = "critical"
	}
	fd := finding.Finding{
		Scanner:  "secrets",
		Rule:     finding.Rule{ID: "secret/" + ruleID, Name: desc, Severity: sev, Help: "Remove the secret from the repository, rotate it, and load it from a secret store (e.g. ${{ secrets.NAME }}) instead."},
		Message:  fmt.Sprintf("%s: %s", desc, Redact(secret)),
		File:     file,
		Line:     line,
		Col:      col,
		EndLine:  endLine,
		EndCol:   endCol,
		Identity: secret,
	}
	fd.Finish()
	return fd
}

// Detector exposes the loaded detector for tests and single files.
func Detector() (*detect.Detector, error) { return load() }

// History scans the git history of root: every commit, or those after since
// (a ref). Secrets removed from the tree long ago still count: they were
// pushed and must be rotated.
func History(ctx context.Context, root, since string) ([]finding.Finding, error) {
	base, err := forRoot(root)
	if err != nil {
		return nil, err
	}
	// A fresh detector: DetectSource accumulates findings on the detector.
	d := detect.NewDetectorContext(ctx, base.Config)
	opts := "--full-history --all"
	if since != "" {
		opts = since + "..HEAD"
	}
	cmd, err := sources.NewGitLogCmdContext(ctx, root, opts)
	if err != nil {
		return nil, fmt.Errorf("git log of %s: %w", root, err)
	}
	found, err := d.DetectSource(ctx, &sources.Git{Cmd: cmd, Config: &d.Config, Remote: &sources.RemoteInfo{}, Sema: d.Sema})
	if err != nil {
		return nil, fmt.Errorf("scan git history: %w", err)
	}
	var out []finding.Finding
	for _, f := range found {
		fd := convert(f.RuleID, f.Description, f.Secret, filepath.ToSlash(f.File), f.StartLine, f.StartColumn, f.EndLine, f.EndColumn)
		short := f.Commit
		if len(short) > 12 {
			short = short[:12]
		}
		fd.Message += " (in commit " + short + ")"
		out = append(out, fd)
	}
	return out, nil
}
