package flagaction

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
	"github.com/gantry-ci/gantry/actions/flag/internal/gitops"
	"github.com/gantry-ci/gantry/actions/flag/internal/guard"
	"github.com/gantry-ci/gantry/internal/actionkit"
)

type config struct {
	provider, file, key string
	change              flags.Change
	dryRun              bool
	expect              *expectation

	check         guard.Check
	guardWindow   time.Duration
	guardInterval time.Duration
	guardFailures int
	duration      time.Duration

	commit, branch, base, message, reason string
	token, apiURL, repository             string
	service                               ServiceConfig
	auditLog                              string
	workspace                             string
	actor, runURL                         string
}

func inputs(k *actionkit.Kit) *config {
	c := &config{}
	c.provider = k.OneOf("provider", "flagd", providerNames()...)
	c.key = k.Required("flag")
	_, isFile := documents[c.provider]
	c.file = k.String("file", "")
	if isFile {
		if c.file == "" {
			k.Invalid("file", "is required for provider %s: the flag file's path in the repository", c.provider)
		} else if err := gitops.CheckPath(c.file); err != nil {
			k.Invalid("file", "%v", err)
		}
	} else if c.file != "" {
		k.Invalid("file", "provider %s is a service; file is for the file providers (%s)", c.provider, strings.Join(sortedKeys(documents), ", "))
	}

	if s := k.String("state", ""); s != "" {
		on, ok := parseOnOff(s)
		if !ok {
			k.Invalid("state", "%q is not on or off", s)
		}
		c.change.Enabled = &on
	}
	if v := k.String("default-variant", ""); v != "" {
		c.change.DefaultVariant = &v
	}
	if r := strings.TrimSpace(k.String("rollout", "")); r != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(r, "%"))
		if err != nil || n < 0 || n > 100 {
			k.Invalid("rollout", "%q is not a percentage from 0 to 100", r)
		}
		c.change.Rollout = &flags.Rollout{Percent: n, Variant: k.String("rollout-variant", "")}
	} else if k.String("rollout-variant", "") != "" {
		k.Invalid("rollout-variant", "needs rollout (the percentage of users to serve it)")
	}
	if t := strings.TrimSpace(k.String("targeting", "")); t != "" {
		if !json.Valid([]byte(t)) {
			var v any
			err := json.Unmarshal([]byte(t), &v)
			k.Invalid("targeting", "is not valid JSON: %v", err)
		} else {
			c.change.Targeting = json.RawMessage(t)
		}
	}
	if c.change.Enabled == nil && c.change.DefaultVariant == nil && c.change.Rollout == nil && c.change.Targeting == nil {
		k.Invalid("state", "nothing to change: set state, default-variant, rollout or targeting")
	}
	c.dryRun = k.Bool("dry-run", false)
	if e, err := parseExpect(k.String("expect-current", "")); err != nil {
		k.Invalid("expect-current", "%v", err)
	} else {
		c.expect = e
	}

	c.guardWindow = k.Duration("guard-duration", 0)
	c.guardInterval = k.Duration("guard-interval", 10*time.Second)
	c.guardFailures = k.Int("guard-failures", 1)
	if c.guardWindow < 0 {
		k.Invalid("guard-duration", "must not be negative")
	}
	if c.guardInterval <= 0 {
		k.Invalid("guard-interval", "must be positive")
	}
	if c.guardFailures < 1 {
		k.Invalid("guard-failures", "must be 1 or more")
	}
	gURL, gProm := k.String("guard-url", ""), k.String("guard-prometheus", "")
	switch {
	case gURL != "" && gProm != "":
		k.Invalid("guard-url", "set guard-url or guard-prometheus, not both")
	case gURL != "":
		if !regexp.MustCompile(`^https?://[^/\s]+`).MatchString(gURL) {
			k.Invalid("guard-url", "%q is not an http(s) URL", gURL)
		}
		st, err := guard.ParseStatus(k.String("guard-status", ""))
		if err != nil {
			k.Invalid("guard-status", "%v", err)
		}
		h := &guard.HTTP{URL: gURL, Status: st}
		if j := k.String("guard-json", ""); j != "" {
			if h.Cond, err = guard.ParseCondition(j); err != nil {
				k.Invalid("guard-json", "%v", err)
			}
		}
		c.check = h
	case gProm != "":
		q := k.String("guard-query", "")
		if q == "" {
			k.Invalid("guard-query", "is required with guard-prometheus: the PromQL whose value judges the flip")
		}
		min, max := optFloat(k, "guard-min"), optFloat(k, "guard-max")
		if min == nil && max == nil {
			k.Invalid("guard-max", "set guard-min and/or guard-max: the healthy range of guard-query")
		}
		if p, err := guard.NewPrometheus(gProm, q, min, max); err != nil {
			k.Invalid("guard-prometheus", "%v", err)
		} else {
			c.check = p
		}
	default:
		for _, n := range []string{"guard-status", "guard-json", "guard-query", "guard-min", "guard-max"} {
			if k.String(n, "") != "" {
				k.Invalid(n, "needs guard-url or guard-prometheus")
			}
		}
	}
	c.duration = k.Duration("duration", 0)
	if c.duration < 0 {
		k.Invalid("duration", "must not be negative")
	}

	c.commit = k.OneOf("commit", "none", "none", "local", "direct", "pull-request")
	if c.commit == "pull-request" && (c.check != nil || c.duration > 0) {
		k.Invalid("commit", "pull-request does not change the live flag until it is merged, so a guard or a duration cannot watch it; use direct, local or none")
	}
	c.branch, c.base = k.String("branch", ""), k.String("base", "")
	c.message = k.String("commit-message", "")
	c.reason = k.String("reason", "")
	c.token = k.String("github-token", "")
	k.Mask(c.token)
	c.apiURL = k.String("github-api-url", k.Getenv("GITHUB_API_URL"))
	if c.apiURL == "" {
		c.apiURL = "https://api.github.com"
	}
	c.repository = k.String("repository", k.Getenv("GITHUB_REPOSITORY"))
	if c.commit == "direct" || c.commit == "pull-request" {
		if c.token == "" {
			k.Invalid("github-token", "is required with commit: %s (the job's secrets.GITHUB_TOKEN with contents: write%s)", c.commit,
				map[bool]string{true: " and pull-requests: write", false: ""}[c.commit == "pull-request"])
		}
		if c.repository == "" {
			k.Invalid("repository", "is required with commit: %s (owner/name)", c.commit)
		}
	}

	c.service = ServiceConfig{URL: k.String("api-url", ""), Token: k.String("api-token", ""), Project: k.String("project", ""), Environment: k.String("environment", "")}
	k.Mask(c.service.Token)
	if !isFile && c.provider != "" {
		if c.service.URL == "" && !defaultURL[c.provider] {
			k.Invalid("api-url", "is required for provider %s", c.provider)
		}
		if c.service.Token == "" {
			k.Invalid("api-token", "is required for provider %s (pass it from a secret)", c.provider)
		}
	}
	c.auditLog = k.String("audit-log", "")
	if c.auditLog != "" {
		if err := gitops.CheckPath(c.auditLog); err != nil {
			k.Invalid("audit-log", "%v", err)
		} else if c.auditLog == c.file {
			k.Invalid("audit-log", "must not be the flag file")
		}
	}
	c.workspace = k.Getenv("GITHUB_WORKSPACE")
	if c.workspace == "" {
		c.workspace, _ = os.Getwd()
	}
	c.actor = k.Getenv("GITHUB_ACTOR")
	return c
}

func optFloat(k *actionkit.Kit, name string) *float64 {
	if k.String(name, "") == "" {
		return nil
	}
	v := k.Float(name, 0)
	return &v
}

// branchName makes a git branch name for a pull request.
func branchName(key, runID string) string {
	safe := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(key, "-")
	if runID == "" {
		runID = strconv.FormatInt(time.Now().Unix(), 10)
	}
	return fmt.Sprintf("gantry/flag-%s-%s", strings.Trim(safe, "-."), runID)
}
