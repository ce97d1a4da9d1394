// Package jobenv is where a job's processes run: the Env interface and its
// host implementation.
package jobenv

import (
	"context"
	"io"
)

// Env runs a job's processes.
type Env interface {
	// Run starts argv in dir with exactly env, streams stdout/stderr, and
	// waits. Cancelling ctx kills the whole process tree. exit is the process
	// exit code (-1 when killed).
	Run(ctx context.Context, p Process) (exit int, err error)
	// Path maps a path on the runner host to the path the job's processes see.
	Path(hostPath string) string
	// LookPath finds a program as the job's processes would.
	LookPath(ctx context.Context, name string, pathEnv string) (string, error)
	// Close releases what the environment holds.
	Close(ctx context.Context) error
}

// Process is one program to run.
type Process struct {
	Argv           []string
	Dir            string
	Env            map[string]string
	Stdout, Stderr io.Writer
}
