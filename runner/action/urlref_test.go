package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/githttptest"
)

func actionFiles(say string) map[string]string {
	return map[string]string{"action.yml": "name: hello\nruns:\n  using: composite\n  steps:\n    - run: echo " + say + "\n      shell: bash\n",
		"sub/action.yml": "name: sub\nruns:\n  using: composite\n  steps:\n    - run: echo sub\n      shell: bash\n"}
}

// uses: http://HOST/owner/repo@v1 is cloned from that host over git's
// smart HTTP, cached under the host, and two hosts' owner/repo stay apart.
func TestURLActionClonedFromItsHost(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	githttptest.Repo(t, rootA, "owner", "repo", "v1", actionFiles("from-a"))
	githttptest.Repo(t, rootB, "owner", "repo", "v1", actionFiles("from-b"))
	a, b := githttptest.Serve(t, rootA), githttptest.Serve(t, rootB)
	cache := t.TempDir()
	src := CacheSource{CacheDir: cache, FetchURLs: true}
	ctx := context.Background()

	for _, c := range []struct{ url, want string }{{a.URL, "from-a"}, {b.URL, "from-b"}} {
		ref, err := ParseRef(c.url + "/owner/repo@v1")
		if err != nil {
			t.Fatal(err)
		}
		if ref.String() != c.url+"/owner/repo@v1" {
			t.Errorf("String() = %q", ref.String())
		}
		dir, err := src.Resolve(ctx, ref, t.TempDir())
		if err != nil {
			t.Fatalf("resolve %s: %v", ref, err)
		}
		host := strings.ReplaceAll(strings.TrimPrefix(c.url, "http://"), ":", "_")
		if want := filepath.Join(cache, "_hosts", host, "owner", "repo", "v1"); dir != want {
			t.Errorf("cached at %s, want %s", dir, want)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "action.yml"))
		if !strings.Contains(string(data), c.want) {
			t.Errorf("%s resolved to the wrong action:\n%s", ref, data)
		}
	}
	// A sub-path action, and the cache answering offline afterwards.
	ref, _ := ParseRef(a.URL + "/owner/repo/sub@v1")
	a.Close()
	dir, err := (CacheSource{CacheDir: cache}).Resolve(ctx, ref, "")
	if err != nil || filepath.Base(dir) != "sub" {
		t.Fatalf("cached sub-path action: %s %v", dir, err)
	}
	// GitHub's owner/repo@v1 is not the host's.
	gh, _ := ParseRef("owner/repo@v1")
	if _, err := (CacheSource{CacheDir: cache}).Resolve(ctx, gh, ""); err == nil {
		t.Error("owner/repo@v1 resolved to a full-URL action's cache entry")
	}
}

func TestURLActionNeedsFetchAllowed(t *testing.T) {
	root := t.TempDir()
	githttptest.Repo(t, root, "o", "r", "v2", actionFiles("x"))
	srv := githttptest.Serve(t, root)
	ref, err := ParseRef(srv.URL + "/o/r@v2")
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err = (CacheSource{CacheDir: cache}).Resolve(context.Background(), ref, "")
	if err == nil || !strings.Contains(err.Error(), "gantry actions fetch") || !strings.Contains(err.Error(), "git clone "+srv.URL+"/o/r") {
		t.Fatalf("want the fetch advice, got %v", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("a refused fetch left %d entries in the cache", len(entries))
	}
	// A folder mirror is offline: HOST/OWNER/REPO in it.
	mirror := t.TempDir()
	host := strings.ReplaceAll(strings.TrimPrefix(srv.URL, "http://"), ":", "_")
	githttptest.Repo(t, filepath.Join(mirror, host), "o", "r", "v2", actionFiles("mirrored"))
	srv.Close()
	dir, err := (CacheSource{CacheDir: cache, Mirror: mirror}).Resolve(context.Background(), ref, "")
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "action.yml")); !strings.Contains(string(data), "mirrored") {
		t.Errorf("not from the folder mirror:\n%s", data)
	}
	// An unknown tag leaves nothing behind.
	bad, _ := ParseRef("http://127.0.0.1:1/o/r@nope")
	if _, err := (CacheSource{CacheDir: cache, FetchURLs: true}).Resolve(context.Background(), bad, ""); err == nil {
		t.Error("a clone from a closed port succeeded")
	}
	matches, _ := filepath.Glob(filepath.Join(cache, "_hosts", "*", "o", "r", ".clone-*"))
	if len(matches) != 0 {
		t.Errorf("failed clone left %v", matches)
	}
}

func TestParseRefURLErrors(t *testing.T) {
	for in, want := range map[string]string{
		"https://u:secret@h/o/r@v1": "credentials",
		"ssh://h/o/r@v1":            "only http:// and https://",
		"https://h/o/r@a..b":        `contains ".."`,
	} {
		_, err := ParseRef(in)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseRef(%q) = %v, want %q", in, err, want)
		}
	}
	// A Ref built by hand is checked again before it names a folder.
	if _, err := CacheDirFor(t.TempDir(), Ref{URL: "file://", Owner: "o", Repo: "r", Version: "v1"}); err == nil {
		t.Error("a file:// base was accepted")
	}
}
