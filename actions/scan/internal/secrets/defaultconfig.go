package secrets

import (
	"fmt"
	"runtime"
	"sync"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/zricethezav/gitleaks/v8/config"
)

// defaultConfig is gitleaks' default configuration, loaded faster than
// gitleaks loads it: start-up is most of the cost of scanning a small tree.
//
//   - The TOML is decoded straight into gitleaks' own ViperConfig, not
//     through viper and mapstructure (~100 ms of reflection on a loaded
//     machine, against ~5 ms).
//   - Its 222 rules are translated (their regular expressions compiled) in
//     parallel chunks, one per CPU, then merged; the global allowlists are
//     translated once on their own.
//
// A config whose allowlists target rules or whose rules require others is
// translated in one piece, as gitleaks does, since a chunk would not see
// the rules it refers to. TestDefaultConfigMatchesGitleaks proves the
// result equals gitleaks' own.
func defaultConfig() (config.Config, error) {
	var vc config.ViperConfig
	if err := toml.Unmarshal([]byte(config.DefaultConfig), &vc); err != nil {
		return config.Config{}, fmt.Errorf("gitleaks default config: %w", err)
	}
	return translate(vc)
}

func translate(vc config.ViperConfig) (config.Config, error) {
	n := runtime.GOMAXPROCS(0)
	if n < 2 || len(vc.Rules) < 2*n || vc.Extend.Path != "" || vc.Extend.URL != "" || vc.Extend.UseDefault || crossReferences(vc) {
		return vc.Translate()
	}
	chunks := make([]config.ViperConfig, n)
	size := (len(vc.Rules) + n - 1) / n
	for i := range chunks {
		lo, hi := i*size, min((i+1)*size, len(vc.Rules))
		if lo < hi {
			chunks[i].Rules = vc.Rules[lo:hi]
		}
	}
	global := vc
	global.Rules = nil
	results := make([]config.Config, n+1)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = chunks[i].Translate()
		}()
	}
	results[n], errs[n] = global.Translate()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return config.Config{}, err
		}
	}
	out := results[n]
	out.Rules = map[string]config.Rule{}
	out.Keywords = map[string]struct{}{}
	out.OrderedRules = nil
	for _, r := range results[:n] {
		for id, rule := range r.Rules {
			if _, dup := out.Rules[id]; dup {
				return vc.Translate() // let gitleaks report or resolve duplicates
			}
			out.Rules[id] = rule
		}
		for k := range r.Keywords {
			out.Keywords[k] = struct{}{}
		}
		out.OrderedRules = append(out.OrderedRules, r.OrderedRules...)
	}
	return out, nil
}

// crossReferences says whether parts of the config name rules: then it
// cannot be split.
func crossReferences(vc config.ViperConfig) bool {
	for _, a := range vc.Allowlists {
		if a != nil && len(a.TargetRules) > 0 {
			return true
		}
	}
	//lint:ignore SA1019 gitleaks still reads the old [allowlist] table; so must the check.
	if vc.AllowList != nil && len(vc.AllowList.TargetRules) > 0 {
		return true
	}
	for _, r := range vc.Rules {
		if len(r.Required) > 0 {
			return true
		}
	}
	return false
}
