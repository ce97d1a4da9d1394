package gitea_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/gitea"
	"github.com/gantry-ci/gantry/runner/selfhosted"
)

// TestLiveGitea registers with a real Gitea or Forgejo and polls it; with
// GANTRY_LIVE_GITEA_WAIT=1 it also runs one job that has
// runs-on: gantry-live (queue one first). Opt-in:
//
//	GANTRY_LIVE_GITEA_URL=https://gitea.example.com GANTRY_LIVE_GITEA_TOKEN=<registration token> go test ./runner/forge/gitea -run TestLiveGitea -v
func TestLiveGitea(t *testing.T) {
	url, token := os.Getenv("GANTRY_LIVE_GITEA_URL"), os.Getenv("GANTRY_LIVE_GITEA_TOKEN")
	if url == "" || token == "" {
		t.Skip("set GANTRY_LIVE_GITEA_URL and GANTRY_LIVE_GITEA_TOKEN to run against a real Gitea/Forgejo")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	p := gitea.New(forge.Options{Logger: log, Version: "live-test"})
	labels, _ := selfhosted.ParseLabels([]string{"gantry-live:host"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	creds, err := p.Register(ctx, forge.Registration{URL: url, Token: token, Name: "gantry-live-test", Labels: selfhosted.Names(labels), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GANTRY_LIVE_GITEA_WAIT") == "" {
		sess, err := p.Connect(ctx, creds, selfhosted.Names(labels))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sess.Next(ctx); err != nil {
			t.Fatal(err)
		}
		return
	}
	r := &selfhosted.Runner{Protocol: p, Creds: creds, Labels: labels, Dir: t.TempDir(), Ephemeral: true, Grace: time.Minute, Logger: log,
		Executor: &selfhosted.Executor{Labels: labels, WorkRoot: t.TempDir()}}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
