package scanaction

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/internal/actionkit"
)

// Secrets are assembled at run time so this repository holds none in clear.
var planted = map[string]string{
	"deploy/aws.env":   "AWS_ACCESS_KEY_ID=" + "AKIA" + "Z7VRSQ4QK3XWUJ2M" + "\n",
	"deploy/github.sh": "export GH_TOKEN=" + "ghp_" + "R5kT9wQz2LmX8vN4pB7cJ1hY6dF3sA0eG2uK" + "\n",
	"keys/id_rsa": "-----BEGIN RSA " + "PRIVATE KEY-----\n" +
		"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" +
		"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n" +
		"-----END RSA " + "PRIVATE KEY-----\n",
	"web/stripe.js": "const stripe = require('stripe')('" + "sk_live_" + "51Hq8sKJd83kdLQp0xZr7TnYv" + "');\n",
}

// expected lists every finding the bad corpus must produce: rule and place.
var expected = []string{
	"dockerfile/add-url Dockerfile:2",
	"dockerfile/curl-pipe-shell Dockerfile:4",
	"dockerfile/no-healthcheck Dockerfile:1",
	"dockerfile/runs-as-root Dockerfile:1",
	"dockerfile/secret-in-env Dockerfile:3",
	"dockerfile/unpinned-base Dockerfile:1",
	"go/G204 app/app.go:13",
	"go/G303 app/app.go:23",
	"go/G306 app/app.go:23",
	"go/G401 app/app.go:18",
	"go/G501 app/app.go:5",
	"secret/aws-access-token deploy/aws.env:1",
	"secret/generic-api-key Dockerfile:3",
	"secret/github-pat deploy/github.sh:1",
	"secret/private-key keys/id_rsa:1",
	"secret/stripe-access-token web/stripe.js:1",
	"workflow/pr-target-checkout .github/workflows/risky.yml:10",
	"workflow/script-injection .github/workflows/risky.yml:17",
	"workflow/secret-echo .github/workflows/risky.yml:19",
	"workflow/unpinned-action .github/workflows/risky.yml:10",
	"workflow/unpinned-action .github/workflows/risky.yml:13",
	"workflow/write-all .github/workflows/risky.yml:5",
}

