package sbom

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

func TestH1Hex(t *testing.T) {
	if got := h1Hex("h1:688QHn2X/5nRezKe2ueIVCt+NRqf7fl3AVQk+vaFcIo="); got != "ebcf101e7d97ff99d17b329edae788542b7e351a9fedf977015424faf685708a" {
		t.Errorf("h1Hex = %s", got)
	}
	for _, bad := range []string{"", "h2:abc", "h1:!!", "h1:YWJj"} {
		if got := h1Hex(bad); got != "" {
			t.Errorf("h1Hex(%q) = %q", bad, got)
		}
	}
}

// buildWithDep builds testdata/withdep, a program linking cyclonedx-go.
func buildWithDep(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "withdep")
	cmd := exec.Command("go", "build", "-trimpath", "-o", exe, "./testdata/withdep")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build withdep: %v\n%s", err, out)
	}
	return exe
}

func TestBOMOfAGoBinary(t *testing.T) {
	exe := buildWithDep(t)
	b, err := ForBinary(exe, "v9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var outs [][]byte
	for _, name := range []string{"a.cdx.json", "b.cdx.json"} {
		p := filepath.Join(dir, name)
		again, err := ForBinary(exe, "v9.9.9")
		if err != nil {
			t.Fatal(err)
		}
		if err := Write(p, again); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(p)
		outs = append(outs, data)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("the same binary gave two different SBOMs")
	}
	var back cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(outs[0]), cdx.BOMFileFormatJSON).Decode(&back); err != nil {
		t.Fatal(err)
	}
	if back.BOMFormat != "CycloneDX" || back.Metadata == nil || back.Metadata.Component.Version != "v9.9.9" || !strings.HasPrefix(back.SerialNumber, "urn:uuid:") {
		t.Errorf("bom %+v", back)
	}
	if b.Metadata.Component.Type != cdx.ComponentTypeApplication || len(*b.Metadata.Component.Hashes) != 1 || len((*b.Metadata.Component.Hashes)[0].Value) != 64 {
		t.Errorf("main component %+v", b.Metadata.Component)
	}
	found := map[string]cdx.Component{}
	for _, c := range *back.Components {
		found[c.Name] = c
	}
	lib, ok := found["github.com/CycloneDX/cyclonedx-go"]
	if !ok || lib.PackageURL != "pkg:golang/github.com/CycloneDX/cyclonedx-go@v0.9.2" || lib.Hashes == nil || (*lib.Hashes)[0].Value != "ebcf101e7d97ff99d17b329edae788542b7e351a9fedf977015424faf685708a" {
		t.Errorf("cyclonedx-go component %+v", lib)
	}
	if std, ok := found["stdlib"]; !ok || !strings.HasPrefix(std.PackageURL, "pkg:golang/stdlib@v1.") {
		t.Errorf("stdlib component %+v", std)
	}
	deps := *back.Dependencies
	if len(deps) != 1 || len(*deps[0].Dependencies) != len(*back.Components) {
		t.Errorf("dependencies %+v", deps)
	}
	props := map[string]string{}
	for _, p := range *back.Metadata.Component.Properties {
		props[p.Name] = p.Value
	}
	if props["gantry:go:build:GOOS"] == "" || !strings.HasPrefix(props["gantry:go:version"], "go1.") {
		t.Errorf("properties %v", props)
	}
}

func TestNotAGoBinary(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ForBinary(p, ""); err == nil || !strings.Contains(err.Error(), "is it a Go binary") {
		t.Errorf("error %v", err)
	}
	if _, err := ForBinary(filepath.Join(t.TempDir(), "none"), ""); err == nil {
		t.Error("missing file accepted")
	}
}
