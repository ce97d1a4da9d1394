package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

func TestAppendKeepsExistingLinesAndParsesBack(t *testing.T) {
	first := Record{Time: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), Actor: "octo", Provider: "flagd", Flag: "checkout",
		Event: EventFlip, Before: flags.State{Key: "checkout", Rollout: -1}, After: flags.State{Key: "checkout", Enabled: true, Rollout: -1}, Reason: "launch"}
	// An existing log without a final newline must not swallow the next record.
	log, err := Append([]byte(`{"flag":"old","event":"flip","provider":"goff","time":"2024-01-01T00:00:00Z","before":{"key":"old","enabled":false,"rollout":-1},"after":{"key":"old","enabled":true,"rollout":-1}}`), first)
	if err != nil {
		t.Fatal(err)
	}
	second := first
	second.Event, second.Before, second.After = EventGuard, first.After, first.Before
	if log, err = Append(log, second); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "\n"); n != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", n, log)
	}
	recs, err := Parse(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Flag != "old" || recs[1].Event != EventFlip || !recs[1].After.Enabled || recs[2].Event != EventGuard || recs[2].After.Enabled {
		t.Fatalf("records: %+v", recs)
	}
	if !recs[1].Time.Equal(first.Time) || recs[1].Reason != "launch" || recs[1].Actor != "octo" {
		t.Errorf("record fields lost: %+v", recs[1])
	}
}

func TestParseNamesBadLine(t *testing.T) {
	_, err := Parse([]byte("{\"flag\":\"a\"}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("want an error naming line 3, got %v", err)
	}
}

func TestRunURL(t *testing.T) {
	env := map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "42"}
	if got := RunURL(func(k string) string { return env[k] }); got != "https://github.com/acme/shop/actions/runs/42" {
		t.Errorf("got %q", got)
	}
	env["GITHUB_RUN_ATTEMPT"] = "2"
	if got := RunURL(func(k string) string { return env[k] }); !strings.HasSuffix(got, "/runs/42/attempts/2") {
		t.Errorf("got %q", got)
	}
	if got := RunURL(func(string) string { return "" }); got != "" {
		t.Errorf("outside a runner got %q", got)
	}
}
