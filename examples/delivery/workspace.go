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
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(ws, "dist", "actions")+string(filepath.Separator),
		"./actions/build", "./actions/test", "./actions/scan", "./actions/canary", "./actions/flag", "./actions/dispatch")
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
