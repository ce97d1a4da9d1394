package toolcache

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// machineGo is the version of the go on PATH, as `go version` says it.
func machineGo(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "version").Output()
	if err != nil {
		t.Skipf("no go on PATH: %v", err)
	}
	f := strings.Fields(string(out))
	v, ok := GoSemver(f[2])
	if !ok {
		t.Fatalf("go version %q", out)
	}
	return v
}

func TestSeedFromMachineIsWhatActionsToolCacheFinds(t *testing.T) {
	goVersion := machineGo(t)
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tcs, err := c.Detect(context.Background(), os.Getenv("PATH"), nil)
	if err != nil {
		t.Logf("detect: %v", err)
	}
	added, err := c.Seed(tcs)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Seed(tcs); err != nil || len(again) != 0 {
		t.Errorf("seeding again added %v (%v), want nothing", again, err)
	}
	goEntry, err := c.Find("go", goVersion)
	if err != nil {
		t.Fatalf("%v (added %v)", err, added)
	}
	if want := filepath.Join(c.Dir, "go", goVersion, Arch()); goEntry.Path != want {
		t.Errorf("go entry at %s, want setup-go's layout %s", goEntry.Path, want)
	}
	out, err := exec.Command(filepath.Join(goEntry.Path, "bin", "go"), "version").Output()
	if err != nil || !strings.Contains(string(out), "go"+strings.TrimSuffix(goVersion, ".0")) {
		t.Errorf("the cached go says %q (%v)", out, err)
	}
	minor := goVersion[:strings.LastIndexByte(goVersion, '.')]

	// The real @actions/tool-cache, as setup-go, setup-node and setup-python call it.
	dir := npmPackage(t, "@actions/tool-cache@4.0.0")
	specs := map[string][]string{"go": {minor, minor + ".x", goVersion, "1.13"}}
	for _, tc := range tcs {
		if tc.Tool != "go" {
			major := strings.Split(tc.Version, ".")[0]
			specs[tc.Tool] = []string{major, tc.Version}
		}
	}
	js, _ := json.Marshal(specs)
	got := node(t, dir, `import * as tc from '@actions/tool-cache';
const specs = `+string(js)+`;
const out = {};
for (const [tool, list] of Object.entries(specs)) {
  out[tool] = {all: tc.findAllVersions(tool, '`+Arch()+`'), found: {}};
  for (const s of list) out[tool].found[s] = tc.find(tool, s, '`+Arch()+`');
}
console.log(JSON.stringify(out));
`, "RUNNER_TOOL_CACHE="+c.Dir)
	var res map[string]struct {
		All   []string
		Found map[string]string
	}
	// core.debug writes ::debug:: lines to stdout too; the answer is the last line.
	got = strings.TrimSpace(got)
	got = got[strings.LastIndexByte(got, '\n')+1:]
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	for tool, list := range specs {
		for _, s := range list {
			ours, err := c.Find(tool, s)
			if tool == "go" && s == "1.13" {
				var nf *NotFoundError
				if !errors.As(err, &nf) || res[tool].Found[s] != "" {
					t.Errorf("go 1.13: ours %v, tool-cache %q; want both to find nothing", err, res[tool].Found[s])
				} else if msg := err.Error(); !strings.Contains(msg, goVersion) || !strings.Contains(msg, "gantry tools add go 1.13") {
					t.Errorf("not-found error %q should name %s and the command that adds 1.13", msg, goVersion)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", tool, s, err)
				continue
			}
			if res[tool].Found[s] != ours.Path {
				t.Errorf("%s %s: tool-cache finds %q, we find %q", tool, s, res[tool].Found[s], ours.Path)
			}
		}
	}
	if all := res["go"].All; len(all) != 1 || all[0] != goVersion {
		t.Errorf("tool-cache's findAllVersions(go) = %v, want [%s]", all, goVersion)
	}
	// Each seeded interpreter runs from the cache.
	for _, tc := range tcs {
		e, _ := c.Find(tc.Tool, tc.Version)
		var cmd *exec.Cmd
		switch tc.Tool {
		case "node":
			cmd = exec.Command(filepath.Join(e.Path, "bin", "node"), "--version")
		case "Python":
			cmd = exec.Command(filepath.Join(e.Path, "bin", "python3"), "-c", "import platform;print(platform.python_version())")
		default:
			continue
		}
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), tc.Version) {
			t.Errorf("%s from the cache says %q (%v), want %s", tc.Tool, out, err, tc.Version)
		}
	}
}

