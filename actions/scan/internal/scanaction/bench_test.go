package scanaction

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSecretsVsGitleaksCLI measures a secrets-only scan by the scan
// action against the gitleaks CLI built from the same module version (into a
// temporary folder), in the same run, on a small tree (gitleaks' own test
// data: start-up dominates) and a large one (about 110 MB of Go modules from
// the module cache: scanning dominates). Runs are interleaved and the median
// is reported, because other processes share the machine. Also reported: the
// time and peak memory of every scanner on the docker module.
func BenchmarkSecretsVsGitleaksCLI(b *testing.B) {
	gomodcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		b.Skip("no go toolchain")
	}
	cache := strings.TrimSpace(string(gomodcache))
	small := filepath.Join(cache, "github.com", "zricethezav", "gitleaks", "v8@v8.30.1", "testdata")
	largeParts := []string{
		filepath.Join(cache, "github.com", "docker", "docker@v28.5.2+incompatible"),
		filepath.Join(cache, "github.com", "thomaspoignant", "go-feature-flag@v1.44.0"),
	}
	for _, p := range append([]string{small}, largeParts...) {
		if _, err := os.Stat(p); err != nil {
			b.Skipf("benchmark tree %s missing (go mod download)", p)
		}
	}
	dir := b.TempDir()
	large := filepath.Join(dir, "large")
	if err := os.MkdirAll(large, 0o755); err != nil {
		b.Fatal(err)
	}
	for _, p := range largeParts {
		// Writable copies, so that the temporary folder can be removed.
		if out, err := exec.Command("cp", "-r", "--no-preserve=mode", p, filepath.Join(large, filepath.Base(p))).CombinedOutput(); err != nil {
			b.Fatalf("copy %s: %v %s", p, err, out)
		}
	}
	root, _ := filepath.Abs("../../../..")
	for _, build := range [][]string{
		{"build", "-o", dir + "/", "./actions/scan", "./actions/scan/cmd/scan-gocode"},
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
	ours := func(tree string, scanners string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(dir, "scan"))
		cmd.Env = append(os.Environ(), "INPUT_PATH="+tree, "INPUT_SCANNERS="+scanners, "INPUT_FAIL-ON=none", "INPUT_SARIF-FILE="+filepath.Join(dir, "out.sarif"),
			"GITHUB_OUTPUT=", "GITHUB_STEP_SUMMARY=")
		return cmd
	}
	theirs := func(tree string) *exec.Cmd {
		return exec.Command(filepath.Join(dir, "gitleaks"), "dir", tree, "--no-banner", "--exit-code", "0", "--report-path", filepath.Join(dir, "gl.json"), "--log-level", "error")
	}
	// Read the trees once so neither side pays for a cold page cache.
	for _, tree := range []string{small, large} {
		_ = filepath.Walk(tree, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.Mode().IsRegular() {
				_, _ = os.ReadFile(p)
			}
			return nil
		})
	}
	type sample struct {
		times []time.Duration
		mem   int64
	}
	// The Go scanners run in the helper; a secrets scan never starts it.
	_ = os.Setenv("GANTRY_SCAN_GOCODE", filepath.Join(dir, "scan-gocode"))
	run := func(tree string, reps int) (o, t sample) {
		for i := 0; i < reps; i++ {
			d, m := measure(ours(tree, "secrets"))
			o.times = append(o.times, d)
			o.mem = max(o.mem, m)
			d, m = measure(theirs(tree))
			t.times = append(t.times, d)
			t.mem = max(t.mem, m)
		}
		return o, t
	}
	median := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	var so, st, lo, lt sample
	var full time.Duration
	var fullMem int64
	for i := 0; i < b.N; i++ {
		o, t := run(small, 15)
		so.times, st.times = append(so.times, o.times...), append(st.times, t.times...)
		so.mem, st.mem = max(so.mem, o.mem), max(st.mem, t.mem)
		o, t = run(large, 3)
		lo.times, lt.times = append(lo.times, o.times...), append(lt.times, t.times...)
		lo.mem, lt.mem = max(lo.mem, o.mem), max(lt.mem, t.mem)
		// The docker module has no go.mod at its root: the Go scanners are
		// quick there, where a module would need its dependencies downloaded.
		d, m := measure(ours(filepath.Join(large, filepath.Base(largeParts[0])), ""))
		full += d
		fullMem = max(fullMem, m)
	}
	report := func(name string, o, t sample) {
		mo, mt := median(o.times), median(t.times)
		b.ReportMetric(mo.Seconds(), "s-gantry-"+name)
		b.ReportMetric(mt.Seconds(), "s-gitleaks-"+name)
		b.ReportMetric(float64(mo)/float64(mt), "x-time-"+name)
		b.ReportMetric(float64(o.mem)/(1<<20), "MiB-gantry-"+name)
		b.ReportMetric(float64(t.mem)/(1<<20), "MiB-gitleaks-"+name)
		b.ReportMetric(float64(o.mem)/float64(t.mem), "x-memory-"+name)
	}
	report("small", so, st)
	report("large", lo, lt)
	b.ReportMetric(full.Seconds()/float64(b.N), "s-all-scanners")
	b.ReportMetric(float64(fullMem)/(1<<20), "MiB-all-scanners")
}
