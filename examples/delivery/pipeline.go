package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/runner/dockerbackend"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// Release is one run of the pipeline.
type Release struct {
	Version  string
	FailRate string // "0" for a good release
	Strategy string // canary or blue-green
}

// Tuning is what the demo and the test shorten (vars of the workflow).
type Tuning struct {
	Steps         string // CANARY_STEPS
	Interval      string // CANARY_INTERVAL
	FailureLimit  int    // FAILURE_LIMIT
	MinRequests   int    // MIN_REQUESTS
	GuardDuration string // GUARD_DURATION
	GuardWindow   string // GUARD_WINDOW
	GoImage       string // the local Go image the actions' Dockerfile builds on
	BaseImage     string // the shop image's base
	PostgresImage string
}

// Stage is one job of the run.
type Stage struct {
	Job      string
	Result   string
	Duration time.Duration
}

// Step is one analysed step of the rollout with the traffic measured while
// it ran.
type Step struct {
	Index        int           `json:"index"`
	Weight       int           `json:"weight"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Verdict      string        `json:"verdict"`
	Reason       string        `json:"reason"`
	Measurements []Measurement `json:"measurements"`
	// From the load's own answers in the step's window:
	Requests    int
	CanaryShare float64 // percent of answers from the canary version
	Failed      int
}

// Measurement is one check of a step, as the canary action saved it.
type Measurement struct {
	Check     string  `json:"check"`
	Value     float64 `json:"value"`
	Threshold string  `json:"threshold"`
	Pass      bool    `json:"pass"`
	NoData    bool    `json:"no-data"`
	Error     string  `json:"error"`
}

// Report is what one run did.
type Report struct {
	Release     Release
	Success     bool
	Duration    time.Duration
	Stages      []Stage
	Result      string // the canary's result output
	FinalWeight string
	Steps       []Step
	FlagBefore  string
	FlagAfter   string
	After       map[string]int // versions answering 100 requests after the run
	Annotations []Annotation
	DeployInfo  []string // deploy_info lines on the Pushgateway
	Summary     string   // the run's step summaries (Markdown)
	Charts      []string
	SARIF       string
	Log         string // the run's full log
}

// Vars are the workflow's variables for this stack.
func (s *Stack) Vars(t Tuning) map[string]string {
	return map[string]string{
		"IMAGE":            s.Registry + "/shop",
		"BASE_IMAGE":       t.BaseImage,
		"POSTGRES_IMAGE":   t.PostgresImage,
		"DEPLOY_RUNNER":    "self-hosted",
		"HAPROXY_SOCKET":   s.Socket,
		"HAPROXY_BACKEND":  "app",
		"STABLE_ADDRESS":   s.Stable,
		"PROMETHEUS_URL":   s.Prometheus,
		"PUSHGATEWAY_URL":  s.Pushgateway,
		"GRAFANA_URL":      s.Grafana,
		"STATE_FILE":       ".gantry/stack/" + s.Opts.Name + ".json",
		"ROLLOUT_NAME":     s.Opts.Name,
		"FLAGS_FILE":       ".gantry/stack/flags.json",
		"FLAG_COMMIT":      "none",
		"CANARY_STEPS":     t.Steps,
		"CANARY_INTERVAL":  t.Interval,
		"FAILURE_LIMIT":    strconv.Itoa(t.FailureLimit),
		"MIN_REQUESTS":     strconv.Itoa(t.MinRequests),
		"ROLLBACK_WINDOW":  "0",
		"GUARD_DURATION":   t.GuardDuration,
		"GUARD_WINDOW":     t.GuardWindow,
		"GUARD_INTERVAL":   "1s",
		"REPORT_DIR":       "reports",
		"UPLOAD_ARTIFACTS": "false",
		"GO_CACHE_DIR":     goCacheDir,
	}
}

// Run runs deliver.yml once for the release, under Gantry's scheduler with
// docker actions on the host network, and reports what happened.
func (s *Stack) Run(ctx context.Context, rel Release, t Tuning, log io.Writer) (*Report, error) {
	ws := s.Opts.Workspace
	path := filepath.Join(ws, ".github", "workflows", "deliver.yml")
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	wf, err := workflow.Parse(path, src)
	if err != nil {
		return nil, err
	}
	rep := &Report{Release: rel, FlagBefore: s.FlagState()}
	// Each release keeps its own SARIF and charts.
	reports := filepath.Join("reports", rel.Version)
	_ = os.RemoveAll(filepath.Join(ws, reports))
	vars := s.Vars(t)
	vars["REPORT_DIR"] = reports
	annotated := len(s.grafana.annotations())
	var out strings.Builder
	w := io.Writer(&out)
	if log != nil {
		w = io.MultiWriter(&out, log)
	}
	inputs := map[string]string{"version": rel.Version, "fail-rate": rel.FailRate, "strategy": rel.Strategy}
	payload := map[string]any{"ref": "refs/heads/main", "inputs": inputs,
		"repository": map[string]any{"full_name": "gantry-ci/shop", "name": "shop", "owner": map[string]any{"login": "gantry-ci"}}}
	start := time.Now()
	res, err := scheduler.Run(ctx, wf, scheduler.Options{
		RepoDir: ws, Bind: true, EventName: "workflow_dispatch", Payload: payload, Inputs: inputs,
		Vars: vars, Secrets: map[string]string{"GRAFANA_TOKEN": s.GrafanaToken}, Out: w, WorkRoot: filepath.Join(s.Dir, "runs"), SummaryDir: filepath.Join(ws, ".gantry", "summaries"),
		Network: "host", Containers: dockerbackend.New(s.engine),
		ActionBuildArgs: map[string]string{"GO_IMAGE": t.GoImage, "RUNTIME_IMAGE": t.GoImage, "PREBUILT": "1"},
	})
	rep.Duration = time.Since(start)
	rep.Log = out.String()
	if err != nil {
		return rep, fmt.Errorf("run deliver.yml: %w", err)
	}
	rep.Success = res.Success
	for _, j := range res.Jobs {
		rep.Stages = append(rep.Stages, Stage{Job: j.ID, Result: string(j.Result), Duration: j.Duration})
		if j.ID == "deploy" {
			rep.Result, rep.FinalWeight = j.Outputs["result"], j.Outputs["final-weight"]
		}
	}
	if _, err := os.Stat(res.SummaryPath); err == nil {
		rep.Summary = res.SummaryPath
	}
	rep.FlagAfter = s.FlagState()
	rep.Steps = s.steps()
	rep.After = s.split(100)
	rep.Annotations = s.grafana.annotations()[annotated:]
	rep.DeployInfo = s.deployInfo(ctx)
	rep.Charts, _ = filepath.Glob(filepath.Join(ws, reports, "charts", "*"))
	if _, err := os.Stat(filepath.Join(ws, reports, "shop.sarif")); err == nil {
		rep.SARIF = filepath.Join(ws, reports, "shop.sarif")
	}
	return rep, nil
}

// steps reads the rollout's analysed steps from the canary's state file and
// adds what the load saw in each window.
func (s *Stack) steps() []Step {
	data, err := os.ReadFile(filepath.Join(s.Dir, s.Opts.Name+".json"))
	if err != nil {
		return nil
	}
	var st struct {
		Canary  struct{ Version string }
		Stable  struct{ Version string }
		History []Step
	}
	if json.Unmarshal(data, &st) != nil {
		return nil
	}
	// After a promotion the canary is the stable: the new version is the
	// one that was deployed, whichever role it holds now.
	for i := range st.History {
		h := &st.History[i]
		total, by, failed := s.load.window(h.Start, h.End)
		h.Requests, h.Failed = total, failed
		if total > 0 {
			h.CanaryShare = 100 * float64(by[s.deployed(st.Canary.Version, st.Stable.Version)]) / float64(total)
		}
	}
	return st.History
}

// deployed is the version the last run rolled out: the newest one that is
// not the stable shop process.
func (s *Stack) deployed(canary, stable string) string {
	if canary != "" {
		return canary
	}
	return stable
}

// split sends n requests through HAProxy and counts the versions answering.
func (s *Stack) split(n int) map[string]int {
	got := map[string]int{}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < n; i++ {
		resp, err := client.Get(s.Front)
		if err != nil {
			got["error"]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got[resp.Header.Get("X-Version")]++
	}
	return got
}

// FlagState describes the new-checkout flag in the production flags file.
func (s *Stack) FlagState() string {
	data, err := os.ReadFile(filepath.Join(s.Dir, "flags.json"))
	if err != nil {
		return "unreadable: " + err.Error()
	}
	var doc struct {
		Flags map[string]struct {
			State          string
			DefaultVariant string
			Targeting      struct {
				Fractional [][]any
			}
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "invalid: " + err.Error()
	}
	f, ok := doc.Flags["new-checkout"]
	if !ok {
		return "missing"
	}
	if f.State != "ENABLED" {
		return "off"
	}
	for _, pair := range f.Targeting.Fractional {
		if len(pair) == 2 && pair[0] == "on" {
			return fmt.Sprintf("on for %v%%", pair[1])
		}
	}
	return "on (" + f.DefaultVariant + ")"
}

func (s *Stack) deployInfo(ctx context.Context) []string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Pushgateway+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "deploy_info{") {
			lines = append(lines, l)
		}
	}
	sort.Strings(lines)
	return lines
}

// Query runs an instant PromQL query and returns the first sample.
func (s *Stack) Query(ctx context.Context, q string) (float64, bool, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Prometheus+"/api/v1/query?query="+url.QueryEscape(q), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, false, err
	}
	if len(body.Data.Result) == 0 {
		return 0, false, nil
	}
	str, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	return v, err == nil, err
}
