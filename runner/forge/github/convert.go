package github

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/workflow"
)

var jobKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// toJob turns the job message into a forge.Job: a workflow holding the one
// job rebuilt from the message's steps and tokens, the server's contexts,
// the secret variables as secrets, and the runtime endpoints as env.
func toJob(m *jobRequestMessage, labels []string) (*forge.Job, error) {
	if m.Plan == nil || m.JobID == "" {
		return nil, errors.New("the job message has no plan or job id")
	}
	if len(m.Steps) == 0 {
		return nil, errors.New("the job message has no steps")
	}
	ctx := map[string]any{}
	for k, v := range m.ContextData {
		if v != nil {
			ctx[k] = v.v
		}
	}
	gh, _ := ctx["github"].(map[string]any)
	key := m.JobName
	if !jobKeyRE.MatchString(key) {
		key = "job"
	}
	event, _ := gh["event_name"].(string)
	wf, err := workflowYAML(m, key, event, gh, labels)
	if err != nil {
		return nil, err
	}
	if _, perr := workflow.Parse(workflowPath(gh), wf); perr != nil && strings.Contains(perr.Error(), "unknown event") {
		// GitHub has events of its own ("dynamic") a workflow file cannot
		// name; on: only has to parse, the github context says the event.
		if wf, err = workflowYAML(m, key, "workflow_dispatch", gh, labels); err != nil {
			return nil, err
		}
	}
	job := &forge.Job{
		ServerID:     m.JobID,
		Workflow:     wf,
		WorkflowPath: workflowPath(gh),
		JobID:        key,
		GitHub:       gh,
		Secrets:      map[string]string{},
		Vars:         stringMap(ctx["vars"]),
		Env:          map[string]string{},
		Labels:       labels,
	}
	if gh != nil {
		job.Event, _ = gh["event_name"].(string)
		job.Payload, _ = gh["event"].(map[string]any)
	}
	if in, ok := ctx["inputs"].(map[string]any); ok {
		job.Inputs = in
	}
	if mx, ok := ctx["matrix"].(map[string]any); ok && len(mx) > 0 {
		job.Matrix = mx
	}
	if needs, ok := ctx["needs"].(map[string]any); ok {
		job.Needs = map[string]forge.Need{}
		for id, v := range needs {
			n, _ := v.(map[string]any)
			res, _ := n["result"].(string)
			job.Needs[id] = forge.Need{Result: report.Result(res), Outputs: stringMap(n["outputs"])}
		}
	}
	for name, v := range m.Variables {
		if !v.IsSecret || v.Value == "" {
			continue
		}
		job.Masks = append(job.Masks, v.Value)
		switch lower := strings.ToLower(name); {
		case lower == "system.github.token":
			job.Secrets["GITHUB_TOKEN"] = v.Value
		case !strings.HasPrefix(lower, "system."):
			job.Secrets[name] = v.Value
		}
	}
	for _, h := range m.Mask {
		if h.Value != "" {
			job.Masks = append(job.Masks, h.Value)
		}
	}
	if sys := m.endpoint("SystemVssConnection"); sys != nil {
		token := sys.Authorization.Parameters["AccessToken"]
		if token != "" {
			job.Masks = append(job.Masks, token)
		}
		runtimeURL := sys.URL
		if v := sys.Data["PipelinesServiceUrl"]; v != "" {
			runtimeURL = v
		}
		set := func(k, v string) {
			if v != "" {
				job.Env[k] = v
			}
		}
		set("ACTIONS_RUNTIME_URL", runtimeURL)
		set("ACTIONS_RUNTIME_TOKEN", token)
		set("ACTIONS_CACHE_URL", sys.Data["CacheServerUrl"])
		results := sys.Data["ResultsServiceUrl"]
		if v := m.Variables["system.github.results_endpoint"].Value; results == "" && v != "" {
			results = v
		}
		set("ACTIONS_RESULTS_URL", results)
		if idURL := sys.Data["GenerateIdTokenUrl"]; idURL != "" {
			set("ACTIONS_ID_TOKEN_REQUEST_URL", idURL)
			set("ACTIONS_ID_TOKEN_REQUEST_TOKEN", token)
		}
	}
	sort.Strings(job.Masks)
	return job, nil
}

func workflowPath(gh map[string]any) string {
	if ref, _ := gh["workflow_ref"].(string); ref != "" {
		// owner/repo/.github/workflows/ci.yml@refs/heads/main
		ref, _, _ = strings.Cut(ref, "@")
		if i := strings.Index(ref, ".github/"); i >= 0 {
			return ref[i:]
		}
	}
	return "github-job.yml"
}

func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		switch t := x.(type) {
		case string:
			out[k] = t
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(t)
		}
	}
	return out
}

func mapping(pairs ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: pairs}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, stringNode(key), v)
}

