package flagd

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdata = "../../testdata/flagd"

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
		{"flags.json", "new-checkout", false, "off", -1, "", "{}", 2},
		{"flags.json", "banner-color", true, "red", -1, "", "", 3},
		{"flags.json", "search-v2", true, "off", 10, "on", `{"fractional":[["on",10],["off",90]]}`, 2},
		{"flags.json", "beta-users", true, "off", -1, "", `{"if":[{"$ref":"isBeta"},"on",null]}`, 2},
		// theme's split starts with its non-default variant b.
		{"compact.json", "theme", true, "a", 25, "b", `{"fractional":[{"var":"email"},["b",25],["a",75]]}`, 2},
		{"compact.json", "dark-mode", true, "off", -1, "", "", 2},
		{"tabs.json", "tabbed", true, "no", -1, "", "", 2},
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

func TestReadRolloutShapes(t *testing.T) {
	tests := []struct {
		name, variants, def, targeting string
		want                           int
		wantVariant                    string
	}{
		{"weights default to 1", `{"a":"x","b":"y"}`, "a", `{"fractional":[["b"],["a"]]}`, 50, "b"},
		{"weights need not sum to 100", `{"a":"x","b":"y"}`, "a", `{"fractional":[["b",1],["a",3]]}`, 25, "b"},
		{"one-way split", `{"a":"x","b":"y"}`, "a", `{"fractional":[["b",7]]}`, 100, "b"},
		{"boolean takes the first", `{"on":true,"off":false}`, "off", `{"fractional":[["off",70],["on",30]]}`, 70, "off"},
		{"three-way split", `{"a":1,"b":2,"c":3}`, "a", `{"fractional":[["a",1],["b",1],["c",1]]}`, -1, ""},
		{"split inside a rule", `{"a":"x","b":"y"}`, "a", `{"if":[true,{"fractional":[["b",1],["a",1]]},"a"]}`, -1, ""},
		{"zero weights", `{"a":"x","b":"y"}`, "a", `{"fractional":[["b",0],["a",0]]}`, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `{"flags":{"f":{"state":"ENABLED","variants":` + tt.variants + `,"defaultVariant":"` + tt.def + `","targeting":` + tt.targeting + `}}}`
			st, err := Document{}.Read([]byte(src), "f")
			if err != nil {
				t.Fatal(err)
			}
			if st.Rollout != tt.want || st.RolloutVariant != tt.wantVariant {
				t.Errorf("rollout = %q %d, want %q %d", st.RolloutVariant, st.Rollout, tt.wantVariant, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, src, key, want string
	}{
		{"unknown key lists keys", `{"flags":{"b":{},"a":{}}}`, "c", `flag "c" is not in the file; its flags are: a, b`},
		{"syntax error has position", "{\n  \"flags\": {,}\n}", "a", "2:13: invalid JSON: expected a quoted object key"},
		{"no flags object", `{"flag":{}}`, "a", `no "flags" object`},
		{"flag not an object", "{\"flags\":{\"a\":\n 1}}", "a", `2:2: flag "a" is not a JSON object`},
		{"trailing data", `{"flags":{}} x`, "a", `1:14: invalid JSON: unexpected 'x'`},
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
		{"enable", "flags.json", "new-checkout", flags.Change{Enabled: ptr(true)}},
		{"rollout-into-empty-targeting", "flags.json", "new-checkout", flags.Change{Enabled: ptr(true), Rollout: &flags.Rollout{Variant: "on", Percent: 20}}},
		{"rollout-inserted", "flags.json", "banner-color", flags.Change{Rollout: &flags.Rollout{Variant: "blue", Percent: 5}}},
		{"rollout-new-default", "flags.json", "banner-color", flags.Change{DefaultVariant: ptr("green"), Rollout: &flags.Rollout{Variant: "blue", Percent: 5}}},
		{"rollout-raised", "flags.json", "search-v2", flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: 50}}},
		{"targeting-replaced", "flags.json", "beta-users", flags.Change{Targeting: json.RawMessage(`{"if":[{"in":["@example.com",{"var":"email"}]},"on","off"]}`)}},
		{"disable-and-default", "flags.json", "banner-color", flags.Change{Enabled: ptr(false), DefaultVariant: ptr("blue")}},
		{"compact-rollout-keeps-bucketing", "compact.json", "theme", flags.Change{Rollout: &flags.Rollout{Variant: "b", Percent: 60}}},
		{"compact-rollout-inserted", "compact.json", "dark-mode", flags.Change{Enabled: ptr(false), Rollout: &flags.Rollout{Variant: "on", Percent: 1}}},
		{"tabs-rollout-inserted", "tabs.json", "tabbed", flags.Change{Rollout: &flags.Rollout{Variant: "yes", Percent: 30}}},
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
			golden := filepath.Join(testdata, "golden", tt.name+".json")
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
		})
	}
}

