package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidate mutates valid workflows (GitHub's valid reader tests and our
// own) and validates them: validation must never panic, must report
// problems as positioned Errors, and must give the same answer twice.
//
//	go test ./runner/workflow -run '^$' -fuzz FuzzValidate -fuzztime 60s
func FuzzValidate(f *testing.F) {
	files, _ := filepath.Glob("testdata/github/reader/*.yml")
	for _, p := range files {
		rt, err := loadReaderTest(p)
		if err == nil && len(rt.errors) == 0 {
			f.Add([]byte(rt.workflow))
		}
	}
	own, _ := filepath.Glob("testdata/valid/*.yml")
	for _, p := range own {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse("fuzz.yml", data)
		if err == nil {
			if _, again := Parse("fuzz.yml", data); again != nil {
				t.Fatalf("valid once, invalid the second time: %v", again)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is not Errors: %v", err)
		}
		for _, e := range es {
			if e.Pos.File != "fuzz.yml" || e.Pos.Line < 0 || e.Pos.Col < 0 || e.Msg == "" {
				t.Fatalf("badly positioned error %+v", e)
			}
		}
		_, again := Parse("fuzz.yml", data)
		if again == nil || again.Error() != err.Error() {
			t.Fatalf("different errors the second time:\n%v\n---\n%v", err, again)
		}
	})
}
