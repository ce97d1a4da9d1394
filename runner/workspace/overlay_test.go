package workspace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mounted(t *testing.T, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

func TestOverlayIsolatesJobsAndUnmounts(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("repo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, ".gantry", "summaries"), 0o755); err != nil {
		t.Fatal(err)
	}
	var fellBack string
	o := &Overlay{Repo: repo, Fallback: func(r string) { fellBack = r }}
	base := t.TempDir()
	dir1, dir2 := filepath.Join(base, "j1", "w"), filepath.Join(base, "j2", "w")
	p1, rel1, err := o.Prepare(context.Background(), dir1, filepath.Join(base, "j1", "layers"))
	if err != nil {
		t.Fatal(err)
	}
	p2, rel2, err := o.Prepare(context.Background(), dir2, filepath.Join(base, "j2", "layers"))
	if err != nil {
		t.Fatal(err)
	}
	if fellBack != "" {
		t.Skipf("overlay mounts are not available here, copies were used: %s", fellBack)
	}
	if !mounted(t, p1) || !mounted(t, p2) {
		t.Fatalf("workspaces %s and %s are not mounts", p1, p2)
	}
	if _, err := os.Stat(filepath.Join(p1, ".gantry")); err == nil {
		t.Error("the workspace shows gantry's own .gantry folder")
	}
	if _, err := os.Stat(filepath.Join(repo, ".gantry", "summaries")); err != nil {
		t.Error("hiding .gantry in the workspace touched the repository's")
	}
	// Job 1 changes, adds and deletes; job 2 and the repository see none of it.
	if err := os.WriteFile(filepath.Join(p1, "a.txt"), []byte("job1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p1, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p2, "a.txt")); string(b) != "repo" {
		t.Errorf("job 2 sees a.txt = %q, want the repository's", b)
	}
	if _, err := os.Stat(filepath.Join(p2, "new.txt")); err == nil {
		t.Error("job 2 sees job 1's new file")
	}
	if err := os.Remove(filepath.Join(p2, "a.txt")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "a.txt")); string(b) != "repo" {
		t.Errorf("the repository's a.txt = %q after the jobs wrote", b)
	}
	if _, err := os.Stat(filepath.Join(repo, "new.txt")); err == nil {
		t.Error("a job's file landed in the repository")
	}
	if err := rel1(); err != nil {
		t.Fatal(err)
	}
	if err := rel2(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{p1, p2} {
		if mounted(t, p) {
			t.Errorf("%s is still mounted after release", p)
		}
	}
	// The layers are the caller's to remove, and nothing holds them now.
	for _, d := range []string{filepath.Join(base, "j1"), filepath.Join(base, "j2")} {
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("remove %s after release: %v", d, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "a.txt")); string(b) != "repo" {
		t.Errorf("removing the jobs' folders changed the repository: a.txt = %q", b)
	}
}

func TestOverlayFallsBackToCopyOnce(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("repo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	o := &Overlay{Repo: repo, Fallback: func(r string) { reasons = append(reasons, r) }}
	base := t.TempDir()
	// overlayfs refuses an upper layer on overlayfs and a lower layer that
	// is a file; a scratch folder whose path is a file fails as surely.
	blocker := filepath.Join(base, "scratch")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"w1", "w2"} {
		p, release, err := o.Prepare(context.Background(), filepath.Join(base, name), blocker)
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		if b, _ := os.ReadFile(filepath.Join(p, "a.txt")); string(b) != "repo" {
			t.Errorf("job %d: the copied workspace has a.txt = %q", i, b)
		}
		if mounted(t, p) {
			t.Errorf("job %d: a fallback workspace is a mount", i)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("job %d: release left %s", i, p)
		}
	}
	if len(reasons) != 1 || !strings.Contains(reasons[0], "full copy") {
		t.Errorf("fallback reasons = %q, want one saying copies are used", reasons)
	}
}
