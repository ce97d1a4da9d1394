package vulndeps

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fixtureDB writes a one-entry database in the vuln.go.dev layout: a made-up
// vulnerability in golang.org/x/text/language.Parse, fixed in v0.3.8.
func fixtureDB(t *testing.T) string {
	t.Helper()
	db := t.TempDir()
	write := func(name string, v any) {
		p := filepath.Join(db, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const mod = "2026-01-01T00:00:00Z"
	write("index/db.json", map[string]any{"modified": mod})
	write("index/modules.json", []any{map[string]any{"path": "golang.org/x/text", "vulns": []any{map[string]any{"id": "GO-2099-0001", "modified": mod, "fixed": "0.3.8"}}}})
	write("index/vulns.json", []any{map[string]any{"id": "GO-2099-0001", "modified": mod, "aliases": []string{"CVE-2099-0001"}}})
	write("ID/GO-2099-0001.json", map[string]any{
		"schema_version": "1.3.1", "id": "GO-2099-0001", "modified": mod, "published": mod,
		"aliases": []string{"CVE-2099-0001"}, "summary": "Test vulnerability in language.Parse", "details": "A fixture for Gantry's tests.",
		"affected": []any{map[string]any{
			"package":            map[string]any{"name": "golang.org/x/text", "ecosystem": "Go"},
			"ranges":             []any{map[string]any{"type": "SEMVER", "events": []any{map[string]any{"introduced": "0"}, map[string]any{"fixed": "0.3.8"}}}},
			"ecosystem_specific": map[string]any{"imports": []any{map[string]any{"path": "golang.org/x/text/language", "symbols": []string{"Parse"}}}},
		}},
	})
	return db
}

func TestReachability(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("govulncheck source mode needs the go toolchain")
	}
	root := t.TempDir()
	src, _ := filepath.Abs("../../testdata/vulns")
	if out, err := exec.Command("cp", "-r", src+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	db, err := Locate(fixtureDB(t))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Scan(context.Background(), root, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity+" "+f.Rule.ID+" "+f.File)
		if !strings.Contains(f.Message, "CVE-2099-0001") || !strings.Contains(f.Message, "fixed in v0.3.8") {
			t.Errorf("message %q", f.Message)
		}
	}
	sort.Strings(got)
	want := []string{"high vuln/GO-2099-0001 vulnapp/main.go", "medium vuln/GO-2099-0001 importapp/go.mod"}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range fs {
		if f.File == "vulnapp/main.go" && f.Line != 10 {
			t.Errorf("call site line %d, want 10", f.Line)
		}
	}
}

func TestLocate(t *testing.T) {
	if _, err := Locate(""); err == nil && DefaultDB != "" {
		if _, statErr := os.Stat(DefaultDB); statErr != nil {
			t.Error("no database should be an error")
		}
	}
	if _, err := Locate(t.TempDir()); err == nil || !strings.Contains(err.Error(), "vuln.go.dev layout") {
		t.Errorf("empty folder: %v", err)
	}
}
