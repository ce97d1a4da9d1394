package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"gopkg.in/yaml.v3"
)

// keyValues reads KEY=VALUE flags and dotenv files. With fromEnv, a bare KEY
// takes its value from gantry's own environment (as act's -s does).
func keyValues(flags, files []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		kv, err := parseDotenv(file, data)
		if err != nil {
			return nil, err
		}
		for k, v := range kv {
			out[k] = v
		}
	}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: use KEY=VALUE", f)
		}
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("%q: use KEY=VALUE", f)
			}
			ev, found := os.LookupEnv(k)
			if !found {
				return nil, fmt.Errorf("%s is not set in the environment; pass %s=VALUE", k, k)
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

// parseDotenv reads KEY=VALUE lines; # comments, blank lines, `export `
// prefixes and quoted values are understood.
func parseDotenv(name string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d:1: expected KEY=VALUE", name, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			q := v[0]
			v = v[1 : len(v)-1]
			if q == '"' {
				v = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(v)
			}
		}
		out[k] = v
	}
	return out, sc.Err()
}

// config is .gantry.yml in the repository or ~/.config/gantry/config.yml.
type config struct {
	Platforms map[string]string `yaml:"platforms"`
	BuildArgs map[string]string `yaml:"build-args"`
	// The tool cache and the docker socket: see tools.go.
	ToolCache    string   `yaml:"tool-cache"`
	Toolchains   []string `yaml:"toolchains"`
	DockerSocket string   `yaml:"docker-socket"`
}

func loadConfig(path string) (*config, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var c config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w (expected e.g. `platforms: {ubuntu-latest: host}`)", path, err)
	}
	return &c, nil
}

// platforms merges the label mappings (user config < repository config < -P
// flags) and the build arguments for Dockerfile actions likewise.
func platforms(repo string, flags, argFlags []string) (map[string]string, map[string]string, error) {
	out := map[string]string{}
	args := map[string]string{}
	var paths []string
	if dir, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(dir, "gantry", "config.yml"), filepath.Join(dir, "gantry"))
	}
	paths = append(paths, filepath.Join(repo, ".gantry.yml"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			continue
		}
		c, err := loadConfig(p)
		if err != nil {
			return nil, nil, err
		}
		if c != nil {
			for k, v := range c.Platforms {
				out[strings.ToLower(k)] = v
			}
			for k, v := range c.BuildArgs {
				args[k] = v
			}
		}
	}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || v == "" {
			return nil, nil, fmt.Errorf("-P %q: use LABEL=host or LABEL=IMAGE", f)
		}
		out[strings.ToLower(k)] = v
	}
	for _, f := range argFlags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--build-arg %q: use KEY=VALUE", f)
		}
		args[k] = v
	}
	for k, v := range out {
		if v == "-self-hosted" || v == "self-hosted" {
			out[k] = "host" // act spells it -self-hosted
		}
	}
	return out, args, nil
}

// containerBackend connects to the Docker engine when one answers; jobs that
// need containers then run there. Without one, host jobs still run and the
// reason is kept for the error of any job that needs containers.
func containerBackend(ctx context.Context) (jobenv.ContainerBackend, string) {
	e, err := container.Connect(ctx)
	if err != nil {
		return nil, err.Error()
	}
	return dockerbackend.New(e), ""
}
