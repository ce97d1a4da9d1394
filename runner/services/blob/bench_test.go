package blob

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// BenchmarkUploadDownload moves 64 MB through staged blocks, a commit and
// a verified download over loopback; compare with BenchmarkCopyBaseline,
// the same bytes through io.Copy of a plain HTTP body.
func BenchmarkUploadDownload(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		u, _ := NewUpload(filepath.Join(b.TempDir(), "u"), 1<<30)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				size, sum, _ := u.Committed()
				Serve(w, r, u.Path(), size, sum, nil)
				return
			}
			u.ServeHTTP(w, r)
		}))
		var list bytes.Buffer
		list.WriteString("<BlockList>")
		for off, n := 0, 0; off < len(data); off, n = off+8<<20, n+1 {
			id := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%06d", n)))
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/b?comp=block&blockid="+id, bytes.NewReader(data[off:off+8<<20]))
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 201 {
				b.Fatal(err, resp)
			}
			resp.Body.Close()
			list.WriteString("<Latest>" + id + "</Latest>")
		}
		list.WriteString("</BlockList>")
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/b?comp=blocklist", &list)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
			b.Fatal(err, resp)
		}
		resp, err := http.Get(srv.URL + "/b")
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := io.Copy(io.Discard, resp.Body); n != int64(len(data)) {
			b.Fatalf("downloaded %d", n)
		}
		resp.Body.Close()
		srv.Close()
	}
}

func BenchmarkCopyBaseline(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Write(data)
			return
		}
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	for i := 0; i < b.N; i++ {
		resp, err := http.Post(srv.URL, "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		resp, _ = http.Get(srv.URL)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
