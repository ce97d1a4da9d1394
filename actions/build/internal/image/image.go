// Package image builds a container image through the Docker Engine API with
// OCI annotations, and pushes it to a registry.
package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/internal/tarball"
)

// Spec is one image to build and push.
type Spec struct {
	Context    string
	Dockerfile string // relative to Context
	Tags       []string
	Labels     map[string]string
	BuildArgs  map[string]string
	Platform   string // os/arch to build for; "" is the engine's own
	Push       bool
	Username   string
	Password   string
	Log        io.Writer
}

// Result names what was built and pushed.
type Result struct {
	ID     string
	Digest string // of the first pushed tag
}

// Build builds (and with Push, pushes) the image.
func Build(ctx context.Context, s Spec) (*Result, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx); err != nil {
		return nil, fmt.Errorf("no Docker engine answers (%v); mount /var/run/docker.sock or set DOCKER_HOST", err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(tarball.Write(pw, s.Context, tarball.Options{Skip: func(rel string, isDir bool) bool { return isDir && filepath.Base(rel) == ".git" }}))
	}()
	args := map[string]*string{}
	for k, v := range s.BuildArgs {
		args[k] = &v
	}
	resp, err := cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags: s.Tags, Dockerfile: s.Dockerfile, Labels: s.Labels, BuildArgs: args, Remove: true, ForceRemove: true, Platform: s.Platform,
	})
	if err != nil {
		pr.CloseWithError(err)
		return nil, fmt.Errorf("build image: %w", err)
	}
	if err := stream(resp.Body, s.Log); err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	ii, err := cli.ImageInspect(ctx, s.Tags[0])
	if err != nil {
		return nil, fmt.Errorf("inspect built image: %w", err)
	}
	res := &Result{ID: ii.ID}
	if !s.Push {
		return res, nil
	}
	auth := ""
	if s.Username != "" {
		b, _ := json.Marshal(registry.AuthConfig{Username: s.Username, Password: s.Password})
		auth = base64.URLEncoding.EncodeToString(b)
	}
	for _, tag := range s.Tags {
		rc, err := cli.ImagePush(ctx, tag, image.PushOptions{RegistryAuth: auth})
		if err != nil {
			return nil, fmt.Errorf("push %s: %w", tag, err)
		}
		var log strings.Builder
		w := io.Writer(&log)
		if s.Log != nil {
			w = io.MultiWriter(&log, s.Log)
		}
		if err := stream(rc, w); err != nil {
			return nil, fmt.Errorf("push %s: %w", tag, err)
		}
		if res.Digest == "" {
			if m := digestLine.FindStringSubmatch(log.String()); m != nil {
				res.Digest = m[1]
			}
		}
	}
	return res, nil
}

var digestLine = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)

func stream(rc io.ReadCloser, log io.Writer) error {
	return container.ReadMessages(rc, func(m *jsonmessage.JSONMessage) {
		if log == nil {
			return
		}
		if m.Stream != "" {
			fmt.Fprint(log, m.Stream)
		} else if m.Status != "" && m.Progress == nil {
			fmt.Fprintln(log, m.Status)
		}
	})
}
