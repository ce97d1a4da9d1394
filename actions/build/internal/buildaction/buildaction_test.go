package buildaction

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/actionkit"
)

func runAction(t *testing.T, inputs map[string]string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output"), "SOURCE_DATE_EPOCH": "1700000000"}
	for _, f := range []string{env["GITHUB_STEP_SUMMARY"], env["GITHUB_OUTPUT"]} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log bytes.Buffer
	code := actionkit.Main(Run, actionkit.WithGetenv(func(k string) string { return env[k] }), actionkit.WithWriter(&log))
	s, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	return code, log.String(), string(s)
}

func module(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs("../../testdata/hello")
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func TestReproducibleCrossBuild(t *testing.T) {
	var sums []string
	for i := 0; i < 2; i++ {
		out := t.TempDir()
		code, log, summary := runAction(t, map[string]string{"working-directory": module(t), "targets": "linux/amd64, windows/arm64", "version": "v1.2.3", "commit": "abc123", "output-dir": out})
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, log)
		}
		data, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, string(data))
		for _, want := range []string{"linux_amd64/hello", "linux_amd64/bye", "windows_arm64/hello.exe", "hello_1.2.3_linux_amd64.tar.gz", "hello_1.2.3_windows_arm64.zip", "linux_amd64/hello.cdx.json"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("SHA256SUMS lacks %s:\n%s", want, data)
			}
		}
		if !strings.Contains(summary, "Build v1.2.3") {
			t.Errorf("summary %s", summary)
		}
		if i == 0 {
			bin := filepath.Join(out, "linux_amd64", "hello")
			got, err := exec.Command(bin).Output()
			if err != nil || strings.TrimSpace(string(got)) != "hello v1.2.3 abc123" {
				t.Errorf("stamped binary says %q, %v", got, err)
			}
			var bom map[string]any
			b, _ := os.ReadFile(bin + ".cdx.json")
			if err := json.Unmarshal(b, &bom); err != nil || bom["bomFormat"] != "CycloneDX" {
				t.Errorf("sbom %s %v", b, err)
			}
			if !strings.Contains(string(b), "pkg:golang/example.com/hello") {
				t.Errorf("sbom lacks the main module purl: %s", b)
			}
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds differ:\n%s\n---\n%s", sums[0], sums[1])
	}
}

func TestCommandBuild(t *testing.T) {
	dir := t.TempDir()
	code, log, summary := runAction(t, map[string]string{"working-directory": dir, "command": "mkdir -p out && echo built $VERSION > out/app.txt && echo x > out/lib.txt", "artifacts": "out/*.txt", "version": "2.0", "output-dir": "out"})
	if code != 0 {
		t.Fatalf("exit %d %s", code, log)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "out", "SHA256SUMS"))
	if !strings.Contains(string(sums), "app.txt") || !strings.Contains(string(sums), "lib.txt") || !strings.Contains(summary, "out/app.txt") {
		t.Errorf("sums %s summary %s", sums, summary)
	}
	code, log, _ = runAction(t, map[string]string{"working-directory": dir, "command": "true", "artifacts": "nothing/*"})
	if code != 1 || !strings.Contains(log, "matched no file") {
		t.Errorf("missing artifacts: %d %s", code, log)
	}
	code, log, _ = runAction(t, map[string]string{"working-directory": dir, "targets": "linux"})
	if code != 1 || !strings.Contains(log, "input 'targets'") {
		t.Errorf("bad target: %d %s", code, log)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3":                 "v1.2.3",
		"v1.2.3+build.7":         "v1.2.3-build.7",
		"v1.0.0-4-gabc/x":        "v1.0.0-4-gabc-x",
		".hidden":                "hidden",
		"":                       "latest",
		strings.Repeat("a", 200): strings.Repeat("a", 128),
	} {
		if got := ImageTag(in); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"example.com/cmd/tool": "tool", "example.com/tool/v2": "tool", "hello": "hello", "v2": "v2"} {
		if got := execName(in); got != want {
			t.Errorf("execName(%q) = %q, want %q", in, got, want)
		}
	}
	code, log, _ := runAction(t, map[string]string{"working-directory": t.TempDir(), "image": "example.com/app", "image-tags": "latest, bad+tag"})
	if code != 1 || !strings.Contains(log, `input 'image-tags': "bad+tag" is not a valid tag`) {
		t.Errorf("bad tag: %d %s", code, log)
	}
}
