package scheduler

import (
	"strings"
	"testing"
)

// success('job') and failure('job') in a job's if: look at the named needed
// jobs only.
func TestStatusFunctionsWithJobArguments(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
jobs:
  good:
    runs-on: ubuntu-latest
    steps: [{run: echo ok}]
  bad:
    runs-on: ubuntu-latest
    steps: [{run: exit 1}]
  after-good:
    needs: [good, bad]
    if: success('good')
    runs-on: ubuntu-latest
    steps: [{run: echo after-good-ran}]
  good-failed:
    needs: [good, bad]
    if: failure('GOOD')
    runs-on: ubuntu-latest
    steps: [{run: echo good-failed-ran}]
  bad-failed:
    needs: [good, bad]
    if: failure('bad')
    runs-on: ubuntu-latest
    steps: [{run: echo bad-failed-ran}]
`, nil, nil)
	for _, c := range []struct{ job, result string }{{"after-good", "success"}, {"good-failed", "skipped"}, {"bad-failed", "success"}} {
		if got := o.job(t, c.job).Result; string(got) != c.result {
			t.Errorf("job %s = %s, want %s\n%s", c.job, got, c.result, o.out)
		}
	}
}

// env: may be one whole-value expression at the workflow, job and step
// levels, as on GitHub.
func TestWholeValueEnv(t *testing.T) {
	t.Parallel()
	o := runWorkflow(t, `
on: push
env: ${{ fromJSON('{"WF":"w","SHARED":"from-workflow"}') }}
jobs:
  a:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        env: [{A: one, SHARED: from-job}]
    env: ${{ matrix.env }}
    steps:
      - env: ${{ fromJSON('{"S":"s"}') }}
        run: echo "got $WF-$A-$S-$SHARED"
      - env: ${{ fromJSON('[1]') }}
        run: echo never
`, nil, nil)
	if !strings.Contains(o.out, "got w-one-s-from-job") {
		t.Errorf("whole-value env not applied:\n%s", o.out)
	}
	if !strings.Contains(o.out, "must give an object") || strings.Contains(o.out, "never\n") {
		t.Errorf("an env expression that is not an object must fail the step:\n%s", o.out)
	}
}
