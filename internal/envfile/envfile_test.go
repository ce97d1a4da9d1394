package envfile

import (
	"strings"
	"testing"
)

func TestParseKV(t *testing.T) {
	in := "a=1\r\nb=x=y\n\nmulti<<EOF\nline 1\r\nline 2\nEOF\nempty=\nc<<END\nEND\n"
	kvs, err := ParseKV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []KV{{"a", "1", 1}, {"b", "x=y", 2}, {"multi", "line 1\nline 2", 4}, {"empty", "", 8}, {"c", "", 9}}
	if len(kvs) != len(want) {
		t.Fatalf("got %v", kvs)
	}
	for i := range want {
		if kvs[i] != want[i] {
			t.Errorf("kv %d = %+v, want %+v", i, kvs[i], want[i])
		}
	}
}

func TestParseKVErrors(t *testing.T) {
	for in, want := range map[string]string{
		"x<<EOF\nno end\n": "line 1: heredoc for \"x\" is not closed",
		"=v\n":             "line 1: empty name",
		"novalue\n":        "neither name=value",
		"x<<\n":            "empty delimiter",
	} {
		_, err := ParseKV(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
}

func TestParsePath(t *testing.T) {
	got := ParsePath(strings.NewReader("/a\n\n  /b \r\n"))
	if strings.Join(got, ",") != "/a,/b" {
		t.Errorf("got %v", got)
	}
}

func TestCheckEnvName(t *testing.T) {
	if CheckEnvName("NODE_OPTIONS") == nil || CheckEnvName("A B") == nil || CheckEnvName("OK_1") != nil {
		t.Error("env name checks wrong")
	}
}

func FuzzParseKV(f *testing.F) {
	f.Add("a=1\nb<<E\nx\nE\n")
	f.Fuzz(func(t *testing.T, s string) {
		kvs, err := ParseKV(strings.NewReader(s))
		if err == nil {
			for _, kv := range kvs {
				if kv.Key == "" {
					t.Fatalf("empty key from %q", s)
				}
			}
		}
	})
}
