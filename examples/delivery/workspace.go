package delivery

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// workspaceFiles are what the pipeline needs from the repository: the
// workflow and its local composite action, the actions' metadata and
// Dockerfile, and the shop.
var workspaceFiles = []string{
	"Dockerfile", ".dockerignore", "action.yml",
	"actions/build/action.yml", "actions/test/action.yml", "actions/scan/action.yml",
	"actions/canary/action.yml", "actions/flag/action.yml",
	".github/workflows/deliver.yml", ".github/actions/keep",
	"examples/shop",
}

// prepareWorkspace copies what the pipeline needs into ws and builds the
// actions into ws/dist/actions, which the root Dockerfile takes with
// PREBUILT=1 (containers here cannot download the actions' modules).
func prepareWorkspace(ctx context.Context, repo, ws string) error {
	for _, p := range workspaceFiles {
		if err := copyTree(filepath.Join(repo, p), filepath.Join(ws, p)); err != nil {
			return fmt.Errorf("prepare the workspace: %w", err)
		}
	}
	warmGoCache(ctx, filepath.Join(ws, goCacheDir))
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(ws, "dist", "actions")+string(filepath.Separator),
		"./actions/build", "./actions/test", "./actions/scan", "./actions/scan/cmd/scan-gocode", "./actions/canary", "./actions/flag", "./actions/dispatch")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build the actions: %v\n%s", err, out)
	}
	return nil
}

// copyTree copies a file or folder, leaving out build output.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (d.Name() == "dist" || d.Name() == "reports" || d.Name() == ".gantry") && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasSuffix(p, ".test") {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, info.Mode().Perm())
}

// goCacheDir is the Go build cache the pipeline's Go actions share, inside
// the workspace (the GO_CACHE_DIR variable).
const goCacheDir = ".gantry/gocache"

// warmGoCache fills dst with hard links to this machine's Go build cache:
// the actions' containers run the same Go from the same GOROOT, so its
// compiled standard library is valid there, and a cold compile in every
// container costs minutes on a busy machine. Go never rewrites a cache
// file in place, so the links cannot change the machine's cache. Where
// links fail (another file system) the pipeline just starts cold.
func warmGoCache(ctx context.Context, dst string) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output()
	src := strings.TrimSpace(string(out))
	if err != nil || src == "" || src == "off" {
		return
	}
	_ = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.Link(p, target); err != nil && !os.IsExist(err) {
			return filepath.SkipAll
		}
		return nil
	})
}
