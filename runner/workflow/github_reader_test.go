package workflow

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// readerTest is one of GitHub's workflow-parser reader tests: an options
// document, the workflow, for reusable-workflow tests the called files, and
// the expected result (a workflow template, or {"errors": [...]}).
type readerTest struct {
	name     string
	options  string
	workflow string
	extra    int // documents besides the workflow (called workflows)
	errors   []githubError
}

type githubError struct {
	Line, Col int // 0 when GitHub gives no position
	Text      string
}

var githubPos = regexp.MustCompile(`^\.github/workflows/[^ :]+(?: \(Line: (\d+), Col: (\d+)\))?: (.*)$`)

func loadReaderTest(path string) (readerTest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return readerTest{}, err
	}
	docs := regexp.MustCompile(`\r?\n---\r?\n`).Split(string(data), -1)
	if len(docs) < 3 {
		return readerTest{}, errors.New("fewer than 3 documents")
	}
	rt := readerTest{name: filepath.Base(path), options: docs[0], workflow: docs[1], extra: len(docs) - 3}
	var want struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(docs[len(docs)-1]), &want); err != nil {
		return readerTest{}, err
	}
	for _, e := range want.Errors {
		ge := githubError{Text: e.Message}
		if m := githubPos.FindStringSubmatch(e.Message); m != nil {
			ge.Line, _ = strconv.Atoi(m[1])
			ge.Col, _ = strconv.Atoi(m[2])
			ge.Text = m[3]
		}
		rt.errors = append(rt.errors, ge)
	}
	return rt, nil
}

// undecidable are the options under which a test's result depends on more
// than the file: parser limits set by the test and permission policies.
var undecidable = regexp.MustCompile(`(?m)^(max-depth|max-file-size|max-result-size|max-job-limit|max-nested-reusable-workflows-depth|permissions-policy):`)

// readerGolden reads testdata/github/reader.golden: "name accept|reject # why".
func readerGolden(t *testing.T) map[string]string {
	f, err := os.Open("testdata/github/reader.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[1] != "accept" && fields[1] != "reject" {
			t.Fatalf("reader.golden: bad line %q", line)
		}
		out[fields[0]] = fields[1]
	}
	return out
}

// TestGitHubReaderCorpus runs GitHub's workflow-parser reader tests. A test
// that one file decides must get GitHub's verdict (valid files accepted,
// invalid ones rejected). For the others (called workflows, parser limits
// set by the test) reader.golden gives the verdict expected of us. Each of
// GitHub's errors is also looked for among ours: same line and column and
// GitHub's text.
func TestGitHubReaderCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/github/reader/*.yml")
	if len(files) < 190 {
		t.Fatalf("the reader corpus has %d files", len(files))
	}
	golden := readerGolden(t)
	var decided, decidedOK, valid, validOK, invalid, invalidOK, goldenN, goldenOK int
	var msgs, msgsPos, msgsText int
	used := map[string]bool{}
	for _, f := range files {
		rt, err := loadReaderTest(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		_, perr := Parse(".github/workflows/"+rt.name, []byte(rt.workflow))
		var ours Errors
		if perr != nil && !errors.As(perr, &ours) {
			t.Errorf("%s: error is not Errors: %v", rt.name, perr)
			continue
		}
		verdict := "accept"
		if len(ours) > 0 {
			verdict = "reject"
		}
		if g, ok := golden[rt.name]; ok {
			used[rt.name] = true
			goldenN++
			if g == verdict {
				goldenOK++
			} else {
				t.Errorf("%s: golden verdict %s, we %s:\n%v", rt.name, g, verdict, perr)
			}
			continue
		}
		// Called workflows and parser limits can only add errors, so a
		// valid result still says the file alone is valid.
		if (rt.extra > 0 || undecidable.MatchString(rt.options)) && len(rt.errors) > 0 || strings.Contains(rt.options, "experimental-features:") {
			t.Errorf("%s: depends on more than the file; give its verdict in reader.golden (we %s)", rt.name, verdict)
			continue
		}
		decided++
		want := "accept"
		if len(rt.errors) > 0 {
			want = "reject"
			invalid++
		} else {
			valid++
		}
		if verdict != want {
			t.Errorf("%s: GitHub's verdict is %s, we %s:\n%v\nGitHub: %+v", rt.name, want, verdict, perr, rt.errors)
			continue
		}
		decidedOK++
		if want == "accept" {
			validOK++
			continue
		}
		invalidOK++
		for _, ge := range rt.errors {
			msgs++
			pos, text := false, false
			for _, e := range ours {
				if ge.Line == 0 || e.Pos.Line == ge.Line && e.Pos.Col == ge.Col {
					pos = true
					if strings.Contains(e.Msg, ge.Text) {
						text = true
					}
				}
			}
			if pos {
				msgsPos++
			}
			if text {
				msgsText++
			} else if testing.Verbose() {
				t.Logf("%s: GitHub's error not reproduced: (%d:%d) %s\n ours: %v", rt.name, ge.Line, ge.Col, ge.Text, perr)
			}
		}
	}
	var stale []string
	for name := range golden {
		if !used[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("reader.golden names tests that are not in the corpus: %v", stale)
	}
	t.Logf("GitHub reader tests decided by one file: %d/%d get GitHub's verdict (valid accepted %d/%d, invalid rejected %d/%d)",
		decidedOK, decided, validOK, valid, invalidOK, invalid)
	t.Logf("GitHub reader tests with a golden verdict: %d/%d", goldenOK, goldenN)
	t.Logf("GitHub's errors in the rejected files: %d/%d at GitHub's line:col, %d/%d there with GitHub's text", msgsPos, msgs, msgsText, msgs)
}
