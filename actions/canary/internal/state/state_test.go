package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	s := &File{Path: filepath.Join(t.TempDir(), "a", "b", "state.json")}
	st, err := s.Load()
	if err != nil || st.Phase != Idle {
		t.Fatalf("missing file: %+v %v", st, err)
	}
	st = &State{Name: "shop", Phase: Progressing, Weight: 25, Canary: Release{Version: "v2", Slot: "green"},
		History: []Step{{Index: 1, Weight: 10, Verdict: "pass", Measurements: []Measurement{{Check: "success-rate", Value: 0.99, Pass: true}}}}}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.Weight != 25 || got.Canary.Slot != "green" || len(got.History) != 1 || got.History[0].Measurements[0].Value != 0.99 || !got.Active() {
		t.Errorf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".canary-state-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestCorruptStateNamesTheFile(t *testing.T) {
	s := &File{Path: filepath.Join(t.TempDir(), "state.json")}
	if err := os.WriteFile(s.Path, []byte("{half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), s.Path) {
		t.Errorf("err = %v", err)
	}
}

func TestLockIsExclusiveAndReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	a, b := &File{Path: path}, &File{Path: path}
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	a.Unlock()
	if err := b.LockWait(0); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	b.Unlock()
}

func TestRequests(t *testing.T) {
	s := &File{Path: filepath.Join(t.TempDir(), "state.json")}
	if ok, _ := s.Requested(RequestAbort); ok {
		t.Fatal("abort requested out of nothing")
	}
	if err := s.Request(RequestAbort, "error budget burnt"); err != nil {
		t.Fatal(err)
	}
	if ok, why := s.Requested(RequestAbort); !ok || why != "error budget burnt" {
		t.Errorf("requested %v %q", ok, why)
	}
	s.ClearRequests()
	if ok, _ := s.Requested(RequestAbort); ok {
		t.Error("request survived ClearRequests")
	}
}
