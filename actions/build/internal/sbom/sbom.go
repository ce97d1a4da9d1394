// Package sbom writes a CycloneDX SBOM of the modules linked into a Go binary,
// read from the build information the Go linker embeds (debug/buildinfo), so
// it lists what is in the binary, not what go.mod mentions.
package sbom

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func purl(path, version string) string {
	if version == "" || version == "(devel)" {
		return "pkg:golang/" + path
	}
	return "pkg:golang/" + path + "@" + version
}

// h1Hex turns a go.sum "h1:" hash (base64 SHA-256) into the hex CycloneDX
// expects; other hash kinds give "".
func h1Hex(sum string) string {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(raw)
}

// ForBinary builds the BOM of a Go binary; version, when set, is the version
// stamped into it (the main module's is usually "(devel)"). Everything is
// derived from the binary, so the same binary always gets the same BOM.
func ForBinary(path, version string) (*cdx.BOM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sbom of %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("sbom of %s: %w", path, err)
	}
	sum := h.Sum(nil)
	info, err := buildinfo.Read(f)
	if err != nil {
		return nil, fmt.Errorf("sbom of %s: no Go build information (%w); is it a Go binary?", path, err)
	}
	if version == "" {
		version = info.Main.Version
	}
	mainRef := purl(info.Main.Path, version)
	if info.Main.Path == "" {
		mainRef = "pkg:golang/" + info.Path
	}
	props := []cdx.Property{{Name: "gantry:go:version", Value: info.GoVersion}}
	for _, s := range info.Settings {
		props = append(props, cdx.Property{Name: "gantry:go:build:" + s.Key, Value: s.Value})
	}
	main := cdx.Component{
		Type: cdx.ComponentTypeApplication, BOMRef: mainRef, Name: filepath.Base(path), Version: version, PackageURL: mainRef,
		Hashes: &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hex.EncodeToString(sum)}}, Properties: &props,
	}
	// The standard library is linked in too, and vulnerability scanners look
	// it up as pkg:golang/stdlib.
	std := strings.TrimPrefix(strings.Fields(info.GoVersion + " ")[0], "go")
	comps := []cdx.Component{{Type: cdx.ComponentTypeLibrary, BOMRef: purl("stdlib", "v"+std), Name: "stdlib", Version: "v" + std, PackageURL: purl("stdlib", "v"+std)}}
	for _, d := range info.Deps {
		comps = append(comps, component(d))
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].BOMRef < comps[j].BOMRef })
	refs := make([]string, len(comps))
	for i, c := range comps {
		refs[i] = c.BOMRef
	}

	b := cdx.NewBOM()
	b.SerialNumber = fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	b.Metadata = &cdx.Metadata{
		Component: &main,
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "gantry-build"}}},
	}
	b.Components = &comps
	// buildinfo has no module graph: the binary depends on every module.
	b.Dependencies = &[]cdx.Dependency{{Ref: mainRef, Dependencies: &refs}}
	return b, nil
}

func component(d *debug.Module) cdx.Component {
	m := d
	if d.Replace != nil {
		m = d.Replace
	}
	ref := purl(m.Path, m.Version)
	c := cdx.Component{Type: cdx.ComponentTypeLibrary, BOMRef: ref, Name: m.Path, Version: m.Version, PackageURL: ref}
	if hx := h1Hex(m.Sum); hx != "" {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: hx}}
	}
	if d.Replace != nil {
		c.Properties = &[]cdx.Property{{Name: "gantry:go:replaces", Value: purl(d.Path, d.Version)}}
	}
	return c
}

// Write writes the BOM as indented CycloneDX JSON.
func Write(path string, b *cdx.BOM) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write sbom: %w", err)
	}
	if err := cdx.NewBOMEncoder(f, cdx.BOMFileFormatJSON).SetPretty(true).Encode(b); err != nil {
		f.Close()
		return fmt.Errorf("write sbom %s: %w", path, err)
	}
	return f.Close()
}
