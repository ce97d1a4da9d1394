// Package testaction is the test action: Go tests (or any runner's JUnit XML)
// turned into a summary, annotations, JUnit XML and outputs, with retries of
// flaky tests, coverage thresholds, sharding and HTTP checks for e2e.
package testaction

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/test/internal/gotest"
	"github.com/gantry-ci/gantry/actions/test/internal/httpcheck"
	"github.com/gantry-ci/gantry/actions/test/internal/junit"
	"github.com/gantry-ci/gantry/actions/test/internal/shard"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

// config is the action's inputs.
type config struct {
	suite      string
	dir        string
	packages   []string
	tags       string
	run        string
	race       bool
	shuffle    string
	timeout    time.Duration
	command    string
	junitIn    string
	junitOut   string
	retries    int
	threshold  float64
	shard      string
	history    string
	baseURL    string
	httpChecks string

	dirs map[string]string // import path -> directory, for annotation paths
	root string            // annotation paths are relative to it
}

func inputs(k *actionkit.Kit) *config {
	c := &config{
		suite:      k.OneOf("suite", "unit", "unit", "integration", "e2e"),
		dir:        k.String("working-directory", "."),
		packages:   k.List("packages"),
		tags:       k.String("tags", ""),
		run:        k.String("run", ""),
		race:       k.Bool("race", false),
		shuffle:    k.String("shuffle", "off"),
		timeout:    k.Duration("timeout", 10*time.Minute),
		command:    k.String("command", ""),
		junitIn:    k.String("junit-file", ""),
		junitOut:   k.String("junit-output", "test-results/junit.xml"),
		retries:    k.Int("retries", 0),
		threshold:  k.Float("coverage-threshold", 0),
		shard:      k.String("shard", ""),
		history:    k.String("shard-history", ""),
		baseURL:    k.String("base-url", ""),
		httpChecks: k.String("http-checks", ""),
	}
	if len(c.packages) == 0 {
		c.packages = []string{"./..."}
	}
	if c.tags == "" && c.suite != "unit" {
		c.tags = c.suite // integration and e2e suites select their build tag
	}
	if c.command != "" && c.junitIn == "" {
		k.Required("junit-file")
	}
	if c.retries < 0 {
		k.Invalid("retries", "%d is negative; use 0 to turn retries off", c.retries)
	}
	if c.threshold < 0 || c.threshold > 100 {
		k.Invalid("coverage-threshold", "%v is not a percentage between 0 and 100", c.threshold)
	}
	if c.timeout <= 0 {
		k.Invalid("timeout", "must be positive, e.g. 10m")
	}
	if c.shard != "" {
		if _, _, err := shard.Parse(c.shard); err != nil {
			k.Invalid("shard", "%v", err)
		}
	}
	return c
}

// Run is the action.
func Run(k *actionkit.Kit) error {
	c := inputs(k)
	if err := k.InputErrors(); err != nil {
		return nil // reported by actionkit.Main
	}
	c.root = annotationRoot(k.Getenv("GITHUB_WORKSPACE"), c.dir)
	ctx := context.Background()
	var rep *gotest.Report
	var coverage float64 = -1
	var err error
	switch {
	case c.command != "":
		rep, err = runCommand(ctx, k, c)
	default:
		rep, coverage, err = runGo(ctx, k, c)
	}
	if err != nil {
		return err
	}
	if c.httpChecks != "" {
		if err := runHTTPChecks(ctx, k, c, rep); err != nil {
			return err
		}
	}
	return report(k, c, rep, coverage)
}

func (c *config) goArgs(pkgs []string, coverFile string) []string {
	args := []string{"test", "-json", "-timeout", c.timeout.String()}
	if c.tags != "" {
		args = append(args, "-tags", c.tags)
	}
	if c.run != "" {
		args = append(args, "-run", c.run)
	}
	if c.race {
		args = append(args, "-race")
	}
	if c.shuffle != "" && c.shuffle != "off" {
		args = append(args, "-shuffle", c.shuffle)
	}
	if coverFile != "" {
		args = append(args, "-covermode", "atomic", "-coverprofile", coverFile)
	}
	return append(args, pkgs...)
}

