// Package audit keeps the flag action's audit trail: one JSON object a line,
// appended to a file in the repository, so every flip and every flip back is
// reviewable in the history next to the flag itself.
package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gantry-ci/gantry/actions/flag/internal/flags"
)

// Event says why a record was written.
const (
	EventFlip    = "flip"    // the requested change
	EventGuard   = "guard"   // flipped back because the guard saw an unhealthy signal
	EventRestore = "restore" // a temporary flip ended (duration) or the job was cancelled
)

// Record is one line of the audit log.
type Record struct {
	Time     time.Time   `json:"time"`
	Actor    string      `json:"actor,omitempty"`
	RunURL   string      `json:"run_url,omitempty"`
	Provider string      `json:"provider"`
	Flag     string      `json:"flag"`
	Event    string      `json:"event"`
	Before   flags.State `json:"before"`
	After    flags.State `json:"after"`
	Reason   string      `json:"reason,omitempty"`
}

// Append returns log with r added as its last line. A log whose last line
// lacks its newline gets one first, so records never run together.
func Append(log []byte, r Record) ([]byte, error) {
	line, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode audit record for flag %s: %w", r.Flag, err)
	}
	out := make([]byte, 0, len(log)+len(line)+2)
	out = append(out, log...)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	out = append(out, line...)
	return append(out, '\n'), nil
}

// Parse reads every record of a log; blank lines are skipped and a bad line
// is reported with its number.
func Parse(log []byte) ([]Record, error) {
	var out []Record
	for i, line := range bytes.Split(log, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("audit log line %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// RunURL is the link to the workflow run from the runner's environment, or ""
// outside one.
func RunURL(getenv func(string) string) string {
	server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return ""
	}
	u := fmt.Sprintf("%s/%s/actions/runs/%s", server, repo, id)
	if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
		u += "/attempts/" + a
	}
	return u
}
