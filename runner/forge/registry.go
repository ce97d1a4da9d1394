package forge

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Options are what the daemon hands a protocol when it makes one.
type Options struct {
	HTTPClient *http.Client // http.DefaultClient's transport when nil
	Logger     *slog.Logger // never handed a token
	// PollError is called for every failed poll or call the session retries
	// by itself, so the daemon can count them (gantry_runner_poll_errors_total).
	PollError func(error)
	// Version is gantry's version, for protocols that declare one.
	Version string
}

// Factory makes one forge's protocol.
type Factory func(Options) Protocol

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// RegisterProtocol makes a protocol available under name ("gitea",
// "github"); protocol packages call it from init, and runner/cli imports
// them for the side effect.
func RegisterProtocol(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	factories[name] = f
}

// NewProtocol makes the protocol registered under name.
func NewProtocol(name string, o Options) (Protocol, error) {
	mu.Lock()
	f, ok := factories[name]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown forge %q (known: %s)", name, strings.Join(Protocols(), ", "))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollError == nil {
		o.PollError = func(error) {}
	}
	return f(o), nil
}

// Protocols lists the registered protocol names, sorted.
func Protocols() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for k := range factories {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Detect tells the forge kind from the URL a user registers with:
// github.com, GitHub Enterprise Cloud (*.ghe.com) and GHES-looking hosts
// (github.example.com, or an /api/v3 path) are "github"; anything else is
// taken for Gitea or Forgejo.
func Detect(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "gitea"
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "github.com", host == "www.github.com", host == "api.github.com",
		strings.HasSuffix(host, ".ghe.com"), strings.HasPrefix(host, "github."),
		strings.HasPrefix(u.Path, "/api/v3"):
		return "github"
	}
	return "gitea"
}

// Orphan is a job a previous runner process took and never finished (it
// died); the daemon keeps one per in-flight job in the runner's folder.
type Orphan struct {
	ServerID string `json:"server_id"`
	// State is what the protocol asked to keep (Resumable), opaque.
	State []byte `json:"state,omitempty"`
}

// Resumable is implemented by an Assignment that needs more than the job's
// ServerID to report it failed after a restart (GitHub: plan and job ids).
type Resumable interface {
	State() []byte
}

// OrphanReporter is implemented by a Protocol that can report a job of a
// dead runner process failed after a restart, so it is never left running
// nor run twice.
type OrphanReporter interface {
	FailOrphan(ctx context.Context, creds *Credentials, o Orphan, reason string) error
}
