package scanaction

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSecretsVsGitleaksCLI scans a large tree (the docker module in the
// module cache: hundreds of packages) for secrets with the scan action and
// with the gitleaks CLI built from the same module version, in the same run,
// and reports time and peak memory of each and their ratios; and the time and
// peak memory of every scanner on the same tree.
func BenchmarkSecretsVsGitleaksCLI(b *testing.B) {
	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		b.Skip("no go toolchain")
	}
	tree := filepath.Join(strings.TrimSpace(string(gomodcache)), "github.com", "docker", "docker@v28.5.2+incompatible")
	if _, err := os.Stat(tree); err != nil {
		b.Skipf("benchmark tree %s missing (go mod download)", tree)
	}
	dir := b.TempDir()
	root, _ := filepath.Abs("../../../..")
	for _, build := range [][]string{
		{"build", "-o", filepath.Join(dir, "scan"), "./actions/scan"},
		{"build", "-o", filepath.Join(dir, "gitleaks"), "github.com/zricethezav/gitleaks/v8"},
	} {
		cmd := exec.Command("go", build...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go %v: %v %s", build, err, out)
		}
	}
	measure := func(cmd *exec.Cmd) (time.Duration, int64) {
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
				b.Fatalf("%v: %v %s", cmd.Args, err, out)
			}
		}
		d := time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return d, ru.Maxrss * 1024
	}
	// Read the tree once so neither side pays for a cold page cache.
	_ = filepath.Walk(tree, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			_, _ = os.ReadFile(p)
		}
		return nil
	})
	var ours, theirs, full time.Duration
	var oursMem, theirsMem, fullMem int64
	for i := 0; i < b.N; i++ {
		scan := exec.Command(filepath.Join(dir, "scan"))
		scan.Env = append(os.Environ(), "INPUT_PATH="+tree, "INPUT_SCANNERS=secrets", "INPUT_FAIL-ON=none", "INPUT_SARIF-FILE="+filepath.Join(dir, "out.sarif"),
			"GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=")
		d, m := measure(scan)
		ours += d
		oursMem = max(oursMem, m)
		gl := exec.Command(filepath.Join(dir, "gitleaks"), "dir", tree, "--no-banner", "--exit-code", "0", "--report-path", filepath.Join(dir, "gl.json"), "--log-level", "error")
		d, m = measure(gl)
		theirs += d
		theirsMem = max(theirsMem, m)
		// Every scanner (the Go ones find no go.mod in this tree and the
		// vulnerability scan has no database: both are quick no-ops here).
		all := exec.Command(filepath.Join(dir, "scan"))
		all.Env = append(os.Environ(), "INPUT_PATH="+tree, "INPUT_FAIL-ON=none", "INPUT_SARIF-FILE="+filepath.Join(dir, "all.sarif"), "GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=")
		d, m = measure(all)
		full += d
		fullMem = max(fullMem, m)
	}
	b.ReportMetric(full.Seconds()/float64(b.N), "s-all-scanners")
	b.ReportMetric(float64(fullMem)/(1<<20), "MiB-all-scanners")
	b.ReportMetric(ours.Seconds()/float64(b.N), "s-gantry")
	b.ReportMetric(theirs.Seconds()/float64(b.N), "s-gitleaks")
	b.ReportMetric(float64(ours)/float64(theirs), "x-time")
	b.ReportMetric(float64(oursMem)/(1<<20), "MiB-gantry")
	b.ReportMetric(float64(theirsMem)/(1<<20), "MiB-gitleaks")
	b.ReportMetric(float64(oursMem)/float64(theirsMem), "x-memory")
}
