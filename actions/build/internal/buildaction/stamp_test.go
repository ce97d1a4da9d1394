package buildaction

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo copies the fixture into a fresh repository: a tagged release and
// one commit after it, as a checkout with fetch-depth 0 has.
func gitRepo(t *testing.T, fixture string) (dir, head string, when time.Time) {
	t.Helper()
	dir = t.TempDir()
	src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", fixture))
	if out, err := exec.Command("cp", "-r", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_AUTHOR_DATE=2026-05-04T10:00:00Z", "GIT_COMMITTER_DATE=2026-05-04T10:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "release")
	git("tag", "v1.4.0")
	if err := os.WriteFile(filepath.Join(dir, "NEWS"), []byte("fixes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "a fix after the release")
	return dir, git("rev-parse", "HEAD"), time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
}

// A CLI that keeps its version in internal/version and otherwise relies on
// debug.ReadBuildInfo gets both stamped with no input but the targets.
func TestStampsWithoutConfiguration(t *testing.T) {
	dir, head, when := gitRepo(t, "cobralike")
	code, log, _ := runAction(t, map[string]string{"working-directory": dir, "targets": "linux/amd64, windows/arm64"})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	describe := "v1.4.0-1-g" + head[:7]
	out, err := exec.Command(filepath.Join(dir, "dist", "linux_amd64", "tool")).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.TrimSpace(string(out))
	// Go (1.24+) derives the main module's version from the tag: the next
	// patch's pseudo-version at this commit.
	module := "v1.4.1-0." + when.Format("20060102150405") + "-" + head[:12]
	// The date is the archives' time: SOURCE_DATE_EPOCH, which runAction
	// sets, else the commit's.
	date := time.Unix(1700000000, 0).UTC()
	want := "version=" + describe + " commit=" + head + " date=" + date.Format(time.RFC3339) + " module=" + module + " revision=" + head + " modified=false"
	if got != want {
		t.Errorf("the binary says\n %s\nwant\n %s\n%s", got, want, log)
	}
	// The second target was built as cleanly as the first: nothing the first
	// wrote into the checkout marks it modified.
	exe := filepath.Join(dir, "dist", "windows_arm64", "tool.exe")
	vm, err := exec.Command("go", "version", "-m", exe).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"vcs.modified=false", "vcs.revision=" + head, "mod\texample.com/tool\t" + module} {
		if !strings.Contains(string(vm), w) {
			t.Errorf("second target's build info lacks %q:\n%s", w, vm)
		}
	}
	// -trimpath keeps -ldflags out of the build info: the value is in the binary.
	if b, _ := os.ReadFile(exe); !strings.Contains(string(b), describe) {
		t.Errorf("second target not stamped with %s", describe)
	}
	if _, err := os.Stat(filepath.Join(dir, "dist", "tool_1.4.0-1-g"+head[:7]+"_linux_amd64.tar.gz")); err != nil {
		t.Errorf("archive not named after the version: %v", err)
	}
}

func TestStringVarsFindsWhatXCanSet(t *testing.T) {
	p := filepath.Join(t.TempDir(), "main.go")
	src := `package main

var version, commit = "dev", "none"
var date string
var Version = computeVersion()
var Commit int
const BuildDate = "x"
var (
	revision = ` + "`raw`" + `
	other = "no"
)

func computeVersion() string { return "" }
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(stringVars(p), ",")
	if got != "version,commit,date,revision" {
		t.Errorf("stringVars = %s", got)
	}
}
