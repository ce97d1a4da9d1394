package flaky

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSometimes fails the first time it runs in a marker directory.
func TestSometimes(t *testing.T) {
	dir := os.Getenv("SAMPLE_FLAKY_DIR")
	if dir == "" {
		t.Skip("SAMPLE_FLAKY_DIR not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran-once")
	if _, err := os.Stat(marker); err != nil {
		_ = os.WriteFile(marker, nil, 0o644)
		t.Fatal("first run fails")
	}
	if !Ready() {
		t.Fatal("not ready")
	}
}