// env is the environment of the tests: the action's own, plus where an e2e
// suite finds the deployment.
func (c *config) env() []string {
	env := os.Environ()
	if os.Getenv("GOFLAGS") == "" {
		env = append(env, "GOFLAGS=-mod=mod")
	}
	if c.baseURL != "" {
		env = append(env, "BASE_URL="+c.baseURL, "GANTRY_BASE_URL="+c.baseURL)
	}
	return env
}

// goTest runs go test -json and parses its stream; a non-zero exit is
// expected when tests fail.
func goTest(ctx context.Context, k *actionkit.Kit, c *config, args []string) (*gotest.Report, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.dir
	cmd.Env = c.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	k.Logf("go %s", strings.Join(args, " "))
	runErr := cmd.Run()
	rep, err := gotest.Parse(&stdout)
	if err != nil {
		return nil, err
	}
	if runErr != nil && len(rep.Tests) == 0 && len(rep.Packages) == 0 {
		return nil, fmt.Errorf("go test failed before running tests: %v\n%s", runErr, strings.TrimSpace(stderr.String()))
	}
	return rep, nil
}

// goRun is one go test invocation: packages and a -run filter.
type goRun struct {
	pkgs []string
	run  string
}

func runGo(ctx context.Context, k *actionkit.Kit, c *config) (*gotest.Report, float64, error) {
	pkgs, dirs, err := listPackages(ctx, c)
	if err != nil {
		return nil, -1, err
	}
	c.dirs = dirs
	runs := []goRun{{pkgs: pkgs, run: c.run}}
	if c.shard != "" {
		if runs, err = shardRuns(ctx, k, c, pkgs); err != nil {
			return nil, -1, err
		}
		if len(runs) == 0 {
			return &gotest.Report{}, -1, nil
		}
	}
	rep := &gotest.Report{}
	var profiles []string
	for _, r := range runs {
		cover, err := os.CreateTemp("", "gantry-cover-*.out")
		if err != nil {
			return nil, -1, err
		}
		cover.Close()
		defer os.Remove(cover.Name())
		profiles = append(profiles, cover.Name())
		rc := *c
		rc.run = r.run
		part, err := goTest(ctx, k, c, rc.goArgs(r.pkgs, cover.Name()))
		if err != nil {
			return nil, -1, err
		}
		rep.Append(part)
	}
	coverage := totalCoverage(profiles...)
	for attempt := 1; attempt <= c.retries; attempt++ {
		failed := rep.FailedTopLevel()
		if len(failed) == 0 {
			break
		}
		for _, pkg := range sortedKeys(failed) {
			names := failed[pkg]
			retry := *c
			retry.run = "^(" + strings.Join(quoteAll(names), "|") + ")$"
			k.Logf("retry %d of %s: %s", attempt, pkg, strings.Join(names, ", "))
			again, err := goTest(ctx, k, c, retry.goArgs([]string{pkg}, ""))
			if err != nil {
				return nil, -1, err
			}
			rep.Merge(again)
		}
	}
	return rep, coverage, nil
}

