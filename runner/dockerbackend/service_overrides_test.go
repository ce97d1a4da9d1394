package dockerbackend

import (
	"context"
	"strings"
	"testing"
)

// A service's entrypoint: and command: replace the image's, and its env: may
// be one whole-value expression: the health check passes only when all
// three reached the container.
func TestServiceEntrypointCommandAndWholeValueEnv(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  svc:
    runs-on: self-hosted
    services:
      marked:
        image: gantry/busybox:latest
        entrypoint: sh
        command: -c 'test "$MARK" = m1 && touch /tmp/ok; sleep 300'
        env: ${{ fromJSON('{"MARK":"m1"}') }}
        options: --health-cmd "test -f /tmp/ok" --health-interval 200ms --health-retries 50
    steps:
      - run: echo service-was-healthy
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if !res.Success || !strings.Contains(out, "service-was-healthy") {
		t.Fatalf("service with entrypoint/command/env expression did not become healthy:\n%s", out)
	}
}
