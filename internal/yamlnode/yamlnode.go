// Package yamlnode holds small lookups on yaml.v3 nodes shared by the
// packages that read YAML with positions (workflows, job payloads,
// action files).
package yamlnode

import "gopkg.in/yaml.v3"

// MapValue is key's value in the mapping node n, or nil when n is not a
// mapping or has no such key.
func MapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
