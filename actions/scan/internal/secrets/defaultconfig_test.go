package secrets

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// The fast load gives exactly the configuration gitleaks builds itself:
// every rule (regular expressions, keywords, entropy, allowlists), the
// keyword index, the rule order and the global allowlists.
func TestDefaultConfigMatchesGitleaks(t *testing.T) {
	theirs, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	ours, err := defaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(ours.Rules) != len(theirs.Config.Rules) || len(ours.Rules) < 200 {
		t.Fatalf("%d rules, gitleaks has %d", len(ours.Rules), len(theirs.Config.Rules))
	}
	canon := func(c config.Config) string {
		c.Path = ""
		// gitleaks keeps stop words in a set: their order is random.
		for _, r := range c.Rules {
			for _, a := range r.Allowlists {
				sort.Strings(a.StopWords)
			}
		}
		for _, a := range c.Allowlists {
			sort.Strings(a.StopWords)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := canon(ours), canon(theirs.Config); a != b {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		lo := max(0, i-200)
		t.Errorf("configs differ at %d:\nours   %.400s\ntheirs %.400s", i, a[lo:], b[lo:])
	}
	if len(ours.Allowlists) == 0 || len(ours.Keywords) == 0 {
		t.Errorf("allowlists %d keywords %d", len(ours.Allowlists), len(ours.Keywords))
	}
	a, b := append([]string(nil), ours.OrderedRules...), append([]string(nil), theirs.Config.OrderedRules...)
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		t.Fatalf("ordered rules %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("ordered rules differ at %s / %s", a[i], b[i])
		}
	}
}

func BenchmarkDefaultConfig(b *testing.B) {
	b.Run("gantry", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := defaultConfig(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gitleaks", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := detect.NewDetectorDefaultConfig(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
