package secrets

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestHistoryFindsRemovedSecrets(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	key := "AKIA" + "Z7VRSQ4QK3XWUJ2M"
	if err := os.WriteFile(filepath.Join(dir, "creds.env"), []byte("AWS_ACCESS_KEY_ID="+key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "oops")
	if err := os.WriteFile(filepath.Join(dir, "creds.env"), []byte("AWS_ACCESS_KEY_ID=${AWS_KEY}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "commit", "-qam", "remove the key")
	after := git(t, dir, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("nothing here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-qm", "notes")

	tree, err := Scan(dir, nil)
	if err != nil || len(tree) != 0 {
		t.Fatalf("working tree: %v %v", tree, err)
	}
	past, err := History(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(past) != 1 || past[0].File != "creds.env" || past[0].Line != 1 || !strings.Contains(past[0].Message, "in commit ") || strings.Contains(past[0].Message, key) {
		t.Fatalf("history findings: %+v", past)
	}
	recent, err := History(context.Background(), dir, after)
	if err != nil || len(recent) != 0 {
		t.Errorf("since %s should see no secret: %v %v", after, recent, err)
	}
}

func TestRedact(t *testing.T) {
	if Redact("short") != "****" || Redact("ghp_abcdefghijkl") != "ghp_********" {
		t.Error("redaction wrong")
	}
}

func TestRepositoryConfigExtendsDefaults(t *testing.T) {
	dir := t.TempDir()
	conf := "[extend]\nuseDefault = true\n\n[[rules]]\nid = \"acme-token\"\ndescription = \"ACME internal token\"\nregex = '''acme_[a-z0-9]{20}'''\n\n[allowlist]\npaths = ['''fixtures/''']\n"
	files := map[string]string{
		".gitleaks.toml":   conf,
		"app/config.txt":   "token = " + "acme_" + "k3j4h5g6f7d8s9a0p1o2" + "\n",
		"app/aws.env":      "AWS_ACCESS_KEY_ID=" + "AKIA" + "Z7VRSQ4QK3XWUJ2M" + "\n",
		"fixtures/aws.env": "AWS_ACCESS_KEY_ID=" + "AKIA" + "Q2WXS7RTN5BHJ6KL" + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs, err := Scan(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fs {
		got[f.File] = f.Rule.ID
	}
	if got["app/config.txt"] != "secret/acme-token" || got["app/aws.env"] != "secret/aws-access-token" {
		t.Errorf("custom and default rules: %v", got)
	}
	if _, ok := got["fixtures/aws.env"]; ok {
		t.Errorf("the repository's allowlist was ignored: %v", got)
	}
}
