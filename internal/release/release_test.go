package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// scan-go is the scan action on another image: same inputs and outputs.
func TestScanGoIsTheScanAction(t *testing.T) {
	type meta struct {
		Inputs  map[string]map[string]any
		Outputs map[string]map[string]any
		Runs    map[string]any
	}
	read := func(name string) meta {
		var m meta
		data, err := os.ReadFile(filepath.Join("..", "..", "actions", name, "action.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := read("scan"), read("scan-go")
	for k, v := range a.Inputs {
		if w, ok := b.Inputs[k]; !ok || w["default"] != v["default"] || w["description"] != v["description"] {
			t.Errorf("input %s differs: %v vs %v", k, v, w)
		}
	}
	if len(a.Inputs) != len(b.Inputs) || len(a.Outputs) != len(b.Outputs) {
		t.Errorf("scan-go has %d inputs, %d outputs; scan %d, %d", len(b.Inputs), len(b.Outputs), len(a.Inputs), len(a.Outputs))
	}
	if b.Runs["args"].([]any)[0] != "scan" {
		t.Errorf("scan-go runs %v", b.Runs)
	}
}

func TestPinKeepsTheFileButTheImage(t *testing.T) {
	src := filepath.Join("..", "..", "actions", "scan", "action.yml")
	dst := filepath.Join(t.TempDir(), "action.yml")
	ref := "docker://127.0.0.1:5000/gantry-ci/gantry-scan@sha256:" + strings.Repeat("ab", 32)
	if err := Pin(src, dst, ref); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(src)
	after, _ := os.ReadFile(dst)
	want := strings.Replace(string(before), "  image: ../../Dockerfile\n", "  image: "+ref+"\n", 1)
	if string(after) != want {
		t.Errorf("pinned file:\n%s", after)
	}
	if err := Pin(filepath.Join("..", "..", "go.mod"), dst, ref); err == nil {
		t.Error("a file that is not an action.yml was pinned")
	}
}