func workflowYAML(m *jobRequestMessage, key, event string, gh map[string]any, labels []string) ([]byte, error) {
	job := mapping()
	// The display name comes evaluated; one that still reads like an
	// expression is left to the job record rather than re-evaluated.
	if m.JobDisplayName != "" && !strings.Contains(m.JobDisplayName, "${{") {
		add(job, "name", stringNode(m.JobDisplayName))
	}
	// The message does not say which of the runner's labels matched
	// runs-on; the runner's own labels (in order) choose the platform.
	runsOn := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, l := range labels {
		runsOn.Content = append(runsOn.Content, stringNode(l))
	}
	if len(labels) == 0 {
		runsOn.Content = append(runsOn.Content, stringNode("self-hosted"))
	}
	add(job, "runs-on", runsOn)
	opt := func(name string, t *templateToken) error {
		if t == nil || t.Type == tokNull {
			return nil
		}
		n, err := t.yamlNode()
		if err != nil {
			return fmt.Errorf("job %s: %w", name, err)
		}
		add(job, name, n)
		return nil
	}
	if err := opt("container", m.JobContainer); err != nil {
		return nil, err
	}
	if err := opt("services", m.JobServiceContainers); err != nil {
		return nil, err
	}
	env, err := mergeMappings(m.EnvironmentVariables)
	if err != nil {
		return nil, fmt.Errorf("job env: %w", err)
	}
	if env != nil {
		add(job, "env", env)
	}
	defaults, err := mergeMappings(m.Defaults)
	if err != nil {
		return nil, fmt.Errorf("job defaults: %w", err)
	}
	if defaults != nil {
		add(job, "defaults", defaults)
	}
	if err := opt("outputs", m.JobOutputs); err != nil {
		return nil, err
	}
	steps := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for i := range m.Steps {
		s, err := stepYAML(&m.Steps[i])
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		steps.Content = append(steps.Content, s)
	}
	add(job, "steps", steps)
	root := mapping()
	name, _ := gh["workflow"].(string)
	if name == "" {
		name = "github"
	}
	add(root, "name", stringNode(literalText(name)))
	if event == "" {
		event = "push"
	}
	add(root, "on", stringNode(event))
	add(root, "jobs", mapping(stringNode(key), job))
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}})
	if err != nil {
		return nil, fmt.Errorf("write the job's workflow: %w", err)
	}
	return out, nil
}

// mergeMappings folds the message's layered mappings (workflow env, then
// job env) into one; later layers win.
func mergeMappings(layers []*templateToken) (*yaml.Node, error) {
	var out *yaml.Node
	for _, l := range layers {
		if l == nil || l.Type == tokNull {
			continue
		}
		if l.Type != tokMapping {
			n, err := l.yamlNode() // an expression producing the whole mapping
			if err != nil {
				return nil, err
			}
			out = n
			continue
		}
		n, err := l.yamlNode()
		if err != nil {
			return nil, err
		}
		if out == nil || out.Kind != yaml.MappingNode {
			out = n
			continue
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			replaced := false
			for j := 0; j+1 < len(out.Content); j += 2 {
				if out.Content[j].Value == k {
					out.Content[j+1] = n.Content[i+1]
					replaced = true
				}
			}
			if !replaced {
				out.Content = append(out.Content, n.Content[i], n.Content[i+1])
			}
		}
	}
	return out, nil
}

func stepYAML(s *actionStep) (*yaml.Node, error) {
	n := mapping()
	if s.ContextName != "" && !strings.HasPrefix(s.ContextName, "__") && jobKeyRE.MatchString(s.ContextName) {
		add(n, "id", stringNode(s.ContextName))
	}
	switch {
	case s.DisplayNameToken != nil:
		v, err := s.DisplayNameToken.yamlNode()
		if err != nil {
			return nil, fmt.Errorf("name: %w", err)
		}
		add(n, "name", v)
	case s.DisplayName != "":
		add(n, "name", stringNode(literalText(s.DisplayName)))
	}
	if c := strings.TrimSpace(s.Condition); c != "" {
		add(n, "if", stringNode(c))
	}
	var inputs []tokenPair
	if s.Inputs != nil {
		if s.Inputs.Type != tokMapping {
			return nil, errors.New("inputs are not a mapping")
		}
		inputs = s.Inputs.Map
	}
	ref := s.Reference
	with := mapping()
	switch strings.ToLower(ref.Type) {
	case "script":
		for _, p := range inputs {
			k, _ := p.Key.scalar()
			v, err := p.Value.yamlNode()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			switch k {
			case "script":
				add(n, "run", v)
			case "shell":
				add(n, "shell", v)
			case "workingDirectory":
				add(n, "working-directory", v)
			default:
				return nil, fmt.Errorf("script input %q is not known", k)
			}
		}
	case "repository":
		uses := ""
		switch {
		case strings.EqualFold(ref.RepositoryType, "self") || ref.Name == "":
			uses = "./" + strings.TrimPrefix(ref.Path, "./")
		default:
			uses = ref.Name
			if ref.Path != "" {
				uses += "/" + strings.Trim(ref.Path, "/")
			}
			if ref.Ref == "" {
				return nil, fmt.Errorf("action %s has no ref", ref.Name)
			}
			uses += "@" + ref.Ref
		}
		add(n, "uses", stringNode(uses))
	case "containerregistry":
		if ref.Image == "" {
			return nil, errors.New("a docker step without an image")
		}
		add(n, "uses", stringNode("docker://"+ref.Image))
	default:
		return nil, fmt.Errorf("step reference type %q is not known", ref.Type)
	}
	if strings.ToLower(ref.Type) != "script" {
		for _, p := range inputs {
			k, ok := p.Key.scalar()
			if !ok {
				return nil, errors.New("an input name is not a string")
			}
			v, err := p.Value.yamlNode()
			if err != nil {
				return nil, fmt.Errorf("with.%s: %w", k, err)
			}
			add(with, k, v)
		}
		if len(with.Content) > 0 {
			add(n, "with", with)
		}
	}
	for _, o := range []struct {
		name string
		t    *templateToken
	}{{"env", s.Environment}, {"continue-on-error", s.ContinueOnError}, {"timeout-minutes", s.TimeoutInMinutes}} {
		if o.t == nil || o.t.Type == tokNull {
			continue
		}
		v, err := o.t.yamlNode()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.name, err)
		}
		add(n, o.name, v)
	}
	return n, nil
}
