package workflow

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestValidCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yml")
	if len(files) == 0 {
		t.Fatal("no valid corpus")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wf, err := ParseFile(f)
			if err != nil {
				t.Fatalf("a valid workflow was rejected:\n%v", err)
			}
			if len(wf.Jobs) == 0 {
				t.Errorf("no jobs parsed")
			}
		})
	}
}

// TestInvalidCorpus compares every error with testdata/invalid/*.golden.
func TestInvalidCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := ParseFile(f)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("want Errors, got %v", err)
			}
			var lines []string
			for _, e := range es {
				lines = append(lines, strings.TrimPrefix(e.Error(), f+":"))
			}
			got := strings.Join(lines, "\n") + "\n"
			golden := f + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestModel(t *testing.T) {
	wf, err := ParseFile("testdata/valid/go-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	test := wf.Job("test")
	if test == nil || test.Strategy == nil || test.Strategy.MatrixNode == nil {
		t.Fatalf("test job strategy missing: %+v", test)
	}
	if got := strings.Join(test.Needs, ","); got != "setup" {
		t.Errorf("needs %q", got)
	}
	if test.TimeoutMinutes != "30" || test.Steps[2].TimeoutMinutes != "20" {
		t.Errorf("timeouts %q %q", test.TimeoutMinutes, test.Steps[2].TimeoutMinutes)
	}
	if v, _ := test.Steps[1].With.Get("go-version"); v != "${{ matrix.go }}" {
		t.Errorf("with %q", v)
	}
	if wf.Defaults.Shell != "bash" || wf.Concurrency == nil || wf.Concurrency.Group != "ci-${{ github.ref }}" {
		t.Errorf("workflow defaults/concurrency %+v %+v", wf.Defaults, wf.Concurrency)
	}
	rel := wf.Job("release")
	if labels, ok := rel.RunsOn.([]any); !ok || len(labels) != 2 {
		t.Errorf("runs-on %#v", rel.RunsOn)
	}
	if wf.On == nil || !wf.On.Has("push") || !wf.On.Has("pull_request") {
		t.Errorf("on %+v", wf.On)
	}
	svc, err := ParseFile("testdata/valid/services.yml")
	if err != nil {
		t.Fatal(err)
	}
	db := svc.Job("db")
	if db.Container.Image != "node:20" || len(db.Services) != 2 || db.Services[1].Image != "redis:7" {
		t.Errorf("container/services %+v %+v", db.Container, db.Services)
	}
	if !strings.Contains(db.Services[0].Options, "--health-cmd pg_isready") {
		t.Errorf("options %q", db.Services[0].Options)
	}
	reu, err := ParseFile("testdata/valid/reusable.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c := reu.Job("call"); c.Uses == "" || !c.SecretsInherit {
		t.Errorf("call job %+v", c)
	}
}

func TestLoadDirectoryCollectsAllErrors(t *testing.T) {
	_, err := Load("testdata/invalid")
	var es Errors
	if !errors.As(err, &es) || len(es) < 10 {
		t.Fatalf("want the errors of every file, got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/valid/go-ci.yml", "testdata/valid/services.yml", "testdata/invalid/steps.yml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("on: push\njobs: {a: {runs-on: x, steps: [{run: '${{ a'}]}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse("fuzz.yml", data)
	})
}
