package scanaction

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gantry-ci/gantry/actions/scan/internal/gocoderun"
)

// TestMain builds the gocode helper once, as the image installs it beside
// the action.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scan-gocode-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, gocoderun.Program)
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gantry-ci/gantry/actions/scan/cmd/scan-gocode").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build %s: %v\n%s", gocoderun.Program, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	os.Setenv(gocoderun.EnvProgram, bin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
