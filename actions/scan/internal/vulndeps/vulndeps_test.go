package vulndeps

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/actions/internal/vulndbtest"
)

func fixtureDB(t *testing.T) string {
	t.Helper()
	db := t.TempDir()
	if err := vulndbtest.Write(db); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestReachability(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("govulncheck source mode needs the go toolchain")
	}
	root := t.TempDir()
	src, _ := filepath.Abs("../../testdata/vulns")
	if out, err := exec.Command("cp", "-r", src+"/.", root).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	db, err := Locate(fixtureDB(t))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Scan(context.Background(), root, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Severity+" "+f.Rule.ID+" "+f.File)
		if !strings.Contains(f.Message, "CVE-2099-0001") || !strings.Contains(f.Message, "fixed in v0.3.8") {
			t.Errorf("message %q", f.Message)
		}
	}
	sort.Strings(got)
	want := []string{"high vuln/GO-2099-0001 vulnapp/main.go", "medium vuln/GO-2099-0001 importapp/go.mod"}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, f := range fs {
		if f.File == "vulnapp/main.go" && f.Line != 10 {
			t.Errorf("call site line %d, want 10", f.Line)
		}
	}
}

func TestLocate(t *testing.T) {
	if _, err := Locate(""); err == nil && DefaultDB != "" {
		if _, statErr := os.Stat(DefaultDB); statErr != nil {
			t.Error("no database should be an error")
		}
	}
	if _, err := Locate(t.TempDir()); err == nil || !strings.Contains(err.Error(), "vuln.go.dev layout") {
		t.Errorf("empty folder: %v", err)
	}
}