// assertPreserved checks that every byte outside the edited flag is as it was.
func assertPreserved(t *testing.T, src, out []byte, key string) {
	t.Helper()
	_, before, err := findFlag(src, key)
	if err != nil {
		t.Fatal(err)
	}
	_, after, err := findFlag(out, key)
	if err != nil {
		t.Fatalf("edited file: %v", err)
	}
	if !bytes.Equal(src[:before.obj.start], out[:after.obj.start]) || before.obj.start != after.obj.start {
		t.Errorf("bytes before flag %q changed", key)
	}
	if !bytes.Equal(src[before.obj.end:], out[after.obj.end:]) {
		t.Errorf("bytes after flag %q changed", key)
	}
	edited := map[string]bool{"state": true, "defaultVariant": true, "targeting": true}
	// Members keep their order; new ones are only appended.
	if len(after.obj.members) < len(before.obj.members) {
		t.Fatalf("flag %q lost members", key)
	}
	for i, m := range before.obj.members {
		n := after.obj.members[i]
		if n.key != m.key || (!edited[m.key] && !bytes.Equal(m.val.raw(src), n.val.raw(out))) {
			t.Errorf("member %q of flag %q changed", m.key, key)
		}
	}
	for _, n := range after.obj.members[len(before.obj.members):] {
		if !edited[n.key] {
			t.Errorf("unexpected member %q added to flag %q", n.key, key)
		}
	}
}

func TestEditNoChangeReturnsInput(t *testing.T) {
	src := readFile(t, "flags.json")
	for _, c := range []flags.Change{
		{Enabled: ptr(false)},
		{DefaultVariant: ptr("off")},
		{Rollout: &flags.Rollout{Variant: "on", Percent: 10}},
		{Targeting: json.RawMessage(` { "fractional" : [ ["on",10], ["off",90] ] } `)},
	} {
		key := "search-v2"
		if c.Enabled != nil {
			key = "new-checkout"
		}
		out, err := Document{}.Edit(src, key, c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, src) {
			t.Errorf("change %+v rewrote the file:\n%s", c, out)
		}
	}
}

