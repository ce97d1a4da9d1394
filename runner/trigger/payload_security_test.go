package trigger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 14.10: a number too big for a float64 is named as such, at its
// position, not called "not a JSON object".
func TestPayloadNumberOutOfRange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, []byte("{\n  \"number\": 1e400\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadPayload(p)
	if err == nil || !strings.Contains(err.Error(), "the number 1e400 is out of range") || !strings.HasPrefix(err.Error(), p+":2:13:") {
		t.Errorf("got %v", err)
	}
	if err := os.WriteFile(p, []byte(`[1, 2]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPayload(p); err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Errorf("array payload: %v", err)
	}
}
