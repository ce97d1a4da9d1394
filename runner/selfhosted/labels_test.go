package selfhosted

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/forge"
)

func TestParseLabels(t *testing.T) {
	got, err := ParseLabels([]string{"ubuntu-latest:docker://gantry/debian:bookworm,self-hosted:host", "linux"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Label{{"ubuntu-latest", "gantry/debian:bookworm"}, {"self-hosted", "host"}, {"linux", "host"}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("label %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if p := Platforms(got); p["ubuntu-latest"] != "gantry/debian:bookworm" || p["self-hosted"] != "host" {
		t.Errorf("platforms %v", p)
	}
	if got[0].String() != "ubuntu-latest:docker://gantry/debian:bookworm" {
		t.Errorf("String() = %q", got[0].String())
	}
	for _, bad := range []string{"x:vm://y", ":host", "a:host,a:host", "x:docker://"} {
		if _, err := ParseLabels([]string{bad}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDirKeepsCredentialsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runner")
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "register") {
		t.Fatalf("unregistered dir: %v", err)
	}
	creds := &forge.Credentials{Forge: "gitea", Name: "r1", Data: []byte(`{"token":"s3cr3t"}`)}
	if err := Save(dir, &Config{Forge: "gitea", URL: "http://x", Name: "r1", Labels: []string{"a:host"}}, creds); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{credsFile, configFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	cfg, got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "r1" || string(got.Data) != string(creds.Data) {
		t.Errorf("loaded %+v %+v", cfg, got)
	}
	if err := os.Chmod(filepath.Join(dir, credsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable credentials: %v", err)
	}
	if err := Forget(dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir); err == nil {
		t.Error("forgotten registration still loads")
	}
}

func TestInflightRecords(t *testing.T) {
	f := inflight{dir: t.TempDir()}
	for _, id := range []string{"7", "a/b", "12"} {
		if err := f.add(forge.Orphan{ServerID: id, State: []byte("s" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.remove("12"); err != nil {
		t.Fatal(err)
	}
	got, err := f.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ServerID != "7" || got[1].ServerID != "a/b" || string(got[1].State) != "sa/b" {
		t.Errorf("in flight: %+v", got)
	}
}

func TestDetect(t *testing.T) {
	for url, want := range map[string]string{
		"https://github.com/org/repo":       "github",
		"https://github.example.com/org":    "github",
		"https://acme.ghe.com/org":          "github",
		"https://ghes.corp/api/v3":          "github",
		"https://gitea.example.com":         "gitea",
		"https://codeberg.org/user/project": "gitea",
		"http://127.0.0.1:3000/":            "gitea",
	} {
		if got := forge.Detect(url); got != want {
			t.Errorf("Detect(%q) = %s, want %s", url, got, want)
		}
	}
}
