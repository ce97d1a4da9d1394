package action

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-ci/gantry/runner/workflow"
	"gopkg.in/yaml.v3"
)

// Metadata is an action.yml.
type Metadata struct {
	Path        string
	Name        string
	Description string
	Inputs      []Input
	Outputs     []Output
	Runs        Runs
}

// Input is one declared input.
type Input struct {
	Name        string
	Description string
	Default     string // may hold ${{ }}
	Required    bool
	Deprecation string
}

// Output is one declared output; Value is set for composite actions.
type Output struct {
	Name        string
	Description string
	Value       string
}

// Runs is the runs: section.
type Runs struct {
	Using          string
	Main           string
	Pre            string
	Post           string
	PreIf          string
	PostIf         string
	Image          string
	Env            workflow.Map
	Entrypoint     string
	PreEntrypoint  string
	PostEntrypoint string
	Args           []string
	Steps          []*workflow.Step
	StepsNode      *yaml.Node
}

var usings = []string{"node12", "node16", "node20", "node24", "docker", "composite"}

// Load reads action.yml (or action.yaml) from dir.
func Load(dir string) (*Metadata, error) {
	var data []byte
	var file string
	for _, name := range []string{"action.yml", "action.yaml"} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err == nil {
			data, file = b, p
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	if file == "" {
		// GitHub's runner still runs an action that is only a Dockerfile
		// (the form actions had before action.yml), with no inputs.
		for _, name := range []string{"Dockerfile", "dockerfile"} {
			if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
				return &Metadata{Path: filepath.Join(dir, name), Name: filepath.Base(dir), Runs: Runs{Using: "docker", Image: name}}, nil
			}
		}
		return nil, fmt.Errorf("no action.yml, action.yaml or Dockerfile in %s", dir)
	}
	return Parse(file, data)
}

// Parse parses and validates action metadata. The error is workflow.Errors.
func Parse(file string, data []byte) (*Metadata, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, workflow.Errors{{Pos: workflow.Pos{File: file, Line: 1, Col: 1}, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if e := workflow.CheckAliases(file, &doc); e != nil {
		return nil, workflow.Errors{e}
	}
	p := &mparser{file: file}
	m := &Metadata{Path: file}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, workflow.Errors{{Pos: workflow.Pos{File: file, Line: 1, Col: 1}, Msg: "action metadata must be a mapping with name, inputs and runs"}}
	}
	root := doc.Content[0]
	var runs *yaml.Node
	p.each(root, "action metadata", []string{"name", "author", "description", "inputs", "outputs", "runs", "branding"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			m.Name = v.Value
		case "description":
			m.Description = v.Value
		case "inputs":
			p.each(v, "inputs", nil, func(name string, k, v *yaml.Node) {
				in := Input{Name: name}
				p.each(v, "input "+name, []string{"description", "required", "default", "deprecationMessage"}, func(key string, k, v *yaml.Node) {
					switch key {
					case "description":
						in.Description = v.Value
					case "required":
						if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" && v.Value != "true" && v.Value != "false" {
							p.errorf(v, "input %s: required must be true or false", name)
						}
						in.Required = v.Value == "true"
					case "default":
						in.Default = v.Value
					case "deprecationMessage":
						in.Deprecation = v.Value
					}
				})
				m.Inputs = append(m.Inputs, in)
			})
		case "outputs":
			p.each(v, "outputs", nil, func(name string, k, v *yaml.Node) {
				o := Output{Name: name}
				p.each(v, "output "+name, []string{"description", "value"}, func(key string, k, v *yaml.Node) {
					if key == "value" {
						o.Value = v.Value
					} else {
						o.Description = v.Value
					}
				})
				m.Outputs = append(m.Outputs, o)
			})
		case "runs":
			runs = v
		}
	})
	if runs == nil {
		p.errorf(root, "action metadata has no runs: section; add runs.using (node20, composite or docker)")
	} else {
		p.runs(runs, m)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return m, nil
}

type mparser struct {
	file string
	errs workflow.Errors
}

func (p *mparser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &workflow.Error{Pos: workflow.Pos{File: p.file, Line: n.Line, Col: n.Column}, Msg: fmt.Sprintf(format, args...)})
}

func (p *mparser) each(n *yaml.Node, what string, known []string, fn func(string, *yaml.Node, *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if known != nil && !contains(known, k.Value) {
			p.errorf(k, "unknown key %q in %s (expected one of: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		fn(k.Value, k, v)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (p *mparser) runs(n *yaml.Node, m *Metadata) {
	r := &m.Runs
	var usingNode *yaml.Node
	keys := []string{"using", "main", "pre", "post", "pre-if", "post-if", "image", "env", "entrypoint", "pre-entrypoint", "post-entrypoint", "args", "steps"}
	p.each(n, "runs", keys, func(key string, k, v *yaml.Node) {
		switch key {
		case "using":
			r.Using, usingNode = v.Value, v
		case "main":
			r.Main = v.Value
			p.inside(v, "runs.main")
		case "pre":
			r.Pre = v.Value
			p.inside(v, "runs.pre")
		case "post":
			r.Post = v.Value
			p.inside(v, "runs.post")
		case "pre-if":
			r.PreIf = v.Value
		case "post-if":
			r.PostIf = v.Value
		case "image":
			r.Image = v.Value
			p.inside(v, "runs.image")
		case "env":
			p.each(v, "runs.env", nil, func(name string, k, e *yaml.Node) {
				p.envName(k)
				r.Env = append(r.Env, workflow.KV{Key: name, Value: e.Value, Pos: workflow.Pos{File: p.file, Line: e.Line, Col: e.Column}})
			})
		case "entrypoint":
			r.Entrypoint = v.Value
		case "pre-entrypoint":
			r.PreEntrypoint = v.Value
		case "post-entrypoint":
			r.PostEntrypoint = v.Value
		case "args":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "runs.args must be a list of strings")
				return
			}
			for _, a := range v.Content {
				r.Args = append(r.Args, a.Value)
			}
		case "steps":
			r.StepsNode = v
		}
	})
	if usingNode == nil {
		p.errorf(n, "runs has no using:; set it to node20, node24, composite or docker")
		return
	}
	if !contains(usings, r.Using) {
		p.errorf(usingNode, "runs.using %q is not supported; use one of %s", r.Using, strings.Join(usings, ", "))
		return
	}
	switch {
	case strings.HasPrefix(r.Using, "node"):
		if r.Main == "" {
			p.errorf(n, "a %s action needs runs.main (the script to run)", r.Using)
		}
	case r.Using == "docker":
		if r.Image == "" {
			p.errorf(n, "a docker action needs runs.image (Dockerfile or docker://image)")
		}
	case r.Using == "composite":
		if r.StepsNode == nil {
			p.errorf(n, "a composite action needs runs.steps")
			return
		}
		steps, errs := workflow.ParseSteps(p.file, r.StepsNode, true)
		r.Steps = steps
		p.errs = append(p.errs, errs...)
	}
}