// shardRuns picks this shard's work: whole packages when there are at least
// as many packages as shards, else single top-level tests, so that a module
// with one big package still spreads over the machines.
func shardRuns(ctx context.Context, k *actionkit.Kit, c *config, pkgs []string) ([]goRun, error) {
	i, n, err := shard.Parse(c.shard)
	if err != nil {
		return nil, err
	}
	hist, err := shard.History(c.history)
	if err != nil {
		return nil, err
	}
	if len(pkgs) >= n || c.run != "" {
		var items []shard.Item
		for _, p := range pkgs {
			w, ok := hist[p]
			if !ok {
				w = shard.FileWeight(c.dirs[p])
			}
			items = append(items, shard.Item{Name: p, Weight: w})
		}
		mine := shard.Split(items, i, n)
		k.Logf("shard %d/%d: %d of %d packages", i, n, len(mine), len(pkgs))
		if len(mine) == 0 {
			return nil, nil
		}
		return []goRun{{pkgs: mine, run: c.run}}, nil
	}
	tests, err := listTests(ctx, c, pkgs)
	if err != nil {
		return nil, err
	}
	var items []shard.Item
	total := 0
	for _, p := range pkgs {
		for _, t := range tests[p] {
			w, ok := hist[p+"."+t]
			if !ok {
				w = 1
			}
			items = append(items, shard.Item{Name: p + " " + t, Weight: w})
			total++
		}
	}
	byPkg := map[string][]string{}
	for _, name := range shard.Split(items, i, n) {
		p, t, _ := strings.Cut(name, " ")
		byPkg[p] = append(byPkg[p], t)
	}
	var runs []goRun
	count := 0
	for _, p := range sortedKeys(byPkg) {
		runs = append(runs, goRun{pkgs: []string{p}, run: "^(" + strings.Join(quoteAll(byPkg[p]), "|") + ")$"})
		count += len(byPkg[p])
	}
	k.Logf("shard %d/%d: %d of %d tests (fewer packages than shards)", i, n, count, total)
	return runs, nil
}

// listTests lists the top-level tests, examples and fuzz tests of packages.
func listTests(ctx context.Context, c *config, pkgs []string) (map[string][]string, error) {
	args := []string{"test", "-json", "-list", "."}
	if c.tags != "" {
		args = append(args, "-tags", c.tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = c.dir
	cmd.Env = c.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	rep, err := gotest.Parse(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	tests := map[string][]string{}
	for _, p := range rep.Packages {
		for _, l := range strings.Split(p.Output, "\n") {
			if testName.MatchString(l) {
				tests[p.Name] = append(tests[p.Name], l)
			}
		}
	}
	if runErr != nil && len(tests) == 0 {
		return nil, fmt.Errorf("go test -list %s: %v\n%s", strings.Join(pkgs, " "), runErr, strings.TrimSpace(stderr.String()))
	}
	return tests, nil
}

var testName = regexp.MustCompile(`^(Test|Example|Fuzz)[\p{L}\p{N}_]*$`)

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = regexpQuote(n)
	}
	return out
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// listPackages resolves the package patterns to import paths and directories.
func listPackages(ctx context.Context, c *config) ([]string, map[string]string, error) {
	args := []string{"list", "-f", "{{.ImportPath}}\t{{.Dir}}"}
	if c.tags != "" {
		args = append(args, "-tags", c.tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, c.packages...)...)
	cmd.Dir = c.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list %s: %v\n%s", strings.Join(c.packages, " "), err, strings.TrimSpace(stderr.String()))
	}
	dirs := map[string]string{}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		p, d, _ := strings.Cut(sc.Text(), "\t")
		pkgs = append(pkgs, p)
		dirs[p] = d
	}
	return pkgs, dirs, nil
}

// totalCoverage computes covered statements / statements over profiles; a
// block counts as covered when any run covered it.
func totalCoverage(paths ...string) float64 {
	blocks := map[string]int{} // block -> statements
	covered := map[string]bool{}
	for _, p := range paths {
		readProfile(p, blocks, covered)
	}
	var total, cov int
	for b, n := range blocks {
		total += n
		if covered[b] {
			cov += n
		}
	}
	if total == 0 {
		return -1
	}
	return 100 * float64(cov) / float64(total)
}

func readProfile(path string, blocks map[string]int, covered map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "mode:") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		count, _ := strconv.Atoi(fields[2])
		blocks[fields[0]] = n
		if count > 0 {
			covered[fields[0]] = true
		}
	}
}

