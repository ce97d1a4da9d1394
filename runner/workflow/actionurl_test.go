package workflow

import (
	"strings"
	"testing"
)

// Full-URL action references (Gitea, Forgejo) are checked at validate
// time, at the uses: value; a good one is accepted.
func TestUsesURLCheckedAtParse(t *testing.T) {
	for _, tc := range []struct{ uses, msg string }{
		{"https://user:hunter2@gitea.example.com/o/r@v1", "holds credentials"},
		{"ftp://gitea.example.com/o/r@v1", "only http:// and https://"},
		{"file:///etc/o/r@v1", "only http:// and https://"},
		{"https://gitea.example.com/o/../x@v1", `".." segment`},
		{"https://gitea.example.com/o/r@../x", `".." segment`},
		{"https://gitea.example.com/o@v1", "names no repository"},
		{"https://gitea.example.com/o/r?a=b@v1", "no ?query"},
		{"\"https://gitea.example.com/o/r\\0@v1\"", "NUL"},
	} {
		t.Run(tc.uses, func(t *testing.T) {
			src := "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: " + tc.uses + "\n"
			wantError(t, src, "6:15", tc.msg)
			_, err := Parse("w.yml", []byte(src))
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
	for _, uses := range []string{"https://gitea.example.com/o/r@v1", "https://github.com/actions/checkout@v4", "http://127.0.0.1:3000/o/r/sub@main"} {
		if _, err := Parse("w.yml", []byte("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: "+uses+"\n")); err != nil {
			t.Errorf("%s refused: %v", uses, err)
		}
	}
	src := "on: push\njobs:\n  j:\n    uses: https://u:p@host/o/r/.gitea/workflows/x.yml@v1\n"
	wantError(t, src, "4:11", "holds credentials")
}
