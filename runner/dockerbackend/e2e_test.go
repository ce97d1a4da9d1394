package dockerbackend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-ci/gantry/internal/container"
	"github.com/gantry-ci/gantry/runner/engine"
	"github.com/gantry-ci/gantry/runner/scheduler"
	"github.com/gantry-ci/gantry/runner/workflow"
)

// connect returns the engine; without one the test is skipped, except in CI
// where an engine is part of the set-up and its absence is a failure.
func connect(t testing.TB) *container.Engine {
	t.Helper()
	e, err := container.Connect(context.Background())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have a Docker engine (scripts/setup.sh): %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	if !e.ImageExists(context.Background(), engine.DefaultImage) || !e.ImageExists(context.Background(), "gantry/busybox:latest") {
		t.Skip("local images missing: run scripts/setup.sh")
	}
	return e
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

var runSeq = time.Now().UnixNano() % 1e9

// runOnEngine runs a workflow against the real engine and checks that the run
// left nothing behind.
func runOnEngine(t *testing.T, ctx context.Context, e *container.Engine, wfText string, setup func(dir string), out *syncBuf) (*scheduler.Result, string) {
	t.Helper()
	return runOnEngineWith(t, ctx, e, wfText, setup, out, nil)
}

// runOnEngineWith is runOnEngine with a last say on the options.
func runOnEngineWith(t *testing.T, ctx context.Context, e *container.Engine, wfText string, setup func(dir string), out *syncBuf, tune func(*scheduler.Options)) (*scheduler.Result, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ".github", "workflows", "e2e.yml")
	if err := os.WriteFile(path, []byte(wfText), 0o644); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(dir)
	}
	wf, err := workflow.Parse(path, []byte(wfText))
	if err != nil {
		t.Fatal(err)
	}
	runSeq++
	runID := runSeq
	if out == nil {
		out = &syncBuf{}
	}
	opts := scheduler.Options{
		RepoDir: dir, EventName: "push", Out: out, WorkRoot: t.TempDir(), RunID: runID,
		Payload:    map[string]any{"ref": "refs/heads/main", "repository": map[string]any{"full_name": "acme/e2e"}},
		Containers: New(e),
	}
	if tune != nil {
		tune(&opts)
	}
	res, err := scheduler.Run(ctx, wf, opts)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	left, err := e.Leftovers(context.Background(), strconv.FormatInt(runID, 10))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("the run left %v behind", left)
	}
	return res, out.String()
}

