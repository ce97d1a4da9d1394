package scanaction

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The shop monorepo keeps its Go service in services/api and scans only
// that folder (path: services/api), as its workflow does.
const apiSecret = "services/api/deploy/aws.env"

func monorepo(t *testing.T) string {
	t.Helper()
	ws := corpus(t, "monorepo", false)
	full := filepath.Join(ws, filepath.FromSlash(apiSecret))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(planted["deploy/aws.env"]), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

var annotation = regexp.MustCompile(`(?m)^::(error|warning|notice) ([^:]*)::`)

// scanner of "rule file:line" lines.
func only(fs []string, prefix string) []string {
	var out []string
	for _, f := range fs {
		if strings.HasPrefix(f, prefix) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func TestSubfolderFindingsAreRelativeToTheRepositoryRoot(t *testing.T) {
	ws := monorepo(t)
	sub := runScan(t, "services/api", map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "secrets,dockerfiles,gocode", "fail-on": "none"})
	if sub.code != 0 {
		t.Fatalf("exit %d\n%s", sub.code, sub.log)
	}
	got := found(sub)
	want := []string{
		"go/G114 services/api/cmd/api/main.go:11",
		"go/G306 services/api/internal/store/store.go:27",
		"go/G401 services/api/internal/store/store.go:22",
		"go/G505 services/api/internal/store/store.go:5",
		"secret/aws-access-token services/api/deploy/aws.env:1",
	}
	if strings.Join(only(got, ""), "\n") != strings.Join(want, "\n") {
		t.Errorf("path services/api:\n got %v\nwant %v\n%s", got, want, sub.log)
	}
	// Every location resolves from the repository root.
	for _, g := range got {
		file := strings.SplitN(strings.Fields(g)[1], ":", 2)[0]
		if _, err := os.Stat(filepath.Join(ws, file)); err != nil {
			t.Errorf("%s does not name a file of the repository: %v", g, err)
		}
	}
	// Annotations carry the same file.
	anns := annotation.FindAllStringSubmatch(sub.log, -1)
	if len(anns) < len(want) {
		t.Fatalf("want %d annotations, got %d:\n%s", len(want), len(anns), sub.log)
	}
	for _, a := range anns {
		if !strings.Contains(a[2], "file=services/api/") {
			t.Errorf("annotation without a repository file: %s", a[0])
		}
	}
	// The whole repository finds the same Go findings in that folder.
	whole := runScan(t, ws, map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "gocode", "fail-on": "none"})
	if a, b := only(found(whole), "go/"), only(got, "go/"); strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("gocode from the root %v != from the sub-folder %v", a, b)
	}
	// Excludes name repository paths too.
	ex := runScan(t, "services/api", map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "secrets", "excludes": "services/api/deploy/**", "fail-on": "none"})
	if len(found(ex)) != 0 {
		t.Errorf("excluded secret reported: %v", found(ex))
	}
	// The gocode helper gets the excludes too.
	exGo := runScan(t, "services/api", map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "gocode", "excludes": "services/api/cmd/**", "fail-on": "none"})
	if got := only(found(exGo), "go/"); len(got) != 3 || strings.Contains(strings.Join(got, " "), "cmd/api") {
		t.Errorf("gocode with services/api/cmd/** excluded: %v\n%s", got, exGo.log)
	}
	// A path that is not a folder of the repository is a clear error.
	bad := runScan(t, "services/nope", map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "secrets"})
	if bad.code == 0 || !strings.Contains(bad.log, "services/nope is not a folder of the repository") {
		t.Errorf("want a clear error for a missing path, got %d:\n%s", bad.code, bad.log)
	}
}

// The released scan image has no Go toolchain: Go code gets a warning that
// names the action with one, and the job does not fail for it.
func TestGoScannersWithoutAToolchainWarn(t *testing.T) {
	ws := monorepo(t)
	t.Setenv("PATH", t.TempDir())
	r := runScan(t, "services/api", map[string]string{"$GITHUB_WORKSPACE": ws, "scanners": "gocode,vulns,secrets"})
	if !strings.Contains(r.log, "::warning title=gocode not run::Go modules found, but this image has no Go toolchain: use gantry-ci/gantry/actions/scan-go") {
		t.Errorf("no warning:\n%s", r.log)
	}
	if got := found(r); len(got) != 1 || !strings.HasPrefix(got[0], "secret/") {
		t.Errorf("findings %v", got)
	}
}
