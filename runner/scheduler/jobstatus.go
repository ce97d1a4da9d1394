package scheduler

import (
	"strings"

	"github.com/gantry-ci/gantry/runner/report"
)

// namedStatus answers success('a', 'b') and failure('a', 'b') in a job's
// if: about the named needed jobs only (job ids compare ignoring case).
func namedStatus(deps []*jobNode, fn string, jobs []string, cancelled bool) bool {
	named := func(id string) bool {
		for _, j := range jobs {
			if strings.EqualFold(j, id) {
				return true
			}
		}
		return false
	}
	switch fn {
	case "success":
		if cancelled {
			return false
		}
		for _, d := range deps {
			if named(d.job.ID) && d.result != report.Success {
				return false
			}
		}
		return true
	case "failure":
		for _, d := range deps {
			if named(d.job.ID) && d.result == report.Failure {
				return true
			}
		}
		return false
	case "cancelled":
		return cancelled
	}
	return true
}
