package yamlnode

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestMapValue(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: 1\nb: [x]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Content[0]
	if v := MapValue(m, "a"); v == nil || v.Value != "1" {
		t.Errorf("a: %v", v)
	}
	if v := MapValue(m, "b"); v == nil || v.Kind != yaml.SequenceNode {
		t.Errorf("b: %v", v)
	}
	if MapValue(m, "c") != nil || MapValue(nil, "a") != nil || MapValue(MapValue(m, "b"), "x") != nil {
		t.Error("a missing key, a nil node or a sequence must give nil")
	}
}
