package gocoderun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMissingHelperSaysWhatToDo(t *testing.T) {
	t.Setenv(EnvProgram, "")
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir()) // not in this module: go run cannot build it either
	_, err := Scan(t.TempDir(), nil)
	if err == nil || !strings.Contains(err.Error(), "needs the scan-gocode program") || !strings.Contains(err.Error(), EnvProgram) {
		t.Fatalf("want a clear error, got %v", err)
	}
}

func TestHelperErrorsReachTheUser(t *testing.T) {
	bin := filepath.Join(t.TempDir(), Program)
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'scan-gocode: list packages of /x: go.mod: bad' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvProgram, bin)
	_, err := Scan(t.TempDir(), nil)
	if err == nil || err.Error() != "list packages of /x: go.mod: bad" {
		t.Fatalf("got %v", err)
	}
}
