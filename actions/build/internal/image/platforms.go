package image

import (
	"context"

	"fmt"
	"github.com/docker/docker/client"
	"net/http"
	"strings"
	"time"
)

// Platform is an OS/architecture pair, as image indexes name them.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (Platform, error) {
	f := strings.Split(s, "/")
	if len(f) < 2 || len(f) > 3 || f[0] == "" || f[1] == "" {
		return Platform{}, fmt.Errorf("%q is not OS/ARCH[/VARIANT], e.g. linux/arm64", s)
	}
	p := Platform{OS: f[0], Architecture: f[1]}
	if len(f) == 3 {
		p.Variant = f[2]
	}
	return p, nil
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// suffix names the platform's own tag.
func (p Platform) suffix() string { return strings.ReplaceAll(p.String(), "/", "-") }

// MultiResult is a multi-platform build.
type MultiResult struct {
	Digest    string            // of the index, when pushed
	Platforms map[string]string // platform -> the image built for it (tag), or its pushed manifest digest
}

// BuildPlatforms builds the image once per platform through the Engine API
// (each tagged TAG-OS-ARCH; the build sees TARGETOS, TARGETARCH,
// TARGETVARIANT and TARGETPLATFORM as BuildKit sets them, and {os} and
// {arch} in build argument values are replaced), and with Push pushes each
// and then one index of them under every tag. The Dockerfile should only
// copy files for the target platform (cross-compiled binaries): RUN of
// another architecture's programs needs emulation on the engine.
func BuildPlatforms(ctx context.Context, s Spec, platforms []Platform) (*MultiResult, error) {
	if len(s.Tags) == 0 {
		return nil, fmt.Errorf("image: no tag")
	}
	first, err := ParseRef(s.Tags[0])
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, t := range s.Tags {
		r, err := ParseRef(t)
		if err != nil {
			return nil, err
		}
		if r.Name() != first.Name() {
			return nil, fmt.Errorf("image tags %s and %s name different repositories", s.Tags[0], t)
		}
		refs = append(refs, r)
	}
	res := &MultiResult{Platforms: map[string]string{}}
	var children []descriptor
	reg := &distClient{ref: first, user: s.Username, pass: s.Password, client: &http.Client{Timeout: 2 * time.Minute}}
	for _, p := range platforms {
		ps := s
		ps.Platform = p.String()
		ps.Tags = []string{first.Name() + ":" + first.Tag + "-" + p.suffix()}
		ps.BuildArgs = map[string]string{}
		for k, v := range s.BuildArgs {
			ps.BuildArgs[k] = strings.NewReplacer("{os}", p.OS, "{arch}", p.Architecture).Replace(v)
		}
		for k, v := range map[string]string{"TARGETOS": p.OS, "TARGETARCH": p.Architecture, "TARGETVARIANT": p.Variant, "TARGETPLATFORM": p.String()} {
			if _, set := ps.BuildArgs[k]; !set {
				ps.BuildArgs[k] = v
			}
		}
		r, err := Build(ctx, ps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := checkPlatform(ctx, ps.Tags[0], p); err != nil {
			return nil, err
		}
		res.Platforms[p.String()] = ps.Tags[0]
		if !s.Push {
			continue
		}
		if r.Digest == "" {
			return nil, fmt.Errorf("%s: the engine did not report the pushed digest of %s", p, ps.Tags[0])
		}
		d, err := reg.head(r.Digest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		pp := p
		d.Platform = &pp
		children = append(children, d)
		res.Platforms[p.String()] = r.Digest
	}
	if !s.Push {
		return res, nil
	}
	var tags []string
	for _, r := range refs {
		tags = append(tags, r.Tag)
	}
	res.Digest, err = reg.putIndex(children, tags)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// checkPlatform refuses an image the engine built for another platform
// than asked: the classic builder of older engines commits every image for
// its own platform, whatever the base, which would publish a mislabelled
// image.
func checkPlatform(ctx context.Context, ref string, p Platform) error {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	ii, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", ref, err)
	}
	if ii.Os != p.OS || ii.Architecture != p.Architecture {
		return fmt.Errorf("%s: the engine built a %s/%s image for %s; its builder cannot make images for other platforms (use an engine with BuildKit and the containerd image store, or build each platform on its own machine)", ref, ii.Os, ii.Architecture, p)
	}
	return nil
}
