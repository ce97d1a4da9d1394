package github_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/runner/forge"
	"github.com/gantry-ci/gantry/runner/forge/github"
)

// TestLiveGitHub registers with a real GitHub (or GHES) repository, opens
// a session, polls once and removes the runner again. Opt-in:
//
//	GANTRY_LIVE_GITHUB_URL=https://github.com/OWNER/REPO
//	GANTRY_LIVE_GITHUB_TOKEN=<a registration token from Settings → Actions → Runners>
//
// or GANTRY_LIVE_GITHUB_JITCONFIG=<encoded JIT config> instead of the token.
func TestLiveGitHub(t *testing.T) {
	url, token, jit := os.Getenv("GANTRY_LIVE_GITHUB_URL"), os.Getenv("GANTRY_LIVE_GITHUB_TOKEN"), os.Getenv("GANTRY_LIVE_GITHUB_JITCONFIG")
	if url == "" || (token == "" && jit == "") {
		t.Skip("set GANTRY_LIVE_GITHUB_URL and GANTRY_LIVE_GITHUB_TOKEN (or GANTRY_LIVE_GITHUB_JITCONFIG) to run against a real GitHub")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := &github.Protocol{PollTimeout: 20 * time.Second, Logger: testLogger()}
	creds, err := p.Register(ctx, forge.Registration{URL: url, Token: token, JITConfig: jit,
		Name: "gantry-live-" + time.Now().Format("150405"), Labels: []string{"gantry-live"}, Ephemeral: true})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	defer func() {
		if err := p.Remove(context.WithoutCancel(ctx), creds); err != nil {
			t.Errorf("remove: %v", err)
		}
	}()
	sess, err := p.Connect(ctx, creds, []string{"gantry-live"})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	a, err := sess.Next(ctx)
	if err != nil {
		t.Errorf("poll: %v", err)
	}
	if a != nil {
		t.Logf("a job arrived (a workflow with runs-on: gantry-live is queued); failing it back")
		_ = a.Fail(ctx, context.Canceled)
	}
	if err := sess.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}
