package actionurl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]Ref{
		"https://gitea.example.com/owner/repo@v1":                               {Base: "https://gitea.example.com", Owner: "owner", Repo: "repo", Version: "v1"},
		"https://github.com/actions/checkout@v4":                                {Base: "https://github.com", Owner: "actions", Repo: "checkout", Version: "v4"},
		"http://127.0.0.1:8080/o/r.git/sub/dir@release/1.x":                     {Base: "http://127.0.0.1:8080", Owner: "o", Repo: "r", SubPath: "sub/dir", Version: "release/1.x"},
		"HTTPS://Code.Example.ORG/o/r@0123456789abcdef0123456789abcdef01234567": {Base: "https://code.example.org", Owner: "o", Repo: "r", Version: "0123456789abcdef0123456789abcdef01234567"},
		"https://[::1]:3000/o/r@v1":                                             {Base: "https://[::1]:3000", Owner: "o", Repo: "r", Version: "v1"},
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"ftp://host/o/r@v1":                "only http:// and https://",
		"file:///etc/o/r@v1":               "only http:// and https://",
		"git://host/o/r@v1":                "only http:// and https://",
		"https://host/o/r":                 "has no version",
		"https://host/o/r@":                "has no version",
		"https://user:hunter2@host/o/r@v1": "holds credentials",
		"https://tok@host/o/r@v1":          "holds credentials",
		"https://host/o/../r@v1":           `".." segment`,
		"https://host/o/r@../../etc":       "",
		"https://host/o/r@-upload-pack=x":  "starts with '-'",
		"https://host/o@v1":                "names no repository",
		"https://host/o/.git@v1":           "names no repository",
		"https://host/o/r?x=1@v1":          "no ?query",
		"https://host/o/r#frag@v1":         "",
		"https://host/o/%2e%2e/r@v1":       "percent-encoding",
		"https://host/o/r\x00@v1":          "control character",
		"https:///o/r@v1":                  "names no host",
		"https://ho$t/o/r@v1":              "host",
		"https://host//r@v1":               "absolute path",
		"https://host/o\\r/x@v1":           "backslash",
	}
	for in, want := range bad {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v; want it to say %q", in, err, want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
	if Is("docker://alpine") || Is("owner/repo@v1") || Is("./local") || !Is("https://h/o/r@v1") || !Is("ftp://h/o/r@v1") || Is("owner/repo@ref://x") {
		t.Error("Is misjudges a reference")
	}
	if d := HostDir("http://127.0.0.1:8080"); d != "127.0.0.1_8080" {
		t.Errorf("HostDir = %q", d)
	}
}
