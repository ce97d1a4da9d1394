package cache

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func commitBytes(t *testing.T, s *Store, r *Reservation, body string) (*Entry, error) {
	t.Helper()
	req := httptest.NewRequest("PUT", "/x", strings.NewReader(body))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	w := httptest.NewRecorder()
	r.Upload.ServeHTTP(w, req)
	if w.Code != 201 {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	return s.Commit(r, int64(len(body)))
}

// Two gantry processes share the store: both may upload a key, the first
// commit wins and the second is refused, leaving one entry.
func TestTwoProcessesSaveOneKey(t *testing.T) {
	dir := t.TempDir()
	a, _ := Open(dir, 1<<20)
	b, _ := Open(dir, 1<<20)
	defer a.Close()
	defer b.Close()
	ra, err := a.Reserve("o/r", "refs/heads/main", "k", "v", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Reserve("o/r", "refs/heads/main", "k", "v", 0); !errors.Is(err, ErrExists) {
		t.Fatalf("a second reservation in one process: %v", err)
	}
	rb, err := b.Reserve("o/r", "refs/heads/main", "k", "v", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := commitBytes(t, b, rb, "from-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := commitBytes(t, a, ra, "from-a"); !errors.Is(err, ErrExists) {
		t.Fatalf("the second commit: %v", err)
	}
	e, err := a.Lookup("o/r", []string{"refs/heads/main"}, []string{"k"}, "v")
	if err != nil || e == nil || e.Size != int64(len("from-b")) {
		t.Fatalf("lookup %v %v", e, err)
	}
	if list, _ := a.Entries(""); len(list) != 1 {
		t.Fatalf("entries %v", list)
	}
}

func TestLookupOrder(t *testing.T) {
	s, _ := Open(t.TempDir(), 1<<20)
	defer s.Close()
	save := func(scope, key string) {
		r, err := s.Reserve("o/r", scope, key, "v", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := commitBytes(t, s, r, key); err != nil {
			t.Fatal(err)
		}
	}
	save("refs/heads/main", "npm-abc")
	save("refs/heads/main", "npm-abcdef")
	save("refs/heads/feat", "npm-old")
	scopes := []string{"refs/heads/feat", "refs/heads/main"}
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"npm-abc"}, "npm-abc"},              // exact before prefix, across scopes
		{[]string{"npm-a"}, "npm-abcdef"},             // prefix: the newest in main
		{[]string{"npm-"}, "npm-old"},                 // the current branch first
		{[]string{"yarn-", "npm-abcd"}, "npm-abcdef"}, // restore keys in order
		{[]string{"pip-"}, ""},
	} {
		e, err := s.Lookup("o/r", scopes, c.keys, "v")
		got := ""
		if e != nil {
			got = e.Key
		}
		if err != nil || got != c.want {
			t.Errorf("keys %v: %q %v, want %q", c.keys, got, err, c.want)
		}
	}
	if e, _ := s.Lookup("o/r", scopes, []string{"npm-abc"}, "other-version"); e != nil {
		t.Errorf("another version matched %v", e.Key)
	}
}
