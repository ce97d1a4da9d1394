// Package vulndbtest writes a one-entry Go vulnerability database in the
// vuln.go.dev layout for tests: a made-up vulnerability in
// golang.org/x/text/language.Parse, fixed in v0.3.8.
package vulndbtest

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// ID is the fixture's vulnerability.
const ID = "GO-2099-0001"

// Write creates the database in dir.
func Write(dir string) error {
	write := func(name string, v any) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	const mod = "2026-01-01T00:00:00Z"
	files := []struct {
		name string
		v    any
	}{
		{"index/db.json", map[string]any{"modified": mod}},
		{"index/modules.json", []any{map[string]any{"path": "golang.org/x/text", "vulns": []any{map[string]any{"id": ID, "modified": mod, "fixed": "0.3.8"}}}}},
		{"index/vulns.json", []any{map[string]any{"id": ID, "modified": mod, "aliases": []string{"CVE-2099-0001"}}}},
		{"ID/" + ID + ".json", map[string]any{
			"schema_version": "1.3.1", "id": ID, "modified": mod, "published": mod,
			"aliases": []string{"CVE-2099-0001"}, "summary": "Test vulnerability in language.Parse", "details": "A fixture for Gantry's tests.",
			"affected": []any{map[string]any{
				"package":            map[string]any{"name": "golang.org/x/text", "ecosystem": "Go"},
				"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "0.3.8"}}}},
				"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": "golang.org/x/text/language", "symbols": []string{"Parse"}}}},
			}},
		}},
	}
	for _, f := range files {
		if err := write(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}
