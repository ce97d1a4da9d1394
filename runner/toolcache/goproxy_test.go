package toolcache

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// skipOffline skips when the Go module proxy cannot be reached (the only
// reason these tests may not run).
func skipOffline(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, s := range []string{"dial tcp", "no such host", "connection refused", "i/o timeout", "TLS handshake"} {
		if strings.Contains(msg, s) {
			t.Skipf("the Go module proxy cannot be reached: %v", err)
		}
	}
}

func TestAddGoThroughTheModuleProxy(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.AddGo(context.Background(), "1.24") // 1.24 is the release 1.24.0
	skipOffline(t, err)
	if err != nil {
		t.Fatal(err)
	}
	if e.Path != filepath.Join(c.Dir, "go", "1.24.0", Arch()) {
		t.Errorf("added at %s", e.Path)
	}
	out, err := exec.Command(filepath.Join(e.Path, "bin", "go"), "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "go version go1.24.0 ") {
		t.Errorf("the added go says %q (%v)", out, err)
	}
	// The compiler runs too: the module zip's lost modes were restored.
	cmd := exec.Command(filepath.Join(e.Path, "bin", "go"), "tool", "-n", "compile")
	cmd.Env = append(cmd.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.Output(); err != nil || !strings.HasPrefix(string(out), e.Path) {
		t.Errorf("go tool compile is %q (%v)", out, err)
	}
	if f, err := c.Find("go", "1.24.x"); err != nil || f.Path != e.Path {
		t.Errorf("Find(go, 1.24.x) = %+v, %v", f, err)
	}
	_, err = c.AddGo(context.Background(), "1.99.99")
	skipOffline(t, err)
	if err == nil || !strings.Contains(err.Error(), GoToolchainModule("1.99.99")) {
		t.Errorf("a release that does not exist: %v", err)
	}
	if c.Has("go", "1.99.99") {
		t.Error("a failed add left an entry")
	}
}

func TestGoInstallIntoTheCache(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.GoInstall(context.Background(), "gotestsum", "1.9.0", "gotest.tools/gotestsum")
	skipOffline(t, err)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(e.Path, "gotestsum")
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "Usage") {
		t.Errorf("the built gotestsum says %q (%v)", out, err)
	}
	if out, err := exec.Command("go", "version", "-m", bin).Output(); err != nil || !strings.Contains(string(out), "gotest.tools/gotestsum\tv1.9.0") {
		t.Errorf("the built binary is not gotestsum v1.9.0: %q (%v)", out, err)
	}
	if _, err := c.GoInstall(context.Background(), "x", "1.0.0", "gotest.tools/gotestsum@v1.9.0"); err == nil || !strings.Contains(err.Error(), "without a version") {
		t.Errorf("a module with a version: %v", err)
	}
}
