package engine

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/internal/mask"
	"github.com/gantry-ci/gantry/runner/jobenv"
	"github.com/gantry-ci/gantry/runner/report"
	"github.com/gantry-ci/gantry/runner/report/recorder"
	"github.com/gantry-ci/gantry/runner/workspace"
)

// stepEnds maps each finished step's name to how it ended.
func stepEnds(rec *recorder.Job) map[string]report.StepEnd {
	out := map[string]report.StepEnd{}
	for _, e := range rec.Events() {
		if e.Kind == "step-finished" {
			out[e.Step.Name] = e.StepEnd
		}
	}
	return out
}

// Issue 14.5: ::set-env obeys GITHUB_ENV's NODE_OPTIONS block.
func TestSetEnvCannotSetNodeOptions(t *testing.T) {
	t.Parallel()
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    env: {ACTIONS_ALLOW_UNSECURE_COMMANDS: "true"}
    steps:
      - run: |
          echo "::set-env name=NODE_OPTIONS::--require /tmp/evil.js"
          echo "::set-env name=node_options::--require /tmp/evil.js"
          echo "::set-env name=A=B::x"
          echo "::set-env name=FINE::yes"
          echo "NODE_OPTIONS=--require /tmp/evil.js" >> "$GITHUB_ENV"
      - run: echo "node=[$NODE_OPTIONS] fine=[$FINE] a=[$(env | grep -c '^A=')]"
`, nil, nil)
	if res.Result != report.Success {
		t.Fatalf("result %s:\n%s", res.Result, rec.Text())
	}
	text := rec.Text()
	if !strings.Contains(text, "node=[] fine=[yes] a=[0]") {
		t.Errorf("NODE_OPTIONS or A=B got through, or FINE did not:\n%s", text)
	}
	if n := strings.Count(text, "NODE_OPTIONS cannot be set"); n < 2 {
		t.Errorf("want a warning for ::set-env and for GITHUB_ENV, got %d:\n%s", n, text)
	}
}

// Issue 14.6: a GITHUB_ENV name with NUL fails the step that wrote it, and
// the later steps still start.
func TestGitHubEnvNULFailsTheWritingStep(t *testing.T) {
	t.Parallel()
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - name: writer
        run: printf 'NUL\000KEY=v\n' >> "$GITHUB_ENV"
      - name: state
        if: always()
        run: printf 'V=a\000b\n' >> "$GITHUB_STATE"
      - name: later
        if: always()
        run: echo later-ran
`, nil, nil)
	if res.Result != report.Failure {
		t.Fatalf("result %s, want failure:\n%s", res.Result, rec.Text())
	}
	ends := stepEnds(rec)
	if e := ends["writer"]; e.Conclusion != report.Failure || !strings.Contains(e.Err, "GITHUB_ENV line 1") || !strings.Contains(e.Err, "NUL") {
		t.Errorf("writer: %+v", e)
	}
	if e := ends["state"]; e.Conclusion != report.Failure || !strings.Contains(e.Err, "GITHUB_STATE line 1") {
		t.Errorf("state: %+v", e)
	}
	if e := ends["later"]; e.Conclusion != report.Success || !strings.Contains(rec.Text(), "later-ran") {
		t.Errorf("later step was blamed: %+v\n%s", e, rec.Text())
	}
}

