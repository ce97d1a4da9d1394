package action

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const metadata = "name: x\nruns:\n  using: composite\n  steps: []\n"

func writeAction(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "action.yml"), []byte(metadata), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 14.1: nothing outside the action cache is ever used as an action,
// whether the reference says so or a symlink in the cache does.
func TestCacheTraversalRefusedAtRunTime(t *testing.T) {
	root := t.TempDir()
	cache := filepath.Join(root, "cache")
	writeAction(t, filepath.Join(root, "evil"))                 // what ../../../evil reaches
	writeAction(t, filepath.Join(cache, "owner", "repo", "v1")) // a legitimate action
	writeAction(t, filepath.Join(root, "outside", "sub"))       // a symlink target
	if err := os.MkdirAll(filepath.Join(cache, "owner", "linked"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(cache, "owner", "linked", "v1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "outside", "sub"), filepath.Join(cache, "owner", "repo", "v1", "jump")); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{CacheDir: cache}
	ctx := context.Background()

	if _, err := ParseRef("owner/repo@../../../evil"); err == nil || !strings.Contains(err.Error(), `".." segment`) {
		t.Errorf("ParseRef accepted a traversal: %v", err)
	}
	// A Ref built by hand skips ParseRef; Resolve must still refuse.
	for _, ref := range []Ref{
		{Owner: "owner", Repo: "repo", Version: "../../../evil"},
		{Owner: "..", Repo: "..", Version: "evil"},
		{Owner: "owner", Repo: "repo", Version: "v1", SubPath: "../../../../evil"},
		{Owner: "owner", Repo: "repo", Version: "/abs"},
	} {
		if dir, err := r.Resolve(ctx, ref); err == nil {
			t.Errorf("Resolve(%+v) = %s, want a refusal", ref, dir)
		}
		if dir, err := r.ResolveRepo(ctx, ref); err == nil && ref.SubPath == "" {
			t.Errorf("ResolveRepo(%+v) = %s, want a refusal", ref, dir)
		}
	}
	for _, ref := range []Ref{
		{Owner: "owner", Repo: "linked", Version: "v1", SubPath: "sub"},
		{Owner: "owner", Repo: "repo", Version: "v1", SubPath: "jump"},
	} {
		if _, err := r.Resolve(ctx, ref); err == nil || !strings.Contains(err.Error(), "resolves outside") {
			t.Errorf("Resolve(%s) through a symlink: %v, want a refusal", ref, err)
		}
	}
	if dir, err := r.Resolve(ctx, Ref{Owner: "owner", Repo: "repo", Version: "v1"}); err != nil || !strings.HasPrefix(dir, cache) {
		t.Errorf("the legitimate action: %s, %v", dir, err)
	}
}

// Issue 14.2: uses: ./link where link points outside the workspace is refused.
func TestLocalActionSymlinkEscapeRefused(t *testing.T) {
	root := t.TempDir()
	ws := filepath.Join(root, "ws")
	writeAction(t, filepath.Join(root, "outside"))
	writeAction(t, filepath.Join(ws, "inside"))
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(ws, "actlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside", filepath.Join(ws, "innerlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ws, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(ws, "d", "up")); err != nil {
		t.Fatal(err)
	}
	r := &Resolver{Workspace: ws}
	for _, uses := range []string{"./actlink", "./d/up/outside"} {
		ref, err := ParseRef(uses)
		if err != nil {
			t.Fatal(err)
		}
		if dir, err := r.Resolve(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "resolves outside") {
			t.Errorf("%s resolved to %s (%v), want a refusal", uses, dir, err)
		}
	}
	ref, _ := ParseRef("./innerlink")
	if _, err := r.Resolve(context.Background(), ref); err != nil {
		t.Errorf("a symlink inside the workspace refused: %v", err)
	}
}

// action.yml names no absolute script or Dockerfile and no env name a
// process cannot hold, each refused at its position.
func TestMetadataRefusesAbsolutePathsAndBadEnvNames(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"name: x\nruns:\n  using: node20\n  main: /etc/evil.js\n", "action.yml:4:9: runs.main \"/etc/evil.js\" is an absolute path"},
		{"name: x\nruns:\n  using: docker\n  image: /Dockerfile\n", "action.yml:4:10: runs.image \"/Dockerfile\" is an absolute path"},
		{"name: x\nruns:\n  using: docker\n  image: Dockerfile\n  env:\n    \"A=B\": v\n", "action.yml:6:5: runs.env: environment variable name \"A=B\" contains '='"},
	} {
		_, err := Parse("action.yml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
	if _, err := Parse("action.yml", []byte("name: x\nruns:\n  using: docker\n  image: ../../Dockerfile\n")); err != nil {
		t.Errorf("a Dockerfile at the repository root refused: %v", err)
	}
}
