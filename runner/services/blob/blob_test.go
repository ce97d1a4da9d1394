package blob

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func put(t *testing.T, url string, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func newUpload(t *testing.T, max int64) (*Upload, *httptest.Server) {
	u, err := NewUpload(filepath.Join(t.TempDir(), "up"), max)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return u, srv
}

func TestBlocksCommitInListOrder(t *testing.T) {
	u, srv := newUpload(t, 100)
	id := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, b := range [][2]string{{"b2", "world"}, {"b1", "hello "}} {
		if r := put(t, srv.URL+"/x?comp=block&blockid="+id(b[0]), b[1], nil); r.StatusCode != 201 {
			t.Fatalf("stage %s: %d", b[0], r.StatusCode)
		}
	}
	if _, _, ok := u.Committed(); ok {
		t.Fatal("committed before the block list")
	}
	if r := put(t, srv.URL+"/x?comp=blocklist", fmt.Sprintf("<?xml version=\"1.0\"?><BlockList><Latest>%s</Latest><Latest>%s</Latest></BlockList>", id("b1"), id("b2")), nil); r.StatusCode != 201 {
		t.Fatalf("commit: %d", r.StatusCode)
	}
	size, sum, ok := u.Committed()
	b, _ := os.ReadFile(u.Path())
	want := sha256.Sum256([]byte("hello world"))
	if !ok || size != 11 || string(b) != "hello world" || sum != hex.EncodeToString(want[:]) {
		t.Fatalf("committed %v %d %q %s", ok, size, b, sum)
	}
	if r := put(t, srv.URL+"/x", "again", map[string]string{"x-ms-blob-type": "BlockBlob"}); r.StatusCode != 409 {
		t.Fatalf("a second upload of a committed blob: %d", r.StatusCode)
	}
}

func TestUnknownBlockAndTooLarge(t *testing.T) {
	u, srv := newUpload(t, 10)
	if r := put(t, srv.URL+"/x?comp=blocklist", "<BlockList><Latest>bm9wZQ==</Latest></BlockList>", nil); r.StatusCode != 400 || r.Header.Get("x-ms-error-code") != "InvalidBlockList" {
		t.Fatalf("unknown block: %d %s", r.StatusCode, r.Header.Get("x-ms-error-code"))
	}
	if r := put(t, srv.URL+"/x", strings.Repeat("x", 11), map[string]string{"x-ms-blob-type": "BlockBlob"}); r.StatusCode != 413 {
		t.Fatalf("oversized: %d", r.StatusCode)
	}
	if !u.Failed() {
		t.Fatal("an oversized upload does not void the upload")
	}
	if r := put(t, srv.URL+"/x", "x", nil); r.StatusCode != 400 {
		t.Fatalf("missing x-ms-blob-type: %d", r.StatusCode)
	}
}

// A client that says 100 bytes, sends 10 and hangs up leaves nothing.
func TestTruncatedUploadIsVoid(t *testing.T) {
	u, srv := newUpload(t, 1000)
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /x HTTP/1.1\r\nHost: x\r\nx-ms-blob-type: BlockBlob\r\nContent-Length: 100\r\n\r\n0123456789")
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("truncated upload answered %d", resp.StatusCode)
		}
	}
	conn.Close()
	srv.Close() // waits for the handler
	if _, _, ok := u.Committed(); ok {
		t.Fatal("a truncated upload was committed")
	}
	if !u.Failed() {
		t.Fatal("a truncated upload does not void the upload")
	}
	if _, err := os.Stat(u.Path()); !os.IsNotExist(err) {
		t.Fatal("a truncated upload left a blob")
	}
}

func TestLegacyRanges(t *testing.T) {
	u, err := NewUpload(filepath.Join(t.TempDir(), "up"), 100)
	if err != nil {
		t.Fatal(err)
	}
	patch := func(rng, body string) error {
		r := httptest.NewRequest(http.MethodPatch, "/x", strings.NewReader(body))
		r.Header.Set("Content-Range", rng)
		return u.WriteRange(r)
	}
	if err := patch("bytes 5-9/*", "world"); err != nil {
		t.Fatal(err)
	}
	if err := u.CommitRanges(10); err == nil || !strings.Contains(err.Error(), "bytes 0-4 were never uploaded") {
		t.Fatalf("a gap: %v", err)
	}
	if err := patch("bytes 0-4/*", "hel"); err == nil {
		t.Fatal("a short chunk was accepted")
	}
	if err := patch("bytes 0-4/*", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := u.CommitRanges(12); err == nil {
		t.Fatal("a commit past the uploaded bytes was accepted")
	}
	if err := u.CommitRanges(10); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(u.Path()); string(b) != "helloworld" {
		t.Fatalf("%q", b)
	}
}

// A blob whose bytes no longer hash to its sum is cut short, never served whole.
func TestServeCutsCorruptedBlobShort(t *testing.T) {
	dir := t.TempDir()
	data := strings.Repeat("abcdefgh", 300000) // > 2 chunks
	p := filepath.Join(dir, "b")
	os.WriteFile(p, []byte(data), 0o600)
	good := sha256.Sum256([]byte(data))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := hex.EncodeToString(good[:])
		if r.URL.Path == "/bad" {
			sum = strings.Repeat("0", 64)
		}
		Serve(w, r, p, int64(len(data)), sum, nil)
	}))
	defer srv.Close()
	get := func(path string) (int, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	if n, err := get("/good"); err != nil || n != len(data) {
		t.Fatalf("good blob: %d %v", n, err)
	}
	if n, err := get("/bad"); err == nil || n == len(data) {
		t.Fatalf("corrupted blob served whole: %d %v", n, err)
	}
}
