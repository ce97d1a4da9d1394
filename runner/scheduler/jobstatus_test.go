package scheduler

import "testing"

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
