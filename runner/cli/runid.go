package cli

import "sync/atomic"

// lastRunID makes run ids unique within the process. Ids come from the
// clock in milliseconds and a session numbers its workflows from there, so
// two runs started in one process at about the same time (tests, an
// embedding program) could get the same id, and one run's clean-up, which
// goes by the run id label, would remove the other's containers.
var lastRunID atomic.Int64

// uniqueRunID is want, or the next id after the last one handed out.
func uniqueRunID(want int64) int64 {
	for {
		last := lastRunID.Load()
		id := max(want, last+1)
		if lastRunID.CompareAndSwap(last, id) {
			return id
		}
	}
}
