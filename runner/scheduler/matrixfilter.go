package scheduler

// MatrixFilter is --matrix: for each key, the values a cell may have (a
// repeated key allows each of its values, as act's --matrix does). Keys a
// job's matrix lacks do not filter that job.
type MatrixFilter map[string][]string
