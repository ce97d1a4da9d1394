package container

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gantry-ci/gantry/internal/tarball"
)

// ImageExists reports whether the engine has the image.
func (e *Engine) ImageExists(ctx context.Context, ref string) bool {
	_, err := e.cli.ImageInspect(ctx, ref)
	return err == nil
}

// ImageLabel is the value of an image's label, and whether it has it.
func (e *Engine) ImageLabel(ctx context.Context, ref, key string) (string, bool) {
	info, err := e.cli.ImageInspect(ctx, ref)
	if err != nil || info.Config == nil {
		return "", false
	}
	v, ok := info.Config.Labels[key]
	return v, ok
}

// EnsureImage makes sure the image is present: locally, or pulled.
func (e *Engine) EnsureImage(ctx context.Context, ref, username, password string) error {
	if e.ImageExists(ctx, ref) {
		return nil
	}
	opts := image.PullOptions{}
	if username != "" {
		auth, _ := json.Marshal(registry.AuthConfig{Username: username, Password: password})
		opts.RegistryAuth = base64.URLEncoding.EncodeToString(auth)
	}
	rc, err := e.cli.ImagePull(ctx, ref, opts)
	if err == nil {
		err = drain(rc)
	}
	if err != nil {
		return fmt.Errorf("image %s is not present locally and could not be pulled: %v; build or import it into the local engine first", ref, err)
	}
	return nil
}

// drain reads a JSON message stream and returns the first error in it.
func drain(rc io.ReadCloser) error { return ReadMessages(rc, nil) }

// ReadMessages reads the JSON message stream of a build, pull, push or
// import to its end, handing each message to each (when not nil), and
// returns the first error the engine reports in it. It closes rc.
func ReadMessages(rc io.ReadCloser, each func(*jsonmessage.JSONMessage)) error {
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if m.Error != nil {
			return m.Error
		}
		if each != nil {
			each(&m)
		}
	}
}

// ImportRootfs imports a root file system directory as an image. Each of
// extra is a label (KEY=VALUE) or a Dockerfile instruction applied to the
// image's config (ENTRYPOINT, ENV, EXPOSE, ...), as `docker import
// --change` does. Like the distributions' own images it runs a shell when
// given no command, so a Dockerfile action built FROM it without CMD or
// ENTRYPOINT still starts.
func (e *Engine) ImportRootfs(ctx context.Context, dir, ref string, extra ...string) error {
	var changes []string
	command := false // an ENTRYPOINT or CMD of the caller's replaces the default shell
	for _, x := range extra {
		if strings.Contains(x, " ") {
			changes = append(changes, x)
			if w := strings.ToUpper(strings.Fields(x)[0]); w == "ENTRYPOINT" || w == "CMD" {
				command = true
			}
			continue
		}
		k, v, ok := strings.Cut(x, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q is neither a label (KEY=VALUE) nor a Dockerfile instruction", x)
		}
		changes = append(changes, fmt.Sprintf("LABEL %q=%q", k, v))
	}
	if !command {
		changes = append(changes, `CMD ["sh"]`)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir, nil)) }()
	rc, err := e.cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{Changes: changes})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("import %s as %s: %w", dir, ref, err)
	}
	if err := drain(rc); err != nil {
		return fmt.Errorf("import %s as %s: %w", dir, ref, err)
	}
	return nil
}

// BuildImage builds dockerfile (a path inside contextDir) with the context,
// tagged by a hash of the context and arguments: an unchanged action is built
// once.
func (e *Engine) BuildImage(ctx context.Context, contextDir, dockerfile string, args map[string]string, tagPrefix string) (string, error) {
	rel, err := filepath.Rel(contextDir, dockerfile)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("dockerfile %s is outside the build context %s", dockerfile, contextDir)
	}
	ignore := readIgnore(contextDir)
	sum, err := hashTree(contextDir, ignore, args)
	if err != nil {
		return "", fmt.Errorf("hash build context %s: %w", contextDir, err)
	}
	if tagPrefix == "" {
		tagPrefix = "gantry-action"
	}
	tag := tagPrefix + ":" + sum[:16]
	if e.ImageExists(ctx, tag) {
		return tag, nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, contextDir, ignore)) }()
	buildArgs := map[string]*string{}
	for k, v := range args {
		buildArgs[k] = &v
	}
	resp, err := e.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags: []string{tag}, Dockerfile: filepath.ToSlash(rel), BuildArgs: buildArgs,
		Remove: true, ForceRemove: true, Labels: map[string]string{LabelManaged: "true"},
	})
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("build %s: %w", dockerfile, err)
	}
	var tail []string
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("build %s: %w", dockerfile, err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("build %s: %v\n%s", dockerfile, m.Error.Message, strings.Join(tail, ""))
		}
		if m.Stream != "" {
			tail = append(tail, m.Stream)
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
	}
	return tag, nil
}

// readIgnore reads .dockerignore: plain path patterns (filepath.Match) and
// directory prefixes are honoured.
func readIgnore(dir string) []string {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "!") {
			out = append(out, strings.TrimPrefix(filepath.Clean(l), "/"))
		}
	}
	return out
}

func ignored(rel string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := filepath.Match(p, rel); ok || rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// walkSorted visits regular files, directories and symlinks in a stable order.
func walkSorted(dir string, ignore []string, fn func(rel string, info fs.FileInfo, path string) error) error {
	skip := func(rel string, _ bool) bool { return ignored(rel, ignore) }
	return tarball.Walk(dir, skip, func(rel, p string) error {
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		return fn(rel, info, p)
	})
}

func hashTree(dir string, ignore []string, args map[string]string) (string, error) {
	h := sha256.New()
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg %s=%s\n", k, args[k])
	}
	err := walkSorted(dir, ignore, func(rel string, info fs.FileInfo, p string) error {
		fmt.Fprintf(h, "%s %o\n", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "-> %s\n", link)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			return err
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// writeTar streams dir as a tar archive, leaving out ignored paths.
func writeTar(w io.Writer, dir string, ignore []string) error {
	return tarball.Write(w, dir, tarball.Options{Skip: func(rel string, _ bool) bool { return ignored(rel, ignore) }})
}

// buildFromTar builds ref from a context written by fill.
func (e *Engine) buildFromTar(ctx context.Context, ref string, fill func(*tar.Writer) error) error {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := fill(tw)
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := e.cli.ImageBuild(ctx, pr, build.ImageBuildOptions{Tags: []string{ref}, Remove: true, ForceRemove: true})
	if err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("build %s: %w", ref, err)
	}
	if err := drain(resp.Body); err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	return nil
}
