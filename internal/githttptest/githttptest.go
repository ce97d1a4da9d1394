// Package githttptest serves git repositories over smart HTTP on
// 127.0.0.1 for tests, through git's own http-backend as a CGI program
// (net/http/cgi), as a forge serves them.
package githttptest

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Serve serves the bare repositories under root (root/OWNER/REPO) as
// URL/OWNER/REPO and URL/OWNER/REPO.git until the test ends.
func Serve(t testing.TB, root string) *httptest.Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git-http-backend: %v", err)
	}
	h := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	// Like a forge, answer for OWNER/REPO and OWNER/REPO.git alike.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if parts := strings.SplitN(r.URL.Path, "/", 4); len(parts) >= 3 {
			parts[2] = strings.TrimSuffix(parts[2], ".git")
			r.URL.Path = strings.Join(parts, "/")
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Repo makes a bare repository root/OWNER/REPO holding files, committed
// and tagged tag.
func Repo(t testing.TB, root, owner, repo, tag string, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	for name, data := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bare := filepath.Join(root, owner, repo)
	run := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run(work, "init", "--quiet", "-b", "main")
	run(work, "add", ".")
	run(work, "commit", "--quiet", "-m", "action")
	run(work, "tag", tag)
	if err := os.MkdirAll(filepath.Dir(bare), 0o755); err != nil {
		t.Fatal(err)
	}
	run(work, "clone", "--quiet", "--bare", work, bare)
}