// runCommand runs any test runner and reads the JUnit XML it wrote.
func runCommand(ctx context.Context, k *actionkit.Kit, c *config) (*gotest.Report, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", c.command)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = c.env()
	k.Logf("run: %s", c.command)
	runErr := cmd.Run()
	path := c.junitIn
	if !filepath.IsAbs(path) {
		path = filepath.Join(c.dir, path)
	}
	s, err := junit.Read(path)
	if err != nil {
		if runErr != nil {
			return nil, fmt.Errorf("command failed (%v) and wrote no JUnit report: %w", runErr, err)
		}
		return nil, err
	}
	rep := fromJUnit(s)
	if runErr != nil && rep.Count().Failed == 0 {
		rep.Packages = append(rep.Packages, &gotest.Package{Name: "command", Status: "fail", Coverage: -1, Output: runErr.Error()})
	}
	return rep, nil
}

func fromJUnit(s *junit.Suites) *gotest.Report {
	rep := &gotest.Report{}
	for _, su := range s.Suites {
		p := &gotest.Package{Name: su.Name, Status: "pass", Coverage: -1, Duration: junit.ParseSeconds(su.Time)}
		for _, tc := range su.Cases {
			t := &gotest.Test{Package: su.Name, Name: tc.Name, Status: "pass", Duration: junit.ParseSeconds(tc.Time), Output: tc.SystemOut}
			switch {
			case tc.Failure != nil || tc.Error != nil:
				f := tc.Failure
				if f == nil {
					f = tc.Error
				}
				t.Status = "fail"
				p.Status = "fail"
				t.File, t.Line = tc.File, tc.Line
				t.Output = strings.TrimSpace(f.Message+"\n"+f.Text) + "\n" + t.Output
			case tc.Skipped != nil:
				t.Status = "skip"
			}
			rep.Tests = append(rep.Tests, t)
		}
		rep.Packages = append(rep.Packages, p)
	}
	return rep
}

func runHTTPChecks(ctx context.Context, k *actionkit.Kit, c *config, rep *gotest.Report) error {
	if c.baseURL == "" {
		return fmt.Errorf("input 'http-checks' needs 'base-url' (where the deployment answers)")
	}
	f, err := httpcheck.Load(c.httpChecks)
	if err != nil {
		return err
	}
	p := &gotest.Package{Name: "http-checks", Status: "pass", Coverage: -1}
	for _, r := range httpcheck.Run(ctx, c.baseURL, f, nil) {
		t := &gotest.Test{Package: p.Name, Name: r.Name, Status: "pass", Duration: r.Duration}
		if !r.Passed {
			t.Status, p.Status = "fail", "fail"
			t.Output = r.Message
		}
		p.Duration += r.Duration
		rep.Tests = append(rep.Tests, t)
	}
	rep.Packages = append(rep.Packages, p)
	return nil
}

