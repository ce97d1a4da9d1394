// Package goff reads, edits, validates and evaluates GO Feature Flag YAML
// flag files. Edits splice bytes at the positions yaml.v3 reports, so
// comments, ordering and formatting survive a flip.
package goff

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/thomaspoignant/go-feature-flag/model/dto"
	"gopkg.in/yaml.v3"
)

// DisabledKey is the count key Evaluate uses for users served the SDK
// default because the flag is disabled.
const DisabledKey = "(disabled)"

// Document is the GO Feature Flag YAML flag file format.
type Document struct{}

var _ flags.Document = Document{}

// Format implements flags.Document.
func (Document) Format() string { return "goff" }

// flagNode is one flag's entry in a parsed file.
type flagNode struct {
	name     string
	key, val *yaml.Node
	dto      dto.DTO
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError puts yaml.v3's "line N" in front like the other positions.
func yamlError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("line %s: invalid YAML: %s", m[1], msg[len(m[0]):])
	}
	return fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

// parse returns the file's top-level mapping.
func parse(src []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, yamlError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%d:%d: not a GO Feature Flag file: the top level must map flag names to flags", root.Line, root.Column)
	}
	if err := checkDuplicates(root); err != nil {
		return nil, err
	}
	return root, nil
}

func findFlag(src []byte, name string) (*yaml.Node, flagNode, error) {
	root, err := parse(src)
	if err != nil {
		return nil, flagNode{}, err
	}
	k, v := lookup(root, name)
	if k == nil {
		return nil, flagNode{}, fmt.Errorf("flag %q is not in the file; its flags are: %s", name, strings.Join(flagNames(root), ", "))
	}
	f := flagNode{name: name, key: k, val: v}
	if v.Kind != yaml.MappingNode {
		return nil, f, fmt.Errorf("%d:%d: flag %q must be a mapping with variations and a defaultRule", v.Line, v.Column, name)
	}
	if err := v.Decode(&f.dto); err != nil {
		return nil, f, fmt.Errorf("flag %q: %w", name, yamlError(err))
	}
	return root, f, nil
}

func flagNames(root *yaml.Node) []string {
	seen := map[string]bool{}
	var names []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		if n := root.Content[i].Value; !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"(none)"}
	}
	return names
}

// Read implements flags.Document.
func (Document) Read(src []byte, name string) (flags.State, error) {
	_, f, err := findFlag(src, name)
	if err != nil {
		return flags.State{}, err
	}
	return readFlag(f)
}

func readFlag(f flagNode) (flags.State, error) {
	d := f.dto
	st := flags.State{Key: f.name, Enabled: d.Disable == nil || !*d.Disable, Rollout: -1}
	if d.Variations != nil {
		st.Variants = map[string]any{}
		for k, v := range *d.Variations {
			if v != nil {
				st.Variants[k] = *v
			} else {
				st.Variants[k] = nil
			}
		}
	}
	if d.Rules != nil {
		b, err := json.Marshal(*d.Rules)
		if err != nil {
			return st, fmt.Errorf("flag %q: targeting: %w", f.name, err)
		}
		st.Targeting = b
	}
	if d.DefaultRule == nil {
		return st, nil
	}
	if d.DefaultRule.VariationResult != nil {
		st.DefaultVariant = *d.DefaultRule.VariationResult
	}
	if d.DefaultRule.Percentages != nil && d.DefaultRule.ProgressiveRollout == nil {
		_, pv := lookup(ruleNode(f), "percentage")
		names, shares := percentages(pv)
		var total float64
		for _, p := range shares {
			total += p
		}
		if total > 0 && len(names) <= 2 {
			// The first entry is the one rolled out; Edit writes it first.
			st.RolloutVariant = names[0]
			st.Rollout = int(math.Round(100 * shares[0] / total))
			if len(names) == 2 {
				st.DefaultVariant = names[1]
			}
		}
	}
	return st, nil
}

func ruleNode(f flagNode) *yaml.Node {
	_, v := lookup(f.val, "defaultRule")
	return v
}

// percentages lists a percentage mapping's entries in file order.
func percentages(m *yaml.Node) ([]string, []float64) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var names []string
	var shares []float64
	for i := 0; i+1 < len(m.Content); i += 2 {
		var p float64
		if err := m.Content[i+1].Decode(&p); err != nil {
			return nil, nil
		}
		names = append(names, m.Content[i].Value)
		shares = append(shares, p)
	}
	return names, shares
}

func isBoolean(variants map[string]any) bool {
	if len(variants) != 2 {
		return false
	}
	for _, v := range variants {
		if _, ok := v.(bool); !ok {
			return false
		}
	}
	return true
}

func unknownVariant(name, v string, variants map[string]any) error {
	names := make([]string, 0, len(variants))
	for n := range variants {
		names = append(names, n)
	}
	sort.Strings(names)
	return fmt.Errorf("flag %q has no variation %q; its variations are: %s", name, v, strings.Join(names, ", "))
}
