package cache

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/services/auth"
)

func newService(t *testing.T) (*Service, *httptest.Server, string) {
	t.Helper()
	st, err := Open(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	is, _ := auth.NewIssuer()
	s := &Service{Store: st, Auth: is, Repo: "o/r", Scopes: []string{"refs/heads/main"}}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); st.Close() })
	tok, _ := is.Token("a", "b", "", 3600e9)
	return s, srv, tok
}

func call(t *testing.T, srv *httptest.Server, tok, method string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", srv.URL+"/twirp/"+ServiceName+"/"+method, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func TestUnauthenticated(t *testing.T) {
	_, srv, _ := newService(t)
	code, out := call(t, srv, "", "GetCacheEntryDownloadURL", map[string]any{"key": "k", "version": "v"})
	if code != 401 || out["code"] != "unauthenticated" {
		t.Fatalf("%d %v", code, out)
	}
	code, _ = call(t, srv, "not.a.token", "CreateCacheEntry", map[string]any{"key": "k", "version": "v"})
	if code != 401 {
		t.Fatalf("forged token: %d", code)
	}
}

// A finalize whose size is not what arrived (a truncated upload) saves nothing.
func TestFinalizeWithWrongSizeSavesNothing(t *testing.T) {
	s, srv, tok := newService(t)
	code, out := call(t, srv, tok, "CreateCacheEntry", map[string]any{"key": "k", "version": "v"})
	if code != 200 || out["ok"] != true {
		t.Fatalf("%d %v", code, out)
	}
	req, _ := http.NewRequest("PUT", out["signed_upload_url"].(string), strings.NewReader("0123456789"))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	code, out = call(t, srv, tok, "FinalizeCacheEntryUpload", map[string]any{"key": "k", "version": "v", "size_bytes": "100"})
	if code != 400 || !strings.Contains(out["msg"].(string), "truncated") {
		t.Fatalf("finalize: %d %v", code, out)
	}
	code, out = call(t, srv, tok, "GetCacheEntryDownloadURL", map[string]any{"key": "k", "version": "v"})
	if code != 200 || out["ok"] == true {
		t.Fatalf("a truncated entry is served: %v", out)
	}
	if e, _ := s.Store.Entries(""); len(e) != 0 {
		t.Fatalf("entries %v", e)
	}
	// The key can be saved again, completely this time.
	code, out = call(t, srv, tok, "CreateCacheEntry", map[string]any{"key": "k", "version": "v"})
	if code != 200 {
		t.Fatalf("re-reserve after a failed save: %d %v", code, out)
	}
}
