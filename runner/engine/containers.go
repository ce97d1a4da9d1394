package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/internal/expr"
	"github.com/gantry-ci/gantry/runner/evaluate"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/toolcache"
	"github.com/gantry-ci/gantry/runner/workflow"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// Container paths GitHub's runner uses for container jobs.
const (
	ctrWork      = "/__w"
	ctrTemp      = "/__w/_temp"
	ctrToolCache = "/opt/hostedtoolcache" // where GitHub's hosted images have it
	ctrHome      = "/github/home"
	ctrWorkflow  = "/github/workflow"
)

func (j *jobRun) startContainers(ctx context.Context, platform string, env *expr.Env) error {
	spec := jobenv.ContainerJobSpec{
		RunID:   j.req.RunID,
		Job:     j.id,
		Network: j.deps.Network,
		Log:     func(f string, a ...any) { j.rep.infof(f, a...) },
	}
	if c := j.job.Container; c != nil {
		if err := fillContainer(&spec.Image, &spec.Env, &spec.Ports, &spec.Volumes, &spec.Options, &spec.Username, &spec.Password, c, env); err != nil {
			return fmt.Errorf("%s: container: %w", c.Pos, err)
		}
	} else if platform != "host" {
		spec.Image = platform
	}
	for _, s := range j.job.Services {
		ss := jobenv.ServiceSpec{ID: s.ID}
		if err := fillContainer(&ss.Image, &ss.Env, &ss.Ports, &ss.Volumes, &ss.Options, &ss.Username, &ss.Password, &s.Container, env); err != nil {
			return fmt.Errorf("%s: services.%s: %w", s.Pos, s.ID, err)
		}
		if ss.Image == "" {
			continue // GitHub skips a service whose image evaluates to empty
		}
		var err error
		if ss.Entrypoint, err = evaluate.String(s.Entrypoint, env); err != nil {
			return fmt.Errorf("%s: services.%s: entrypoint: %w", s.Pos, s.ID, err)
		}
		if ss.Command, err = evaluate.String(s.Command, env); err != nil {
			return fmt.Errorf("%s: services.%s: command: %w", s.Pos, s.ID, err)
		}
		spec.Services = append(spec.Services, ss)
	}
	if spec.Image != "" {
		j.inside = true
		workflowDir := filepath.Join(j.base, "workflow")
		if err := os.MkdirAll(workflowDir, 0o755); err != nil {
			return err
		}
		if err := workspace.CopyFile(j.req.EventPath, filepath.Join(workflowDir, "event.json"), 0o644); err != nil {
			return fmt.Errorf("copy event payload: %w", err)
		}
		workRoot := filepath.Join(j.base, "work")
		if err := os.MkdirAll(workRoot, 0o755); err != nil { // absent when the repository is bound (-b)
			return err
		}
		spec.Mounts = []jobenv.Mount{
			{Source: workRoot, Target: ctrWork},
			{Source: j.temp, Target: ctrTemp},
			{Source: j.toolCache, Target: ctrToolCache},
			{Source: j.home, Target: ctrHome},
			{Source: workflowDir, Target: ctrWorkflow},
		}
		// Tools the cache links to (a seeded pyenv Python) are mounted where
		// the links point, read-only, so they resolve inside the container.
		for _, root := range toolcache.LinkedRoots(j.toolCache) {
			spec.Mounts = append(spec.Mounts, jobenv.Mount{Source: root, Target: root, ReadOnly: true})
		}
		// The workspace gets its own mount where GitHub's layout has it: a
		// bound repository lives elsewhere, and a copy-on-write workspace is
		// a mount of its own that a bind of workRoot need not carry.
		name := j.repoName()
		spec.Mounts = append(spec.Mounts, jobenv.Mount{Source: j.workspace, Target: ctrWork + "/" + name + "/" + name})
	}
	cj, err := j.deps.Containers.StartJob(ctx, spec)
	if err != nil {
		if j.job.Container == nil && spec.Image == platform && strings.Contains(err.Error(), platform) {
			// The image came from gantry's runs-on mapping, which -P changes.
			return fmt.Errorf("job %s: %w; or map the runs-on label to another image or to the host with -P LABEL=IMAGE|host", j.id, err)
		}
		return fmt.Errorf("job %s: %w", j.id, err)
	}
	j.env = cj
	j.mu.Lock()
	// job.container is the job's own container: an image gantry picked for a
	// runs-on label stands in for GitHub's VM, so it is not one. With
	// services only, GitHub's runner still gives the network.
	switch {
	case j.job.Container != nil:
		j.jobCtx["container"] = cj.Context()
	case len(spec.Services) > 0:
		j.jobCtx["container"] = map[string]any{"network": cj.Context()["network"]}
	}
	j.jobCtx["services"] = cj.Services()
	j.mu.Unlock()
	j.eventPathOverride = ""
	if spec.Image != "" {
		j.eventPathOverride = ctrWorkflow + "/event.json"
	}
	j.network = cj.Network()
	return nil
}

func fillContainer(image *string, envOut *map[string]string, ports, volumes *[]string, options, user, pass *string, c *workflow.Container, env *expr.Env) error {
	var err error
	if *image, err = evaluate.String(c.Image, env); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	*envOut = map[string]string{}
	pairs, err := envPairs(c.Env, c.EnvExpr, env)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		(*envOut)[kv.Key] = kv.Value
	}
	for _, p := range c.Ports {
		v, err := evaluate.String(p, env)
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		*ports = append(*ports, v)
	}
	for _, p := range c.Volumes {
		v, err := evaluate.String(p, env)
		if err != nil {
			return fmt.Errorf("volumes: %w", err)
		}
		*volumes = append(*volumes, v)
	}
	if *options, err = evaluate.String(c.Options, env); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	creds := c.Credentials
	if c.CredentialsExpr != "" {
		pairs, err := evaluate.Mapping(c.CredentialsExpr, env)
		if err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		creds = nil
		for _, p := range pairs {
			// already evaluated: keep the value as it is
			creds = append(creds, workflow.KV{Key: p.Key, Value: p.Value})
		}
	}
	for _, kv := range creds {
		v := kv.Value
		if c.CredentialsExpr == "" {
			if v, err = evaluate.String(kv.Value, env); err != nil {
				return fmt.Errorf("credentials: %w", err)
			}
		}
		switch kv.Key {
		case "username":
			*user = v
		case "password":
			*pass = v
		}
	}
	return nil
}
