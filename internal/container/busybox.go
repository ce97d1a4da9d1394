package container

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/tarball"
)

// BuildBusybox makes a tiny image from a static busybox binary: /bin/busybox
// and a link for each applet.
func BuildBusybox(ctx context.Context, e *Engine, busybox, ref string) error {
	dir, err := os.MkdirTemp("", "gantry-busybox-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"bin", "tmp", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "etc", "group"), []byte("root:x:0:\n"), 0o644); err != nil {
		return err
	}
	return e.ImportRootfs(ctx, dir, ref)
}

// BuildGoImage makes a Go toolchain image (a local stand-in for golang:*)
// from a base image and a GOROOT on this machine, streamed as the build
// context without copying it on disk.
func BuildGoImage(ctx context.Context, e *Engine, goroot, base, ref string) error {
	dockerfile := "FROM " + base + "\nCOPY go /usr/local/go\nENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOTOOLCHAIN=local\n"
	return e.buildFromTar(ctx, ref, func(tw *tar.Writer) error {
		if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
			return err
		}
		if _, err := tw.Write([]byte(dockerfile)); err != nil {
			return err
		}
		skip := map[string]bool{"test": true, "api": true, "doc": true, ".git": true}
		return tarball.Add(tw, goroot, tarball.Options{Prefix: "go", Skip: func(rel string, _ bool) bool { return skip[rel] }})
	})
}