func TestEditErrors(t *testing.T) {
	src := readFile(t, "flags.json")
	tests := []struct {
		name, key string
		change    flags.Change
		want      string
	}{
		{"unknown flag", "nope", flags.Change{Enabled: ptr(true)}, "its flags are: banner-color, beta-users, new-checkout, search-v2"},
		{"unknown rollout variant", "new-checkout", flags.Change{Rollout: &flags.Rollout{Variant: "maybe", Percent: 5}}, `no variant "maybe"; its variants are: off, on`},
		{"unknown default variant", "banner-color", flags.Change{DefaultVariant: ptr("pink")}, `no variant "pink"; its variants are: blue, green, red`},
		{"other rules refused", "beta-users", flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: 5}}, "targeting rules at line 43:20 that are more than a fractional split; a rollout would replace them: change them with the targeting input instead"},
		{"percent too large", "new-checkout", flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: 101}}, "give 0 to 100"},
		{"rollout of the default", "banner-color", flags.Change{Rollout: &flags.Rollout{Variant: "red", Percent: 5}}, `"red" is already the default variant`},
		{"rollout and targeting", "new-checkout", flags.Change{Rollout: &flags.Rollout{Variant: "on", Percent: 5}, Targeting: json.RawMessage(`{}`)}, "give one of them"},
		{"bad targeting JSON", "new-checkout", flags.Change{Targeting: json.RawMessage(`{"if":`)}, "not valid JSON"},
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
	for _, f := range []string{"flags.json", "compact.json", "tabs.json"} {
		if err := (Document{}).Validate(readFile(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"syntax", "{\n  \"flags\": {\n    \"a\": {\"state\": \"ENABLED\",}\n  }\n}", []string{"3:30: invalid JSON: expected a quoted object key"}},
		{"bad state", "{\"flags\": {\n  \"a\": {\"state\": \"ON\", \"variants\": {\"on\": true}, \"defaultVariant\": \"on\"}}}", []string{"2:18: flags.a.state must be one of the following: \"ENABLED\", \"DISABLED\""}},
		{"missing variants", "{\"flags\": {\n  \"a\": {\"state\": \"ENABLED\", \"defaultVariant\": \"on\"}}}", []string{"2:8: flags.a: not a valid flagd flag: it needs \"state\" and \"variants\""}},
		{"unknown default variant", "{\"flags\": {\n  \"a\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false},\n \"defaultVariant\": \"maybe\"}}}", []string{`3:20: flag "a" has no variant "maybe"; its variants are: off, on`}},
		{"unknown fractional variant", "{\"flags\": {\"a\": {\"state\": \"ENABLED\", \"variants\": {\"on\": true, \"off\": false}, \"defaultVariant\": \"off\",\n\"targeting\": {\"fractional\": [[\"onn\", 5], [\"off\", 95]]}}}}", []string{`2:31: fractional split: flag "a" has no variant "onn"`}},
		{"undefined evaluator", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "targeting": {"if": [{"$ref": "missing"}, "on", "off"]}}}}`, []string{`1:116: flags.a: flagd cannot evaluate the flag`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Document{}.Validate([]byte(tt.src))
			if err == nil {
				t.Fatal("Validate accepted the file")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEvaluateRollout(t *testing.T) {
	src := readFile(t, "flags.json")
	const users = 10000
	tests := []struct {
		percent  int
		min, max int // share of "on", in users
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
	src := readFile(t, "flags.json")
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
}

func TestEditInsertsMissingMembers(t *testing.T) {
	tests := []struct {
		name, src string
		change    flags.Change
		want      string
	}{
		{"compact", `{"flags":{"f":{"variants":{"a":"x","b":"y"}}}}`,
			flags.Change{Enabled: ptr(true), DefaultVariant: ptr("a")},
			`{"flags":{"f":{"variants":{"a":"x","b":"y"},"state":"ENABLED","defaultVariant":"a"}}}`},
		{"spaced one-line", `{"flags": {"f": {"state": "ENABLED", "variants": {"a": "x", "b": "y"}, "defaultVariant": "a"}}}`,
			flags.Change{Rollout: &flags.Rollout{Variant: "b", Percent: 10}},
			`{"flags": {"f": {"state": "ENABLED", "variants": {"a": "x", "b": "y"}, "defaultVariant": "a", "targeting": {"fractional": [["b", 10], ["a", 90]]}}}}`},
		{"multi-line", "{\n \"flags\": {\n  \"f\": {\n   \"variants\": {\"a\": 1, \"b\": 2}\n  }\n }\n}\n",
			flags.Change{DefaultVariant: ptr("b"), Enabled: ptr(false)},
			"{\n \"flags\": {\n  \"f\": {\n   \"variants\": {\"a\": 1, \"b\": 2},\n   \"state\": \"DISABLED\",\n   \"defaultVariant\": \"b\"\n  }\n }\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Document{}.Edit([]byte(tt.src), "f", tt.change)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
}
