package flags

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestShippedFileHasTheFeatureOff(t *testing.T) {
	f, err := Open("../../flags/flags.json")
	if err != nil {
		t.Fatal(err)
	}
	fl, ok := f.doc.Flags["new-checkout"]
	if !ok || fl.State != "DISABLED" || f.Bool("new-checkout", "alice", false) {
		t.Errorf("new-checkout must ship dark (DISABLED), got %+v", fl)
	}
}

func TestFractionalSplitAndReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flags.json")
	write(t, path, `{"flags":{"new-checkout":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"off",
	  "targeting":{"fractional":[["on",10],["off",90]]}}}}`)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	on := 0
	for i := 0; i < 2000; i++ {
		user := fmt.Sprintf("user-%d", i)
		v := f.Bool("new-checkout", user, false)
		if v != f.Bool("new-checkout", user, false) {
			t.Fatalf("%s flips between evaluations", user)
		}
		if v {
			on++
		}
	}
	if on < 140 || on > 260 {
		t.Errorf("%d of 2000 users got the feature at 10%%", on)
	}
	if f.Bool("new-checkout", "", false) {
		t.Error("without a targeting key the default variant (off) applies")
	}
	// The pipeline flips the file; a running process sees it.
	time.Sleep(10 * time.Millisecond)
	write(t, path, `{"flags":{"new-checkout":{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on"}}}`)
	if !f.Bool("new-checkout", "user-1", false) {
		t.Error("the changed file was not picked up")
	}
	// A broken write keeps the last good flags.
	time.Sleep(10 * time.Millisecond)
	write(t, path, `{"flags":`)
	if !f.Bool("new-checkout", "user-1", false) {
		t.Error("a broken file replaced the last good flags")
	}
	if f.Bool("missing", "u", false) || !f.Bool("missing", "u", true) {
		t.Error("a missing flag must give the default")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing file must be an error")
	}
	path := filepath.Join(t.TempDir(), "bad.json")
	write(t, path, "{")
	if _, err := Open(path); err == nil {
		t.Error("a broken file must be an error")
	}
	var nilFile *File
	if !nilFile.Bool("x", "u", true) {
		t.Error("no flags file gives defaults")
	}
}