func TestAddFromAndBadInput(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "mytool"), []byte("#!/bin/sh\necho mytool 1.2.3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddFrom("mytool", "1.2.3", src); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddFrom("mytool", "1.10.0", src); err != nil {
		t.Fatal(err)
	}
	e, err := c.Find("mytool", "1")
	if err != nil || e.Version != "1.10.0" {
		t.Fatalf("Find(mytool, 1) = %+v, %v; want 1.10.0 (numeric, not string, order)", e, err)
	}
	out, err := exec.Command(filepath.Join(e.Path, "mytool")).Output()
	if err != nil || string(out) != "mytool 1.2.3\n" {
		t.Errorf("the added tool says %q (%v)", out, err)
	}
	list, err := c.List()
	if err != nil || len(list) != 2 || list[0].Version != "1.2.3" || list[1].Version != "1.10.0" {
		t.Errorf("List = %+v, %v", list, err)
	}
	_, err = c.Find("mytool", "2.x")
	if err == nil || !strings.Contains(err.Error(), "1.2.3, 1.10.0") || !strings.Contains(err.Error(), "gantry tools add mytool 2 --from DIR") {
		t.Errorf("missing version error = %v", err)
	}
	for _, bad := range []struct{ tool, version, from, want string }{
		{"../x", "1.0.0", src, "plain name"},
		{"mytool", "latest", src, "explicit version"},
		{"mytool", "1.0.0", filepath.Join(src, "nope"), "no such file"},
		{"mytool", "1.0.0", c.Dir, "inside the tool cache"},
	} {
		if _, err := c.AddFrom(bad.tool, bad.version, bad.from); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("AddFrom(%q, %q, %q) = %v, want an error saying %q", bad.tool, bad.version, bad.from, err, bad.want)
		}
	}
	// A failed fill leaves no entry and no staging folder behind.
	if _, err := c.Add("broken", "1.0.0", true, func(string) error { return errors.New("boom") }); err == nil {
		t.Fatal("a failing fill succeeded")
	}
	if c.Has("broken", "1.0.0") {
		t.Error("a failed add left a complete entry")
	}
	if left, _ := filepath.Glob(filepath.Join(c.Dir, "broken", "1.0.0", "*")); len(left) != 0 {
		t.Errorf("a failed add left %v", left)
	}
}

func TestVersionSpecs(t *testing.T) {
	for _, tc := range []struct {
		spec, version string
		want          bool
	}{
		{"1.26", "1.26.8", true}, {"1.26.x", "1.26.8", true}, {"1.26", "1.2.6", false},
		{"24", "24.11.1", true}, {"v24", "24.11.1", true}, {"1.26.8", "1.26.8", true}, {"1.26.8", "1.26.9", false},
		{"1.27", "1.27.0-rc.1", false}, {"1.27.0-rc.1", "1.27.0-rc.1", true}, {"*", "3.0.0", true},
	} {
		s, err := parseSpec(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		v, ok := parseVersion(tc.version)
		if !ok {
			t.Fatalf("version %s", tc.version)
		}
		if got := s.match(v); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.spec, tc.version, got, tc.want)
		}
	}
	for name, want := range map[string]string{"go1.26.8": "1.26.8", "go1.22rc1": "1.22.0-rc.1", "go1.20": "1.20.0", "1.24.0": "1.24.0"} {
		if got, ok := GoSemver(name); !ok || got != want {
			t.Errorf("GoSemver(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestDetectNamedToolchains(t *testing.T) {
	goVersion := machineGo(t)
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(string(out))
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	notATool := t.TempDir()
	// Nothing on PATH: only the named folders count.
	tcs, err := c.Detect(context.Background(), "", []string{goroot, notATool})
	if err == nil || !strings.Contains(err.Error(), notATool) || !strings.Contains(err.Error(), "not a Go, Node or Python installation") {
		t.Errorf("a folder with no toolchain: %v", err)
	}
	if len(tcs) != 1 || tcs[0].Tool != "go" || tcs[0].Version != goVersion {
		t.Fatalf("detected %+v, want go %s from %s", tcs, goVersion, goroot)
	}
}