// report writes the summary, annotations, JUnit XML and outputs, and decides
// the step's result.
func report(k *actionkit.Kit, c *config, rep *gotest.Report, coverage float64) error {
	counts := rep.Count()
	total := counts.Passed + counts.Failed + counts.Skipped
	k.SetOutput("passed", strconv.Itoa(counts.Passed))
	k.SetOutput("failed", strconv.Itoa(counts.Failed))
	k.SetOutput("skipped", strconv.Itoa(counts.Skipped))
	k.SetOutput("flaky", strconv.Itoa(counts.Flaky))
	k.SetOutput("total", strconv.Itoa(total))
	if coverage >= 0 {
		k.SetOutput("coverage", strconv.FormatFloat(coverage, 'f', 1, 64))
	}

	belowThreshold := c.threshold > 0 && coverage >= 0 && coverage < c.threshold
	mark := "✅"
	if counts.Failed > 0 || len(rep.FailedPackages()) > 0 || belowThreshold {
		mark = "❌"
	}
	k.Summary(fmt.Sprintf("## %s %s tests: %d passed, %d failed, %d skipped, %d flaky\n", mark, c.suite, counts.Passed, counts.Failed, counts.Skipped, counts.Flaky))

	var rows [][]string
	for _, p := range rep.Packages {
		var pass, fail, skip int
		for _, t := range rep.Tests {
			if t.Package != p.Name {
				continue
			}
			switch t.Status {
			case "pass":
				pass++
			case "fail":
				fail++
			case "skip":
				skip++
			}
		}
		cov := "–"
		if p.Coverage >= 0 {
			cov = strconv.FormatFloat(p.Coverage, 'f', 1, 64) + "%"
		}
		result := p.Status
		if p.Aborted != "" {
			result = "fail (aborted)"
		}
		rows = append(rows, []string{p.Name, result, strconv.Itoa(pass), strconv.Itoa(fail), strconv.Itoa(skip), p.Duration.Round(time.Millisecond).String(), cov})
	}
	k.Summary("\n" + actionkit.Table([]string{"package", "result", "passed", "failed", "skipped", "duration", "coverage"}, rows))
	var ab [][]string
	for _, p := range rep.Packages {
		if p.Aborted != "" {
			k.Logf("package %s aborted part-way: %s", p.Name, p.Aborted)
			ab = append(ab, []string{p.Name, p.Aborted})
		}
	}
	if len(ab) > 0 {
		k.Summary("\n### Packages that stopped part-way\n" + actionkit.Table([]string{"package", "why"}, ab))
	}
	if coverage >= 0 {
		line := fmt.Sprintf("\n**Total coverage: %.1f%%**", coverage)
		if c.threshold > 0 {
			line += fmt.Sprintf(" (threshold %.1f%%)", c.threshold)
		}
		k.Summary(line + "\n")
	}

	var failed, flaky []*gotest.Test
	for _, t := range rep.Tests {
		if t.Status == "fail" {
			failed = append(failed, t)
		}
		if t.Flaky {
			flaky = append(flaky, t)
		}
	}
	if len(failed) > 0 {
		var fr [][]string
		for _, t := range failed {
			file, line, msg := t.Failure()
			path := annotationPath(c, t.Package, file)
			k.Annotate(actionkit.Annotation{Level: "error", File: path, Line: line, Title: t.Name, Message: msg})
			loc := path
			if line > 0 {
				loc += ":" + strconv.Itoa(line)
			}
			fr = append(fr, []string{t.Package, t.Name, loc, msg})
		}
		k.Summary("\n### Failed tests\n" + actionkit.Table([]string{"package", "test", "where", "message"}, fr))
	}
	if len(flaky) > 0 {
		var fr [][]string
		for _, t := range flaky {
			fr = append(fr, []string{t.Package, t.Name})
			// Point at the first run's failure: that is the line to fix.
			file, line, msg := t.Failure()
			k.Annotate(actionkit.Annotation{Level: "warning", File: annotationPath(c, t.Package, file), Line: line, Title: "flaky test " + t.Name,
				Message: fmt.Sprintf("%s in %s failed, then passed on retry: %s", t.Name, t.Package, firstLine(msg))})
		}
		k.Summary("\n### Flaky tests (passed on retry)\n" + actionkit.Table([]string{"package", "test"}, fr))
	}
	slow := append([]*gotest.Test(nil), rep.Tests...)
	sort.SliceStable(slow, func(i, j int) bool { return slow[i].Duration > slow[j].Duration })
	if len(slow) > 10 {
		slow = slow[:10]
	}
	if len(slow) > 0 {
		var sr [][]string
		for _, t := range slow {
			sr = append(sr, []string{t.Package, t.Name, t.Duration.Round(time.Millisecond).String()})
		}
		k.Summary("\n<details><summary>Slowest tests</summary>\n\n" + actionkit.Table([]string{"package", "test", "duration"}, sr) + "\n</details>\n")
	}
	for _, p := range rep.FailedPackages() {
		probs := p.Problems()
		if len(probs) == 0 {
			if pn, ok := gotest.FindPanic(p.Output, p.Name, ""); ok {
				k.Annotate(actionkit.Annotation{Level: "error", File: annotationPath(c, p.Name, pn.File), Line: pn.Line, Title: "package " + p.Name + " panicked", Message: pn.Text()})
				continue
			}
			k.Annotate(actionkit.Annotation{Level: "error", Title: "package " + p.Name, Message: strings.TrimSpace(lastLines(p.Output, 10))})
			continue
		}
		// Compiler positions (no column under -cover) are relative to where go ran: the working directory.
		base, _ := filepath.Abs(c.dir)
		for _, pr := range probs {
			k.Annotate(actionkit.Annotation{Level: "error", File: repoPath(c.root, base, pr.File), Line: pr.Line, Col: pr.Col,
				Title: "build failed: " + p.Name, Message: pr.Msg})
		}
	}

	out := c.junitOut
	if !filepath.IsAbs(out) {
		out = filepath.Join(c.dir, out)
	}
	if err := junit.Write(out, toJUnit(c.suite, rep)); err != nil {
		return err
	}
	k.SetOutput("junit-file", out)

	switch {
	case counts.Failed > 0:
		return fmt.Errorf("%d of %d tests failed", counts.Failed, total)
	case len(rep.FailedPackages()) > 0:
		return fmt.Errorf("%d packages failed to build or run", len(rep.FailedPackages()))
	case belowThreshold:
		return fmt.Errorf("coverage %.1f%% is below the threshold of %.1f%%", coverage, c.threshold)
	}
	return nil
}

