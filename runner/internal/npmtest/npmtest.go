// Package npmtest installs the real @actions npm clients for tests: once
// per version set into a folder under the user's cache folder, with npm.
// A test is skipped, saying so, only when npm or its registry cannot be
// reached; any other install failure fails it.
package npmtest

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The versions tested: those actions/cache@v4 (4.2.x) and
// upload-artifact@v4 / download-artifact@v4 (4.6.x) bundle.
var Packages = []string{"@actions/cache@4.0.3", "@actions/artifact@2.3.2", "@actions/core@1.11.1"}

var (
	mu   sync.Mutex
	done = map[string]string{}
)

var unreachable = regexp.MustCompile(`ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network|proxy`)

// Install returns a node_modules folder holding pkgs (Packages when none).
func Install(t testing.TB, pkgs ...string) string {
	t.Helper()
	if len(pkgs) == 0 {
		pkgs = Packages
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed; the @actions npm client tests need node and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed; the @actions npm client tests need it to fetch " + strings.Join(pkgs, " "))
	}
	key := fmt.Sprintf("%x", sha256.Sum256([]byte(strings.Join(pkgs, " "))))[:16]
	mu.Lock()
	defer mu.Unlock()
	if dir, ok := done[key]; ok {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "gantry-test", "npm", key)
	nm := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		done[key] = nm
		return nm
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"gantry-npm-test","private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"install", "--no-audit", "--no-fund", "--no-save", "--prefix", dir}, pkgs...)
	out, err := exec.Command(npm, args...).CombinedOutput()
	if err != nil {
		if unreachable.Match(out) {
			t.Skipf("npm cannot reach its registry to install %s: %s", strings.Join(pkgs, " "), lastLines(string(out)))
		}
		t.Fatalf("npm install %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	done[key] = nm
	return nm
}

// Esbuild bundles node actions the way published actions ship (one dist
// file), so a test repository need not carry node_modules.
const Esbuild = "esbuild@0.24.2"

// Bundle bundles the node script entry with Packages (and esbuild) into
// one file, cached by the script's content, and returns its path.
func Bundle(t testing.TB, entry string) string {
	t.Helper()
	src, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	nm := Install(t, append(append([]string(nil), Packages...), Esbuild)...)
	dir := filepath.Dir(nm)
	out := filepath.Join(dir, "bundles", fmt.Sprintf("%x.js", sha256.Sum256(src))[:16]+".js")
	mu.Lock()
	defer mu.Unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	in := filepath.Join(dir, "entry-"+filepath.Base(entry))
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := out + ".tmp"
	cmd := exec.Command(filepath.Join(nm, ".bin", "esbuild"), in, "--bundle", "--platform=node", "--target=node18", "--log-level=warning", "--outfile="+tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild %s: %v\n%s", entry, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " / ")
}