func corpus(t *testing.T, name string, plant bool) string {
	t.Helper()
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("..", "..", "testdata", name))
	if out, err := exec.Command("cp", "-r", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy corpus: %v %s", err, out)
	}
	if plant {
		for p, content := range planted {
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

type result struct {
	code    int
	log     string
	summary string
	outputs string
	sarif   map[string]any
	raw     string
}

func runScan(t *testing.T, root string, inputs map[string]string) result {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "GITHUB_OUTPUT": filepath.Join(dir, "output"),
		"INPUT_PATH": root, "INPUT_SARIF-FILE": filepath.Join(dir, "out.sarif")}
	for _, f := range []string{env["GITHUB_STEP_SUMMARY"], env["GITHUB_OUTPUT"]} {
		_ = os.WriteFile(f, nil, 0o644)
	}
	for k, v := range inputs {
		if name, ok := strings.CutPrefix(k, "$"); ok {
			env[name] = v // an environment variable, e.g. $GITHUB_WORKSPACE
			continue
		}
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var log bytes.Buffer
	code := actionkit.Main(Run, actionkit.WithGetenv(func(k string) string { return env[k] }), actionkit.WithWriter(&log))
	r := result{code: code, log: log.String()}
	s, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	o, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	raw, _ := os.ReadFile(env["INPUT_SARIF-FILE"])
	r.summary, r.outputs, r.raw = string(s), string(o), string(raw)
	_ = json.Unmarshal(raw, &r.sarif)
	return r
}

// found lists "rule file:line" of every SARIF result.
func found(r result) []string {
	var out []string
	runs, _ := r.sarif["runs"].([]any)
	for _, run := range runs {
		results, _ := run.(map[string]any)["results"].([]any)
		for _, res := range results {
			m := res.(map[string]any)
			loc := m["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
			file := loc["artifactLocation"].(map[string]any)["uri"].(string)
			line := 0.0
			if reg, ok := loc["region"].(map[string]any); ok {
				line = reg["startLine"].(float64)
			}
			out = append(out, fmt.Sprintf("%s %s:%d", m["ruleId"], file, int(line)))
		}
	}
	sort.Strings(out)
	return out
}

func TestRecallAndPrecision(t *testing.T) {
	bad := runScan(t, corpus(t, "bad", true), nil)
	got := found(bad)
	gotSet := map[string]bool{}
	for _, g := range got {
		gotSet[g] = true
	}
	hits := 0
	for _, want := range expected {
		if gotSet[want] {
			hits++
		} else {
			t.Errorf("missed: %s", want)
		}
	}
	wantSet := map[string]bool{}
	for _, w := range expected {
		wantSet[w] = true
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Errorf("unexpected finding: %s", g)
		}
	}
	t.Logf("recall: %d/%d planted findings found", hits, len(expected))
	if bad.code != 1 {
		t.Errorf("the bad corpus must fail the job (fail-on high), got %d", bad.code)
	}
	for _, secret := range planted {
		for _, line := range strings.Split(strings.TrimSpace(secret), "\n") {
			v := line[strings.IndexAny(line, "=('")+1:]
			v = strings.Trim(v, "'();")
			if len(v) > 12 && (strings.Contains(bad.raw, v) || strings.Contains(bad.log, v) || strings.Contains(bad.summary, v)) {
				t.Errorf("a secret value reached the output: %s", v[:6])
			}
		}
	}
	clean := runScan(t, corpus(t, "clean", false), nil)
	t.Logf("precision: %d findings on the clean twin: %v", len(found(clean)), found(clean))
	if len(found(clean)) != 0 || clean.code != 0 {
		t.Errorf("the clean corpus must pass without findings: %v exit %d\n%s", found(clean), clean.code, clean.log)
	}
}

func TestSARIFShape(t *testing.T) {
	r := runScan(t, corpus(t, "bad", true), map[string]string{"fail-on": "none"})
	if r.code != 0 {
		t.Errorf("fail-on none must pass: %s", r.log)
	}
	runs := r.sarif["runs"].([]any)
	if r.sarif["version"] != "2.1.0" || len(runs) != 5 {
		t.Fatalf("want SARIF 2.1.0 with one run per scanner, got %v runs", len(runs))
	}
	categories := map[string]bool{}
	for _, run := range runs {
		m := run.(map[string]any)
		categories[m["automationDetails"].(map[string]any)["id"].(string)] = true
		for _, rule := range m["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any) {
			rm := rule.(map[string]any)
			if rm["help"].(map[string]any)["text"] == "" || rm["properties"].(map[string]any)["security-severity"] == "" {
				t.Errorf("rule without help or security-severity: %v", rm["id"])
			}
		}
		for _, res := range m["results"].([]any) {
			if res.(map[string]any)["partialFingerprints"].(map[string]any)["gantryFingerprint/v1"] == "" {
				t.Error("result without fingerprint")
			}
		}
	}
	if len(categories) != 5 {
		t.Errorf("categories %v", categories)
	}
	for _, want := range []string{"| secrets | 2 | 3 | 0 | 0 |", "### Findings"} {
		if !strings.Contains(r.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.summary)
		}
	}
}

func TestBaselineSuppressionsExcludesAndEnforcedConfig(t *testing.T) {
	root := corpus(t, "bad", true)
	base := filepath.Join(t.TempDir(), "baseline.json")
	before := runScan(t, root, map[string]string{"baseline": base})
	if before.code != 1 {
		t.Errorf("without a baseline the findings must fail: %d", before.code)
	}
	// Writing the baseline accepts what is there now.
	first := runScan(t, root, map[string]string{"write-baseline": base, "baseline": base})
	if first.code != 0 {
		t.Errorf("writing the baseline accepts current findings: %d %s", first.code, first.log)
	}
	second := runScan(t, root, map[string]string{"baseline": base})
	if second.code != 0 || !strings.Contains(second.outputs, "new-findings<<") {
		t.Errorf("known findings must not fail: %d %s", second.code, second.log)
	}
	// A new secret on a line that already had one is new.
	if err := os.WriteFile(filepath.Join(root, "deploy/aws.env"), []byte("AWS_ACCESS_KEY_ID="+"AKIA"+"Q2WXS7RTN5BHJ6KL"+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := runScan(t, root, map[string]string{"baseline": base})
	if third.code != 1 || !strings.Contains(third.summary, "1 new") {
		t.Errorf("a new secret on a baselined line must fail: %d\n%s", third.code, third.summary)
	}
	// Suppression with and without a justification.
	df := filepath.Join(root, "Dockerfile")
	data, _ := os.ReadFile(df)
	lines := strings.Split(string(data), "\n")
	// Dockerfile comments stand on their own line: above the finding.
	edited := append([]string{}, lines[:2]...)
	edited = append(edited, "# gantry-scan:ignore dockerfile/secret-in-env -- test fixture value, not a real token", lines[2],
		"# gantry-scan:ignore dockerfile/curl-pipe-shell", lines[3])
	edited = append(edited, lines[4:]...)
	_ = os.WriteFile(df, []byte(strings.Join(edited, "\n")), 0o644)
	sup := runScan(t, root, map[string]string{"scanners": "dockerfiles", "fail-on": "none"})
	if strings.Contains(strings.Join(found(sup), " "), "secret-in-env") || !strings.Contains(strings.Join(found(sup), " "), "curl-pipe-shell") {
		t.Errorf("suppressions: %v", found(sup))
	}
	if !strings.Contains(sup.log, "has no justification") {
		t.Errorf("unjustified suppression not reported:\n%s", sup.log)
	}
	if !strings.Contains(r0(t, root).log, "vulnerable dependencies not checked") {
		t.Errorf("a missing vulnerability database must be reported")
	}
	// Excludes, and an enforced config that overrides fail-on none.
	ex := runScan(t, root, map[string]string{"excludes": "deploy/**, keys/**, web/**, Dockerfile", "scanners": "secrets", "fail-on": "none"})
	if len(found(ex)) != 0 {
		t.Errorf("excluded paths scanned: %v", found(ex))
	}
	if err := os.MkdirAll(filepath.Join(root, ".gantry"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(root, ".gantry", "scan.yml"), []byte("enforce: true\nfail-on: medium\n"), 0o644)
	enf := runScan(t, root, map[string]string{"fail-on": "none", "scanners": "workflows"})
	if enf.code != 1 || !strings.Contains(enf.log, "policy enforced") {
		t.Errorf("enforced config must win: %d %s", enf.code, enf.log)
	}
}

// r0 runs only the vulns scanner without a database.
func r0(t *testing.T, root string) result {
	return runScan(t, root, map[string]string{"scanners": "vulns", "fail-on": "none"})
}