func buildServiceImage(t *testing.T, e *container.Engine) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/pglike")
	tag, err := e.BuildImage(context.Background(), dir, filepath.Join(dir, "Dockerfile"), nil, "gantry-test-pglike")
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestContainerJobWithHealthCheckedService(t *testing.T) {
	e := connect(t)
	img := buildServiceImage(t, e)
	wf := `
on: push
jobs:
  db:
    runs-on: ubuntu-latest
    container:
      image: gantry/debian:bookworm
      env: {FROM_CONTAINER: yes}
    services:
      pg:
        image: ` + img + `
        ports: ['5432']
        options: --health-cmd "test -f /tmp/ready" --health-interval 500ms --health-retries 40
    steps:
      - run: |
          echo "in container: $(cat /etc/debian_version) ws=$GITHUB_WORKSPACE from=$FROM_CONTAINER"
          echo "service says $(curl -s http://pg:5432/)"
          echo "value=from-container" >> "$GITHUB_OUTPUT"
          echo "## container summary" >> "$GITHUB_STEP_SUMMARY"
        id: s
      - run: echo "output ${{ steps.s.outputs.value }} port ${{ job.services.pg.ports['5432'] }}"
  host:
    runs-on: self-hosted
    services:
      pg:
        image: ` + img + `
        ports: ['5432']
        options: --health-cmd "test -f /tmp/ready" --health-interval 500ms --health-retries 40
    steps:
      - run: |
          exec 3<>/dev/tcp/127.0.0.1/${{ job.services.pg.ports['5432'] }}
          printf 'GET / HTTP/1.0\r\n\r\n' >&3
          echo "host reached service: $(tail -n1 <&3)"
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{"in container: 12", "ws=/__w/", "from=yes", "service says pong", "output from-container port ", "host reached service: pong"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestFailingServiceShowsLogs(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  db:
    runs-on: ubuntu-latest
    services:
      broken:
        image: gantry/busybox:latest
        options: --entrypoint sh --health-cmd "false" --health-interval 200ms --health-retries 2
    steps:
      - run: echo never
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if res.Success || !strings.Contains(out, "service broken") {
		t.Errorf("want a failed job naming the service:\n%s", out)
	}
}

func TestDockerfileActionAndDockerStep(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  act:
    runs-on: ubuntu-latest
    steps:
      - id: greet
        uses: ./.github/actions/greet
        with:
          who-to-greet: Mona
      - run: echo "action said ${{ steps.greet.outputs.greeting }}"
      - uses: docker://gantry/busybox:latest
        with:
          entrypoint: /bin/sh
          args: -c "echo docker-step in $PWD with $INPUT_EXTRA"
          extra: value
`
	res, out := runOnEngine(t, context.Background(), e, wf, func(dir string) {
		copyDir(t, "testdata/greet", filepath.Join(dir, ".github", "actions", "greet"))
		if err := os.WriteFile(filepath.Join(dir, "marker.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, nil)
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{"args: Mona / second arg", "INPUT_WHO-TO-GREET=Mona", "FROM_META=meta-env", "GITHUB_WORKSPACE=/github/workspace", "HOME=/github/home", "ws has: ", "marker.txt", "action said Hello Mona", "docker-step in /github/workspace with value", `"ref":"refs/heads/main"`,
		"pre-entrypoint ran with Mona", "post-entrypoint ran, state from_pre=yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCancelMidStepLeavesNothing(t *testing.T) {
	e := connect(t)
	img := buildServiceImage(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wf := `
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    services:
      pg:
        image: ` + img + `
        options: --health-cmd "test -f /tmp/ready" --health-interval 500ms --health-retries 40
    steps:
      - run: |
          echo step-started
          sleep 300 &
          sleep 300
      - if: always()
        run: echo cleanup-step-ran
`
	buf := &syncBuf{}
	go func() {
		for i := 0; i < 600 && !strings.Contains(buf.String(), "]   step-started"); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	res, out := runOnEngine(t, ctx, e, wf, nil, buf)
	if res.Success {
		t.Errorf("cancelled run succeeded:\n%s", out)
	}
	if time.Since(start) > 90*time.Second {
		t.Errorf("cancellation took %s", time.Since(start))
	}
	if !strings.Contains(out, "cleanup-step-ran") {
		t.Errorf("always() step did not run after cancellation:\n%s", out)
	}
}

func TestNodeAndCompositeActionsInContainerJob(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  inside:
    runs-on: ubuntu-latest
    steps:
      - id: comp
        uses: ./.github/actions/comp
        with: {name: box}
      - id: node
        uses: ./.github/actions/nodeact
      - run: echo "composite=${{ steps.comp.outputs.out }} node=${{ steps.node.outputs.where }}"
`
	res, out := runOnEngine(t, context.Background(), e, wf, func(dir string) {
		files := map[string]string{
			".github/actions/comp/action.yml":    "name: c\ninputs:\n  name: {description: n}\noutputs:\n  out: {description: o, value: '${{ steps.s.outputs.v }}'}\nruns:\n  using: composite\n  steps:\n    - id: s\n      shell: bash\n      run: echo \"v=${{ inputs.name }}-$(cat /etc/debian_version | cut -d. -f1)\" >> \"$GITHUB_OUTPUT\"\n",
			".github/actions/nodeact/action.yml": "name: n\nruns:\n  using: node20\n  main: index.js\n  post: post.js\n",
			".github/actions/nodeact/index.js":   "const fs=require('fs'); fs.appendFileSync(process.env.GITHUB_OUTPUT, 'where=' + process.env.GITHUB_WORKSPACE + '\\n'); fs.appendFileSync(process.env.GITHUB_STATE, 'k=v\\n');\n",
			".github/actions/nodeact/post.js":    "console.log('node post sees state ' + process.env.STATE_k + ' on ' + require('os').hostname().length + '-char host');\n",
		}
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}, nil)
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{"composite=box-12", "node=/__w/", "node post sees state v"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestContainerJobTimeoutLeavesNothing(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    timeout-minutes: 0.05
    steps:
      - run: sleep 300
`
	start := time.Now()
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if res.Success || !strings.Contains(out, "maximum execution time") {
		t.Errorf("want a timed-out job:\n%s", out)
	}
	if time.Since(start) > 60*time.Second {
		t.Errorf("timeout took %s", time.Since(start))
	}
}

// TestNetworkHostReachesLoopback: with Network "host" (gantry run
// --network host) a docker action on a host job and a container job both
// reach a server on the runner's loopback; on the default bridge they don't.
func TestNetworkHostReachesLoopback(t *testing.T) {
	e := connect(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello-from-loopback")
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	wf := fmt.Sprintf(`
on: push
jobs:
  on-host:
    runs-on: self-hosted
    steps:
      - uses: docker://gantry/busybox:latest
        with:
          entrypoint: /bin/sh
          args: -c "(echo 'GET / HTTP/1.0'; echo) | nc 127.0.0.1 %[1]d"
  in-container:
    runs-on: ubuntu-latest
    container: %[2]s
    steps:
      - run: |
          exec 3<>/dev/tcp/127.0.0.1/%[1]d
          printf 'GET / HTTP/1.0\r\n\r\n' >&3
          cat <&3
`, port, engine.DefaultImage)
	res, out := runOnEngineWith(t, context.Background(), e, wf, nil, nil, func(o *scheduler.Options) { o.Network = "host" })
	if !res.Success {
		t.Fatalf("run with network host failed:\n%s", out)
	}
	if n := strings.Count(out, "hello-from-loopback"); n != 2 {
		t.Errorf("the loopback server answered %d of 2 jobs:\n%s", n, out)
	}

	res, out = runOnEngine(t, context.Background(), e, wf, nil, nil)
	if res.Success || strings.Contains(out, "hello-from-loopback") {
		t.Errorf("on the default bridge the runner's loopback must be out of reach:\n%s", out)
	}
}

// TestDockerActionLastLineWithoutNewline: a container that prints a last
// line without a newline and exits at once keeps that line; following the
// logs after the start lost it about one run in ten.
func TestDockerActionLastLineWithoutNewline(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  on-host:
    runs-on: self-hosted
    steps:
      - uses: docker://gantry/busybox:latest
        with:
          entrypoint: /bin/sh
          args: -c "echo first; printf no-newline-here"
`
	for i := 0; i < 8; i++ {
		_, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
		if !strings.Contains(out, "first") || !strings.Contains(out, "no-newline-here") {
			t.Fatalf("run %d lost output:\n%s", i, out)
		}
	}
}

// job.container belongs to a job's own container: the image behind runs-on
// stands in for GitHub's VM and is not one.
func TestJobContainerContextOnlyForContainerJobs(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  vm:
    runs-on: ubuntu-latest
    steps:
      - run: echo "vm=[${{ job.container.id }}] json=${{ toJSON(job.container) }}"
  boxed:
    runs-on: ubuntu-latest
    container: gantry/busybox:latest
    steps:
      - run: echo "boxed=[${{ job.container.id != '' }}]"
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	for _, want := range []string{"vm=[] json=null", "boxed=[true]"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Remote actions from the action cache run inside a job container from the
// path the container sees, for their pre and main scripts and when a
// composite action uses them.
func TestRemoteNodeActionInContainerJob(t *testing.T) {
	e := connect(t)
	cache := t.TempDir()
	files := map[string]string{
		"acme/nodey/v1/action.yml": "name: nodey\nruns:\n  using: node20\n  pre: pre.js\n  main: main.js\n",
		"acme/nodey/v1/pre.js":     "console.log('pre from ' + __dirname)\n",
		"acme/nodey/v1/main.js":    "console.log('main from ' + __dirname)\n",
		"acme/comp/v1/action.yml":  "name: comp\nruns:\n  using: composite\n  steps:\n    - uses: acme/nodey@v1\n",
	}
	for name, content := range files {
		p := filepath.Join(cache, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wf := `
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    container: gantry/debian:bookworm
    steps:
      - uses: acme/nodey@v1
      - uses: acme/comp@v1
`
	res, out := runOnEngineWith(t, context.Background(), e, wf, nil, nil, func(o *scheduler.Options) { o.ActionCache = cache })
	if !res.Success {
		t.Fatalf("run failed:\n%s", out)
	}
	if n := strings.Count(out, "main from /__w/_actions/acme/nodey/v1"); n != 2 {
		t.Errorf("main ran %d times from the staged path, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "pre from /__w/_actions/acme/nodey/v1") {
		t.Errorf("pre did not run from the staged path:\n%s", out)
	}
}

// An action that is only a Dockerfile runs, as on GitHub.
func TestDockerfileOnlyAction(t *testing.T) {
	e := connect(t)
	wf := `
on: push
jobs:
  d:
    runs-on: self-hosted
    steps:
      - run: |
          mkdir -p bare
          printf 'FROM gantry/busybox:latest\nENTRYPOINT ["sh", "-c", "echo dockerfile-only-ran in $GITHUB_WORKSPACE"]\n' > bare/Dockerfile
      - uses: ./bare
`
	res, out := runOnEngine(t, context.Background(), e, wf, nil, nil)
	if !res.Success || !strings.Contains(out, "dockerfile-only-ran in /github/workspace") {
		t.Fatalf("run failed or the action did not print:\n%s", out)
	}
}
