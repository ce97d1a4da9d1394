package gitops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/ghfake"
)

func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init"}} {
		run(t, dir, args...)
	}
	return dir
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCheckoutCommitsOnlyTheFlagFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	// This machine's own git identity must not hide the bot fallback.
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := gitRepo(t, map[string]string{"flags/app.json": "old\n", "other.txt": "x\n"})
	// Someone else's staged work must not ride along in the flag commit.
	if err := os.WriteFile(filepath.Join(dir, "other.txt"), []byte("staged\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "add", "other.txt")
	c := &Checkout{Dir: dir, Commit: true, Author: Bot}
	got, err := c.Read(context.Background(), "flags/app.json")
	if err != nil || string(got) != "old\n" {
		t.Fatalf("read: %q %v", got, err)
	}
	res, err := c.Write(context.Background(), Change{Message: "flag app: on", Files: map[string][]byte{"flags/app.json": []byte("new\n"), "flags/audit.jsonl": []byte("{}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if head := run(t, dir, "rev-parse", "HEAD"); res.SHA != head {
		t.Errorf("sha %q, HEAD %q", res.SHA, head)
	}
	if files := run(t, dir, "show", "--name-only", "--format=%s|%an", "HEAD"); files != "flag app: on|github-actions[bot]\n\nflags/app.json\nflags/audit.jsonl" {
		t.Errorf("commit:\n%s", files)
	}
	if st := run(t, dir, "status", "--porcelain"); st != "M  other.txt" {
		t.Errorf("status after commit: %q", st)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "flags/app.json")); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", fi.Mode().Perm())
	}
	// The checkout's own identity wins over the bot's.
	run(t, dir, "config", "user.name", "Release Bot")
	run(t, dir, "config", "user.email", "release@example.com")
	if _, err := c.Write(context.Background(), Change{Message: "again", Files: map[string][]byte{"flags/app.json": []byte("newer\n")}}); err != nil {
		t.Fatal(err)
	}
	if an := run(t, dir, "log", "-1", "--format=%an"); an != "Release Bot" {
		t.Errorf("author %q", an)
	}
}

func TestCheckoutWithoutRepositoryOrOutside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.json"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Checkout{Dir: dir, Commit: true, Author: Bot}
	_, err := c.Write(context.Background(), Change{Message: "m", Files: map[string][]byte{"f.json": []byte("new")}})
	if err == nil || !strings.Contains(err.Error(), "needs a git checkout") {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f.json")); string(b) != "old" {
		t.Errorf("file written although the commit could not be made: %q", b)
	}
	plain := &Checkout{Dir: dir}
	if _, err := plain.Write(context.Background(), Change{Files: map[string][]byte{"f.json": []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f.json")); string(b) != "new" {
		t.Errorf("commit none did not write: %q", b)
	}
	for _, p := range []string{"../x.json", "/etc/passwd", ""} {
		if _, err := plain.Read(context.Background(), p); err == nil {
			t.Errorf("read %q allowed", p)
		}
		if _, err := plain.Write(context.Background(), Change{Files: map[string][]byte{p: nil}}); err == nil {
			t.Errorf("write %q allowed", p)
		}
	}
	if _, err := plain.Read(context.Background(), "missing.json"); !IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func newFake(t *testing.T) (*ghfake.Server, *GitHub) {
	t.Helper()
	fake := ghfake.New("acme", "shop", "s3cret", map[string]string{"flags/app.json": "v1\n", "README.md": "hi\n", "big.json": strings.Repeat("x", 1<<20+10)})
	t.Cleanup(fake.Close)
	gh, err := NewGitHub(fake.URL, "s3cret", "acme/shop")
	if err != nil {
		t.Fatal(err)
	}
	return fake, gh
}

func TestBranchCommitsAtomicallyAndDetectsConcurrentPush(t *testing.T) {
	fake, gh := newFake(t)
	ctx := context.Background()
	b := &Branch{GH: gh, Branch: "main"}
	got, err := b.Read(ctx, "flags/app.json")
	if err != nil || string(got) != "v1\n" {
		t.Fatalf("read: %q %v", got, err)
	}
	if _, err := b.Read(ctx, "flags/audit.jsonl"); !IsNotExist(err) {
		t.Fatalf("missing audit log: %v", err)
	}
	if big, err := b.Read(ctx, "big.json"); err != nil || len(big) != 1<<20+10 {
		t.Fatalf("big file (no inline content): %d bytes, %v", len(big), err)
	}
	parent := fake.Head("main").SHA
	res, err := b.Write(ctx, Change{Message: "flag app: on", Files: map[string][]byte{"flags/app.json": []byte("v2\n"), "flags/audit.jsonl": []byte("{}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	head := fake.Head("main")
	if head.SHA != res.SHA || head.Message != "flag app: on" || len(head.Parents) != 1 || head.Parents[0] != parent {
		t.Fatalf("head %+v, result %+v", head, res)
	}
	for p, want := range map[string]string{"flags/app.json": "v2\n", "flags/audit.jsonl": "{}\n", "README.md": "hi\n"} {
		if got, _ := fake.File("main", p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}

	// A push between read and write is not overwritten.
	if _, err := b.Read(ctx, "flags/app.json"); err != nil {
		t.Fatal(err)
	}
	fake.Push("main", "someone's change", map[string]string{"README.md": "changed\n"})
	_, err = b.Write(ctx, Change{Message: "flag app: off", Files: map[string][]byte{"flags/app.json": []byte("v1\n")}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
	b.Refresh()
	if _, err := b.Read(ctx, "flags/app.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(ctx, Change{Message: "flag app: off", Files: map[string][]byte{"flags/app.json": []byte("v1\n")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.File("main", "README.md"); got != "changed\n" {
		t.Errorf("concurrent change lost: %q", got)
	}
	if got, _ := fake.File("main", "flags/app.json"); got != "v1\n" {
		t.Errorf("flag file %q", got)
	}
}

func TestPullRequestOpensFromNewBranch(t *testing.T) {
	fake, gh := newFake(t)
	ctx := context.Background()
	base := fake.Head("main").SHA
	p := &PullRequest{GH: gh, Base: "main", Branch: "flag/app-on"}
	if _, err := p.Read(ctx, "flags/app.json"); err != nil {
		t.Fatal(err)
	}
	res, err := p.Write(ctx, Change{Message: "flag app: on", Title: "Turn app on", Body: "before/after", Files: map[string][]byte{"flags/app.json": []byte("v2\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if fake.Head("main").SHA != base {
		t.Error("base branch moved")
	}
	if got, _ := fake.File("flag/app-on", "flags/app.json"); got != "v2\n" || fake.Head("flag/app-on").SHA != res.SHA {
		t.Errorf("branch file %q, head %v, result %+v", got, fake.Head("flag/app-on"), res)
	}
	prs := fake.Pulls()
	if len(prs) != 1 || prs[0].Title != "Turn app on" || prs[0].Body != "before/after" || prs[0].Head != "flag/app-on" || prs[0].Base != "main" || res.PullRequestURL != prs[0].URL {
		t.Fatalf("pulls %+v, result %+v", prs, res)
	}
	again := &PullRequest{GH: gh, Base: "main", Branch: "flag/app-on"}
	if _, err := again.Read(ctx, "flags/app.json"); err != nil {
		t.Fatal(err)
	}
	_, err = again.Write(ctx, Change{Message: "m", Title: "t", Files: map[string][]byte{"flags/app.json": []byte("v3\n")}})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "input branch") {
		t.Fatalf("existing branch: %v", err)
	}
}

func TestGitHubErrors(t *testing.T) {
	fake, _ := newFake(t)
	bad, err := NewGitHub(fake.URL, "wrong", "acme/shop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Branch{GH: bad, Branch: "main"}).Read(context.Background(), "flags/app.json"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v", err)
	}
	_, gh := newFake(t)
	if _, err := (&Branch{GH: gh, Branch: "nope"}).Read(context.Background(), "flags/app.json"); err == nil || !strings.Contains(err.Error(), "branch nope not found") {
		t.Fatalf("missing branch: %v", err)
	}
	if d, err := gh.DefaultBranch(context.Background()); err != nil || d != "main" {
		t.Fatalf("default branch %q %v", d, err)
	}
	for _, r := range []string{"acme", "acme/shop/x", "/shop"} {
		if _, err := NewGitHub(fake.URL, "t", r); err == nil {
			t.Errorf("repository %q accepted", r)
		}
	}
	if _, err := NewGitHub("ftp://x", "t", "a/b"); err == nil {
		t.Error("ftp API URL accepted")
	}
}
