// Package sbom writes a CycloneDX SBOM of the modules linked into a Go binary,
// read from the build information the Go linker embeds.
package sbom

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// BOM is the subset of CycloneDX 1.5 we write.
type BOM struct {
	BOMFormat    string      `json:"bomFormat"`
	SpecVersion  string      `json:"specVersion"`
	SerialNumber string      `json:"serialNumber"`
	Version      int         `json:"version"`
	Metadata     Metadata    `json:"metadata"`
	Components   []Component `json:"components"`
}

// Metadata names the binary the BOM describes.
type Metadata struct {
	Component Component `json:"component"`
	Tools     []Tool    `json:"tools,omitempty"`
}

// Tool is what made the BOM.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

// Component is one module.
type Component struct {
	Type    string `json:"type"`
	BOMRef  string `json:"bom-ref,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PURL    string `json:"purl,omitempty"`
	Hashes  []Hash `json:"hashes,omitempty"`
}

// Hash is a component checksum.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

func purl(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// ForBinary builds the BOM of a Go binary. The serial number is derived from
// the binary's content so the same binary always gets the same BOM.
func ForBinary(path string) (*BOM, error) {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	serial := fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	main := Component{Type: "application", Name: filepath.Base(path), Version: info.Main.Version, PURL: purl(info.Main.Path, info.Main.Version),
		BOMRef: purl(info.Main.Path, info.Main.Version), Hashes: []Hash{{Alg: "SHA-256", Content: fmt.Sprintf("%x", sum)}}}
	b := &BOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", SerialNumber: serial, Version: 1,
		Metadata: Metadata{Component: main, Tools: []Tool{{Name: "gantry-build"}, {Name: "go", Version: info.GoVersion}}}}
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		c := Component{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version), BOMRef: purl(m.Path, m.Version)}
		if m.Sum != "" {
			c.Hashes = []Hash{{Alg: "SHA-256", Content: m.Sum}} // go.sum h1: hash, base64 of SHA-256
		}
		b.Components = append(b.Components, c)
	}
	sort.Slice(b.Components, func(i, j int) bool { return b.Components[i].Name < b.Components[j].Name })
	return b, nil
}

// Write writes the BOM as indented JSON.
func Write(path string, b *BOM) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