// Issue 14.3: a secret's encoded forms are masked in the log and an output
// holding one is not passed on.
func TestEncodedSecretOutputsAreSkipped(t *testing.T) {
	t.Parallel()
	secret := `p@ss/wörd"'<&>`
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    outputs:
      b64: ${{ steps.s.outputs.b64 }}
      xml: ${{ steps.s.outputs.xml }}
      plain: ${{ steps.s.outputs.plain }}
    steps:
      - id: s
        run: |
          echo "b64=$(printf 'user:%s' "$S" | base64 -w0)" >> "$GITHUB_OUTPUT"
          echo "xml=<v>p@ss/wörd&quot;&apos;&lt;&amp;&gt;</v>" >> "$GITHUB_OUTPUT"
          echo "plain=nothing secret" >> "$GITHUB_OUTPUT"
          printf '%s' "$S" | base64 -w0; echo
        env: {S: "${{ secrets.S }}"}
`, nil, func(r *Request, d *Deps) { r.Secrets = map[string]string{"S": secret} })
	if res.Result != report.Success {
		t.Fatalf("result %s:\n%s", res.Result, rec.Text())
	}
	for _, k := range []string{"b64", "xml"} {
		if _, ok := res.Outputs[k]; ok {
			t.Errorf("output %s holds an encoded secret and was passed on: %v", k, res.Outputs)
		}
	}
	if res.Outputs["plain"] != "nothing secret" {
		t.Errorf("plain output lost: %v", res.Outputs)
	}
	text := rec.Text()
	enc := strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(secret)), "=")
	if strings.Contains(text, enc[:len(enc)-1]) {
		t.Errorf("base64 of the secret reached the log:\n%s", text)
	}
	if !strings.Contains(text, "skip output 'b64'") {
		t.Errorf("no warning for the skipped output:\n%s", text)
	}
}

// Issue 14.4: output without newlines is flushed at 64 KiB; a secret across
// the flush point is still masked whole, wherever it lands.
func TestFlushNeverSplitsASecret(t *testing.T) {
	t.Parallel()
	secrets := []string{"s3cr3t-straddling-the-flush", "ab", strings.Repeat("Z", 300)}
	for _, secret := range secrets {
		m := mask.New()
		m.Add(secret)
		for _, shift := range []int{-len(secret), -len(secret) / 2, -1, 0, 1, 7, len(secret)} {
			for _, chunk := range []int{1, 1000, 4096, 70000} {
				var got strings.Builder
				lw := &lineWriter{m: m, fn: func(s string) { got.WriteString(m.Replace(s)) }}
				stream := strings.Repeat("x", maxLine+shift) + secret + strings.Repeat("y", 3*maxLine)
				for i := 0; i < len(stream); i += chunk {
					_, _ = lw.Write([]byte(stream[i:min(len(stream), i+chunk)]))
				}
				_ = lw.Close()
				out := got.String()
				want := strings.Repeat("x", maxLine+shift) + "***" + strings.Repeat("y", 3*maxLine)
				if out != want {
					i := strings.IndexFunc(out, func(r rune) bool { return r != 'x' })
					t.Errorf("secret %.10q shift %d chunk %d: output differs near %d: %.60q", secret, shift, chunk, i, out[max(0, i-5):])
				}
			}
		}
	}
}

func BenchmarkLineWriterNoNewline(b *testing.B) {
	m := mask.New()
	for i := 0; i < 50; i++ {
		m.Add(fmt.Sprintf("token-%04d-value", i))
	}
	data := []byte(strings.Repeat("ordinary output without a newline ", 1000))
	lw := &lineWriter{m: m, fn: func(string) {}}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		_, _ = lw.Write(data)
	}
}

// buildRecorder is a container backend that only records what it is asked
// to build; the docker action then "runs" and exits 0.
type buildRecorder struct {
	mu       sync.Mutex
	contexts []string
}

func (b *buildRecorder) StartJob(context.Context, jobenv.ContainerJobSpec) (jobenv.ContainerJob, error) {
	return nil, fmt.Errorf("not used")
}
func (b *buildRecorder) BuildActionImage(_ context.Context, dir, _ string, _ map[string]string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.contexts = append(b.contexts, dir)
	return "built:latest", nil
}
func (b *buildRecorder) RunAction(context.Context, jobenv.DockerActionSpec) (int, error) {
	return 0, nil
}
func (b *buildRecorder) Cleanup(context.Context, string) error { return nil }

// A docker action's Dockerfile may be anywhere in its repository (GitHub
// builds ../../Dockerfile from the repository root), but a path or symlink
// leading out of it would send a host folder to the engine as build context.
func TestDockerActionBuildContextStaysInRepository(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &buildRecorder{}
	res, rec, _ := runJob(t, `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - name: shared
        uses: ./actions/shared
      - name: escape
        if: always()
        uses: ./actions/escape
`, map[string]string{
		"Dockerfile":                "FROM scratch\n",
		"actions/shared/action.yml": "name: s\nruns:\n  using: docker\n  image: ../../Dockerfile\n",
		"actions/escape/action.yml": "name: e\nruns:\n  using: docker\n  image: link/Dockerfile\n",
	}, func(r *Request, d *Deps) {
		d.Containers = b
		ws := d.Workspace.(workspace.Copy).Repo
		if err := os.Symlink(outside, filepath.Join(ws, "actions", "escape", "link")); err != nil {
			t.Fatal(err)
		}
	})
	ends := stepEnds(rec)
	if e := ends["shared"]; e.Conclusion != report.Success {
		t.Errorf("the repository's root Dockerfile was refused: %+v\n%s", e, rec.Text())
	}
	if e := ends["escape"]; e.Conclusion != report.Failure || !strings.Contains(e.Err, "resolves outside") {
		t.Errorf("a Dockerfile outside the repository: %+v", e)
	}
	for _, c := range b.contexts {
		if strings.HasPrefix(c, outside) {
			t.Errorf("built with a context outside the repository: %s", c)
		}
	}
	if res.Result != report.Failure {
		t.Errorf("result %s", res.Result)
	}
}