// annotationPath makes a test failure's file (relative to its package)
// relative to the repository, where GitHub places annotations.
func annotationPath(c *config, pkg, file string) string {
	if file == "" {
		return ""
	}
	dir := c.dirs[pkg]
	if dir == "" {
		return file
	}
	return repoPath(c.root, dir, file)
}

// annotationRoot is the workspace GitHub resolves annotation paths against;
// outside a runner the current directory, or the working directory when
// that lies elsewhere.
func annotationRoot(workspace, dir string) string {
	abs, _ := filepath.Abs(dir)
	root := workspace
	if root == "" {
		root, _ = os.Getwd()
	}
	if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return abs
	}
	return root
}

// repoPath resolves file against dir and makes it relative to root.
func repoPath(root, dir, file string) string {
	abs := file
	if !filepath.IsAbs(file) {
		abs = filepath.Join(dir, file)
	}
	if rel, err := filepath.Rel(root, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
		return filepath.ToSlash(rel)
	}
	return file
}

func toJUnit(suite string, rep *gotest.Report) *junit.Suites {
	s := &junit.Suites{Name: suite}
	var total time.Duration
	for _, p := range rep.Packages {
		js := junit.Suite{Name: p.Name, Time: junit.Seconds(p.Duration)}
		for _, t := range rep.Tests {
			if t.Package != p.Name {
				continue
			}
			tc := junit.Case{Name: t.Name, Classname: t.Package, Time: junit.Seconds(t.Duration)}
			switch t.Status {
			case "fail":
				file, line, msg := t.Failure()
				tc.File, tc.Line = file, line
				tc.Failure = &junit.Failure{Message: firstLine(msg), Type: "failure", Text: t.Output}
				js.Fails++
			case "skip":
				tc.Skipped = &junit.Skipped{Message: strings.TrimSpace(lastLines(t.Output, 1))}
				js.Skipped++
			default:
				if t.Flaky {
					tc.SystemOut = t.Output
				}
			}
			js.Tests++
			js.Cases = append(js.Cases, tc)
		}
		s.Tests += js.Tests
		s.Fails += js.Fails
		s.Skipped += js.Skipped
		total += p.Duration
		s.Suites = append(s.Suites, js)
	}
	s.Time = junit.Seconds(total)
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
