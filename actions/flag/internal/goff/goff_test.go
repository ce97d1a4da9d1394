package goff

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdata = "../../testdata/goff"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func TestRead(t *testing.T) {
	tests := []struct {
		file, key      string
		enabled        bool
		def            string
		rollout        int
		rolloutVariant string
		targeting      string
		variants       int
	}{
		{"flags.goff.yaml", "new-checkout", false, "off", -1, "", "", 2},
		{"flags.goff.yaml", "banner-color", true, "red", -1, "", `[{"name":"staff","query":"email ew \"@example.com\"","variation":"green"}]`, 3},
		{"flags.goff.yaml", "search-v2", true, "disabled", 10, "enabled", "", 2},
		{"flags.goff.yaml", "checkout-layout", true, "a", -1, "", "", 2},
		{"flow.goff.yaml", "dark-mode", true, "off", -1, "", "", 2},
		{"flow.goff.yaml", "theme", true, "light", 25, "dark", "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.key, func(t *testing.T) {
			st, err := Document{}.Read(readFile(t, tt.file), tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if st.Key != tt.key || st.Enabled != tt.enabled || st.DefaultVariant != tt.def ||
				st.Rollout != tt.rollout || st.RolloutVariant != tt.rolloutVariant ||
				string(st.Targeting) != tt.targeting || len(st.Variants) != tt.variants {
				t.Errorf("Read = %+v (targeting %s)", st, st.Targeting)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, src, key, want string
	}{
		{"unknown key lists keys", "b: {}\na: {}\n", "c", `flag "c" is not in the file; its flags are: a, b`},
		{"syntax error has line", "a:\n  variations: [\n", "a", "line 2: invalid YAML: did not find expected node content"},
		{"top level not a mapping", "- a\n", "a", "1:1: not a GO Feature Flag file"},
		{"flag not a mapping", "a:\n  - 1\n", "a", `2:3: flag "a" must be a mapping`},
		{"wrong type", "a:\n  disable: maybe\n", "a", "line 2: cannot unmarshal !!str `maybe` into bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Document{}.Read([]byte(tt.src), tt.key)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEditGolden(t *testing.T) {
	tests := []struct {
		name, file, key string
		change          flags.Change
	}{
		{"enable", "flags.goff.yaml", "new-checkout", flags.Change{Enabled: ptr(true)}},
		{"enable-and-rollout", "flags.goff.yaml", "new-checkout", flags.Change{Enabled: ptr(true), Rollout: &flags.Rollout{Variant: "on", Percent: 20}}},
		{"disable-inserted", "flags.goff.yaml", "banner-color", flags.Change{Enabled: ptr(false)}},
		{"default-variant", "flags.goff.yaml", "banner-color", flags.Change{DefaultVariant: ptr("blue")}},
		{"rollout-block-rule", "flags.goff.yaml", "banner-color", flags.Change{Rollout: &flags.Rollout{Variant: "blue", Percent: 5}}},
		{"rollout-raised", "flags.goff.yaml", "search-v2", flags.Change{Rollout: &flags.Rollout{Variant: "enabled", Percent: 50}}},
		{"rollout-reversed", "flags.goff.yaml", "search-v2", flags.Change{Rollout: &flags.Rollout{Variant: "disabled", Percent: 50}}},
		{"rollout-ended", "flags.goff.yaml", "search-v2", flags.Change{DefaultVariant: ptr("enabled")}},
		{"rollout-keeps-rule-name", "flags.goff.yaml", "checkout-layout", flags.Change{Rollout: &flags.Rollout{Variant: "b", Percent: 30}}},
		{"targeting-replaced", "flags.goff.yaml", "banner-color", flags.Change{Targeting: json.RawMessage(`[{"name":"beta","query":"beta eq true","percentage":{"blue":50,"green":50}}]`)}},
		{"targeting-inserted", "flags.goff.yaml", "checkout-layout", flags.Change{Targeting: json.RawMessage(`[{"query":"country eq \"fr\"","variation":"b"}]`)}},
		{"flow-rollout", "flow.goff.yaml", "dark-mode", flags.Change{Enabled: ptr(false), Rollout: &flags.Rollout{Variant: "on", Percent: 15}}},
		{"flow-rollout-numbers", "flow.goff.yaml", "theme", flags.Change{Enabled: ptr(false), Rollout: &flags.Rollout{Variant: "dark", Percent: 40}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := readFile(t, tt.file)
			orig := bytes.Clone(src)
			out, err := Document{}.Edit(src, tt.key, tt.change)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(src, orig) {
				t.Fatal("Edit modified its input")
			}
			golden := filepath.Join(testdata, "golden", tt.name+".yaml")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("Edit output differs from %s:\n%s", golden, out)
			}
			if err := (Document{}).Validate(out); err != nil {
				t.Errorf("edited file does not validate: %v", err)
			}
			assertPreserved(t, src, out, tt.key)
			assertComments(t, src, out)
		})
	}
}

// assertPreserved checks that the other flags and the file's comments are
// untouched and that the edited flag keeps its position.
func assertPreserved(t *testing.T, src, out []byte, key string) {
	t.Helper()
	before, err := parse(src)
	if err != nil {
		t.Fatal(err)
	}
	after, err := parse(out)
	if err != nil {
		t.Fatalf("edited file: %v", err)
	}
	if len(before.Content) != len(after.Content) {
		t.Fatalf("flag count changed")
	}
	sb, sa := newSource(src), newSource(out)
	for i := 0; i+1 < len(before.Content); i += 2 {
		kb, ka := before.Content[i], after.Content[i]
		if kb.Value != ka.Value {
			t.Fatalf("flag order changed: %q became %q", kb.Value, ka.Value)
		}
		if kb.Value == key {
			if sb.start(kb) != sa.start(ka) || !bytes.Equal(src[:sb.start(kb)], out[:sa.start(ka)]) {
				t.Errorf("bytes before flag %q changed", key)
			}
			endB, errB := sb.pairEnd(kb, before.Content[i+1])
			endA, errA := sa.pairEnd(ka, after.Content[i+1])
			if errB == nil && (errA != nil || !bytes.Equal(src[endB:], out[endA:])) {
				t.Errorf("bytes after flag %q changed", key)
			}
			continue
		}
		if !bytes.Equal(flagText(t, sb, before, i), flagText(t, sa, after, i)) {
			t.Errorf("flag %q changed", kb.Value)
		}
	}
}

// assertComments checks that no whole-line comment was lost.
func assertComments(t *testing.T, src, out []byte) {
	t.Helper()
	for _, line := range strings.Split(string(src), "\n") {
		if c := strings.TrimSpace(line); strings.HasPrefix(c, "#") && !strings.Contains(string(out), line) {
			t.Errorf("comment line %q was lost", line)
		}
	}
}

func flagText(t *testing.T, s *source, root *yaml.Node, i int) []byte {
	t.Helper()
	end, err := s.pairEnd(root.Content[i], root.Content[i+1])
	if err != nil {
		// A flag the editor cannot span (and so never edits): its text runs
		// to the next flag's key.
		end = len(s.src)
		if i+2 < len(root.Content) {
			end = s.start(root.Content[i+2])
		}
	}
	return s.src[s.start(root.Content[i]):end]
}

func TestEditNoChangeReturnsInput(t *testing.T) {
	src := readFile(t, "flags.goff.yaml")
	for _, tt := range []struct {
		key string
		c   flags.Change
	}{
		{"new-checkout", flags.Change{Enabled: ptr(false)}},
		{"banner-color", flags.Change{Enabled: ptr(true), DefaultVariant: ptr("red")}},
		{"search-v2", flags.Change{Rollout: &flags.Rollout{Variant: "enabled", Percent: 10}}},
		{"banner-color", flags.Change{Targeting: json.RawMessage(`[{"variation":"green","query":"email ew \"@example.com\"","name":"staff"}]`)}},
	} {
		out, err := Document{}.Edit(src, tt.key, tt.c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, src) {
			t.Errorf("change %+v rewrote the file:\n%s", tt.c, out)
		}
	}
}

func TestEditErrors(t *testing.T) {
	src := readFile(t, "flags.goff.yaml")
	tests := []struct {
		name, key string
		change    flags.Change
		want      string
	}{
		{"unknown flag", "nope", flags.Change{Enabled: ptr(true)}, "its flags are: banner-color, checkout-layout, new-checkout, search-v2"},
		{"unknown rollout variant", "new-checkout", flags.Change{Rollout: &flags.Rollout{Variant: "maybe", Percent: 5}}, `no variation "maybe"; its variations are: off, on`},
		{"unknown default variant", "banner-color", flags.Change{DefaultVariant: ptr("pink")}, `no variation "pink"; its variations are: blue, green, red`},
		{"percent negative", "new-checkout", flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: -1}}, "give 0 to 100"},
		{"rollout of the default", "banner-color", flags.Change{Rollout: &flags.Rollout{Variant: "red", Percent: 5}}, `"red" is already the default variation`},
		{"targeting not a list", "banner-color", flags.Change{Targeting: json.RawMessage(`{"query":"a eq 1"}`)}, "must be a JSON array"},
		{"invalid rule refused", "banner-color", flags.Change{Targeting: json.RawMessage(`[{"query":"a eq 1","variation":"pink"}]`)}, `would make flag "banner-color" invalid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Document{}.Edit(src, tt.key, tt.change)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, f := range []string{"flags.goff.yaml", "flow.goff.yaml"} {
		if err := (Document{}).Validate(readFile(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	tests := []struct {
		name, src string
		want      string
	}{
		{"syntax", "a:\n  variations: {on: true\n", "line 1: invalid YAML: did not find expected ',' or '}'"},
		{"typo in field", "a:\n  variations: {on: true, off: false}\n  defaultRule: {variation: on}\n  disabled: true\n", `4:3: flag "a": unknown flag field "disabled", which GO Feature Flag ignores`},
		{"typo in rule", "a:\n  variations: {on: true, off: false}\n  defaultRule: {variaton: on}\n", `3:17: flag "a": unknown defaultRule field "variaton"`},
		{"no default rule", "a:\n  variations: {on: true, off: false}\n", `1:1: flag "a": missing default rule`},
		{"unknown variation", "x: 1\nb:\n  variations: {on: true, off: false}\n  defaultRule: {percentage: {on: 10, of: 90}}\n", `2:1: flag "b": invalid percentage: variation of does not exist`},
		{"bad query", "a:\n  variations: {on: true, off: false}\n  targeting:\n    - query: 'key eq'\n      variation: on\n  defaultRule: {variation: off}\n", `1:1: flag "a": `},
		{"wrong type", "a:\n  variations: {on: true, off: false}\n  defaultRule: {variation: off}\n  disable: maybe\n", "line 4: flag \"a\": cannot unmarshal !!str `maybe` into bool"},
		{"not a mapping", "a: 3\n", `1:4: flag "a" must be a mapping`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Document{}.Validate([]byte(tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEvaluateRollout(t *testing.T) {
	src := readFile(t, "flags.goff.yaml")
	const users = 10000
	tests := []struct {
		percent  int
		min, max int // users served "on"
	}{
		{0, 0, 0},
		{20, 1800, 2200},
		{100, users, users},
	}
	for _, tt := range tests {
		out, err := Document{}.Edit(src, "new-checkout", flags.Change{Enabled: ptr(true), Rollout: &flags.Rollout{Variant: "on", Percent: tt.percent}})
		if err != nil {
			t.Fatal(err)
		}
		counts, err := Document{}.Evaluate(out, "new-checkout", users)
		if err != nil {
			t.Fatal(err)
		}
		if counts["on"] < tt.min || counts["on"] > tt.max || counts["on"]+counts["off"] != users {
			t.Errorf("%d%% rollout: counts %v, want %d-%d of %d on", tt.percent, counts, tt.min, tt.max, users)
		}
	}
}

func TestEvaluate(t *testing.T) {
	src := readFile(t, "flags.goff.yaml")
	counts, err := Document{}.Evaluate(src, "new-checkout", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[DisabledKey] != 50 {
		t.Errorf("disabled flag: counts %v", counts)
	}
	counts, err = Document{}.Evaluate(src, "banner-color", 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts["red"] != 50 {
		t.Errorf("static flag: counts %v", counts)
	}
	if _, err := (Document{}).Evaluate(src, "nope", 5); err == nil || !strings.Contains(err.Error(), "its flags are") {
		t.Errorf("unknown flag: err = %v", err)
	}
	assertNoClientGoroutines(t)
}

// assertNoClientGoroutines fails if a GO Feature Flag goroutine outlives
// Evaluate. Goroutines may still be returning right after Close, so it
// looks a few times before failing.
func assertNoClientGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for range 50 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "thomaspoignant/go-feature-flag") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("GO Feature Flag goroutines left running:\n%s", stacks)
}

func TestEditInsertsMissingEntries(t *testing.T) {
	tests := []struct {
		name, src string
		change    flags.Change
		want      string
	}{
		{"default rule", "x:\n  variations:\n    a: 1\n    b: 2\n# next\n",
			flags.Change{DefaultVariant: ptr("b")},
			"x:\n  variations:\n    a: 1\n    b: 2\n  defaultRule:\n    variation: b\n# next\n"},
		{"quoted names", "x:\n  variations:\n    \"true\": 1\n    \"a b\": 2\n  defaultRule:\n    variation: \"a b\"\n",
			flags.Change{Rollout: &flags.Rollout{Variant: "true", Percent: 1}},
			"x:\n  variations:\n    \"true\": 1\n    \"a b\": 2\n  defaultRule:\n    percentage:\n      \"true\": 1\n      \"a b\": 99\n"},
		{"empty disable", "x:\n  variations: {a: 1, b: 2}\n  defaultRule: {variation: a}\n  disable:\n",
			flags.Change{Enabled: ptr(false)},
			"x:\n  variations: {a: 1, b: 2}\n  defaultRule: {variation: a}\n  disable: true\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Document{}.Edit([]byte(tt.src), "x", tt.change)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
}
