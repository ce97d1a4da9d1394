package delivery

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// stageOrder is the pipeline's jobs in the order a reader follows them.
var stageOrder = []string{"build", "unit", "integration", "e2e", "scan", "deploy", "release", "annotate"}

func rel(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// Print writes the short report of one run: stages, steps, flag, traffic.
func (r *Report) Print(w io.Writer, base string) {
	outcome := "succeeded"
	if !r.Success {
		outcome = "failed"
	}
	fmt.Fprintf(w, "\n== release %s (fail-rate %s, %s): pipeline %s in %s; rollout %s\n",
		r.Release.Version, r.Release.FailRate, r.Release.Strategy, outcome, r.Duration.Round(time.Second), orNone(r.Result))
	byJob := map[string]Stage{}
	for _, s := range r.Stages {
		byJob[s.Job] = s
	}
	fmt.Fprintf(w, "   %-12s %-10s %s\n", "stage", "result", "time")
	for _, j := range stageOrder {
		s, ok := byJob[j]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "   %-12s %-10s %s\n", j, s.Result, s.Duration.Round(100*time.Millisecond))
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "   %-5s %-7s %-28s %-8s %s\n", "step", "weight", "canary share of the load", "verdict", "measurements")
		for _, st := range r.Steps {
			var ms []string
			for _, m := range st.Measurements {
				v := fmt.Sprintf("%.3g", m.Value)
				switch {
				case m.Error != "":
					v = "error"
				case m.NoData:
					v = "no data"
				}
				mark := "ok"
				if !m.Pass {
					mark = "FAIL"
				}
				ms = append(ms, fmt.Sprintf("%s=%s %s %s", m.Check, v, m.Threshold, mark))
			}
			share := fmt.Sprintf("%.1f%% of %d (%d failed)", st.CanaryShare, st.Requests, st.Failed)
			fmt.Fprintf(w, "   %-5d %-7s %-28s %-8s %s\n", st.Index, fmt.Sprintf("%d%%", st.Weight), share, st.Verdict, strings.Join(ms, "; "))
			if st.Reason != "" && st.Verdict != "pass" {
				fmt.Fprintf(w, "         %s\n", st.Reason)
			}
		}
	}
	change := "unchanged"
	if r.FlagBefore != r.FlagAfter {
		change = "changed"
	}
	fmt.Fprintf(w, "   flag new-checkout: %s -> %s (%s)\n", r.FlagBefore, r.FlagAfter, change)
	fmt.Fprintf(w, "   traffic now: %s\n", shares(r.After))
	for _, a := range r.Annotations {
		fmt.Fprintf(w, "   grafana annotation %d: %s\n", a.ID, firstLine(a.Text))
	}
	for _, d := range r.DeployInfo {
		fmt.Fprintf(w, "   pushgateway: %s\n", d)
	}
}

// PrintFiles says where the run's files are.
func (r *Report) PrintFiles(w io.Writer, base string) {
	if r.Summary != "" {
		fmt.Fprintf(w, "   summary: %s\n", rel(base, r.Summary))
	}
	for _, c := range r.Charts {
		fmt.Fprintf(w, "   chart:   %s\n", rel(base, c))
	}
	if r.SARIF != "" {
		fmt.Fprintf(w, "   SARIF:   %s\n", rel(base, r.SARIF))
	}
}

func orNone(s string) string {
	if s == "" {
		return "not run"
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func shares(m map[string]int) string {
	total := 0
	keys := make([]string, 0, len(m))
	for k, v := range m {
		total += v
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d%%", k, 100*m[k]/max(total, 1)))
	}
	return strings.Join(parts, ", ")
}
