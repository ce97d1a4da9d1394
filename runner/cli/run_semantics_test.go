package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// -j runs the job asked for and the jobs it needs, nothing else.
func TestRunJobSelection(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  base:
    runs-on: self-hosted
    steps: [{run: echo ran-base}]
  mid:
    needs: base
    runs-on: self-hosted
    steps: [{run: echo ran-mid}]
  other:
    runs-on: self-hosted
    steps: [{run: echo ran-other}]
`})
	code, out, errOut := gantry(t, "run", "-C", dir, "-j", "mid", "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"ran-base", "ran-mid"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ran-other") {
		t.Errorf("-j mid ran the unrelated job:\n%s", out)
	}
	code, _, errOut = gantry(t, "run", "-C", dir, "-j", "typo", "-n")
	if code != 2 || !strings.Contains(errOut, `no job "typo"`) || !strings.Contains(errOut, "base, mid, other") {
		t.Errorf("unknown job: code %d %s", code, errOut)
	}
}

// Dispatch inputs arrive the same whether given with --input or in the
// event file, as inputs.X and github.event.inputs.X.
func TestDispatchInputsFromEventFile(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/d.yml": `
on:
  workflow_dispatch:
    inputs:
      level: {required: true}
      n: {type: number, default: 3}
jobs:
  x:
    runs-on: self-hosted
    steps:
      - run: echo "in=${{ inputs.level }} ev=${{ github.event.inputs.level }} n=${{ inputs.n }}"
`})
	ev := filepath.Join(t.TempDir(), "ev.json")
	if err := os.WriteFile(ev, []byte(`{"inputs": {"level": "warn"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := gantry(t, "run", "workflow_dispatch", "-C", dir, "-e", ev, "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "in=warn ev=warn n=3") {
		t.Errorf("event file: code %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = gantry(t, "run", "workflow_dispatch", "-C", dir, "--input", "level=debug", "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "in=debug ev=debug n=3") {
		t.Errorf("--input: code %d\n%s\n%s", code, out, errOut)
	}
}

// workflow_call defaults may be expressions; GitHub evaluates them.
func TestCalledWorkflowExpressionDefaults(t *testing.T) {
	dir := repoWith(t, map[string]string{
		".github/workflows/ci.yml": "on: push\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n",
		".github/workflows/called.yml": `
on:
  workflow_call:
    inputs:
      num: {type: number, default: "${{ fromJSON('2') }}"}
      ev: {type: string, default: "${{ github.event_name }}"}
jobs:
  x:
    runs-on: self-hosted
    steps:
      - run: echo "num=${{ inputs.num }} ev=${{ inputs.ev }}"
`})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "num=2 ev=push") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
}

// A cell cancelled by fail-fast shows as cancelled, with no error of its own.
func TestFailFastShowsCancelledWithoutError(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  m:
    runs-on: self-hosted
    strategy:
      matrix: {n: [1, 2]}
    steps:
      - run: if [ ${{ matrix.n }} = 1 ]; then exit 3; fi; sleep 5
`})
	code, out, _ := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 1 {
		t.Fatalf("code %d\n%s", code, out)
	}
	if !strings.Contains(out, "m (2)  cancelled") {
		t.Errorf("cell 2 not shown cancelled:\n%s", out)
	}
	_, annotations, _ := strings.Cut(out, "Annotations:")
	if strings.Count(annotations, "error:") != 1 || strings.Contains(annotations, "fail-fast") {
		t.Errorf("want exactly the failing cell's error annotation:\n%s", out)
	}
}

// A job for a platform this machine does not have is skipped with advice,
// as act does, and the run's other jobs decide its result.
func TestUnmappedPlatformIsSkipped(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  t:
    strategy:
      matrix: {os: [self-hosted, windows-latest]}
    runs-on: ${{ matrix.os }}
    steps:
      - run: echo ran-on-${{ matrix.os }}
`})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 {
		t.Fatalf("code %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"ran-on-self-hosted", "skipped: ", "-P windows-latest=host", "t (windows-latest)  skipped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// Job env sees the job's own github.workspace, the folder GITHUB_WORKSPACE names.
func TestJobEnvSeesJobWorkspace(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  t:
    runs-on: self-hosted
    env:
      BUILD_DIR: ${{ github.workspace }}/build
    steps:
      - run: '[ "$BUILD_DIR" = "$GITHUB_WORKSPACE/build" ] && echo same-workspace'
`})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "same-workspace") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
}

// actions/checkout of the repository itself with path: puts the repository
// there, inside the workspace.
func TestSelfCheckoutWithPath(t *testing.T) {
	dir := repoWith(t, map[string]string{
		".github/workflows/ci.yml": `
on: push
jobs:
  t:
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
        with:
          path: src/deep/copy
      - run: cat src/deep/copy/marker.txt && test ! -e src/deep/copy/src
`,
		"marker.txt": "checked-out-here\n",
	})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "checked-out-here") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "src")); err == nil {
		t.Errorf("the copy was written into the repository itself")
	}
}

// Actions of a workflow the event does not trigger need not be cached.
func TestMissingActionsOfUntriggeredWorkflowsDoNotBlock(t *testing.T) {
	dir := repoWith(t, map[string]string{
		".github/workflows/ci.yml":      "on: push\njobs:\n  t:\n    runs-on: self-hosted\n    steps:\n      - run: echo ci-ran\n",
		".github/workflows/release.yml": "on:\n  push:\n    tags: ['v*']\njobs:\n  r:\n    runs-on: self-hosted\n    steps:\n      - uses: nobody/not-cached@v1\n",
	})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir(), "--action-cache", t.TempDir())
	if code != 0 || !strings.Contains(out, "ci-ran") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
	ev := filepath.Join(t.TempDir(), "tag.json")
	if err := os.WriteFile(ev, []byte(`{"ref": "refs/tags/v1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = gantry(t, "run", "-C", dir, "-e", ev, "--workdir", t.TempDir(), "--action-cache", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "nobody/not-cached@v1 (used at") {
		t.Errorf("tag push: code %d\n%s", code, errOut)
	}
}

// File-command files are reused between steps: each step still starts with
// empty ones, and a step that removes its file does not break the next.
func TestFileCommandsStartEmptyEveryStep(t *testing.T) {
	dir := repoWith(t, map[string]string{".github/workflows/ci.yml": `
on: push
jobs:
  t:
    runs-on: self-hosted
    steps:
      - id: a
        run: echo "x=1" >> "$GITHUB_OUTPUT"; echo "E=1" >> "$GITHUB_ENV"
      - run: test ! -s "$GITHUB_OUTPUT" && test ! -s "$GITHUB_ENV" && echo "E=$E" && rm "$GITHUB_ENV" "$GITHUB_OUTPUT"
      - id: c
        run: echo "y=2" >> "$GITHUB_OUTPUT" && test ! -s "$GITHUB_ENV"
      - run: echo "outputs ${{ steps.a.outputs.x }} ${{ steps.c.outputs.y }} [${{ steps.c.outputs.x }}]"
`})
	code, out, errOut := gantry(t, "run", "-C", dir, "--workdir", t.TempDir())
	if code != 0 || !strings.Contains(out, "E=1") || !strings.Contains(out, "outputs 1 2 []") {
		t.Errorf("code %d\n%s\n%s", code, out, errOut)
	}
}
