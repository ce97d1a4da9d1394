package artifact

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantry-ci/gantry/runner/services/auth"
)

type env struct {
	t   *testing.T
	s   *Service
	srv *httptest.Server
	tok string
	dir string
}

func newEnv(t *testing.T) *env {
	is, _ := auth.NewIssuer()
	root := t.TempDir()
	s := &Service{Auth: is, Dir: filepath.Join(root, "run"), RunBackendID: "run-1"}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); s.Close() })
	tok, _ := is.Token("run-1", "job-1", "", 3600e9)
	return &env{t: t, s: s, srv: srv, tok: tok, dir: root}
}

func (e *env) call(method string, body map[string]any) (int, map[string]any) {
	e.t.Helper()
	if _, ok := body["workflow_run_backend_id"]; !ok {
		body["workflow_run_backend_id"] = "run-1"
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/twirp/"+ServiceName+"/"+method, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// Names that are paths are refused by the service itself, whatever the client checks.
func TestPathNamesAreRefused(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"..", ".", "/etc/passwd", "../up", `..\up`, "a/b", "", ".gantry-index.json", "x\x00y"} {
		code, out := e.call("CreateArtifact", map[string]any{"name": name, "version": 4})
		if code != 400 || out["code"] != "invalid_argument" {
			t.Errorf("name %q: %d %v", name, code, out)
		}
	}
	var left []string
	filepath.WalkDir(e.dir, func(p string, d os.DirEntry, err error) error {
		if p != e.dir {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("refused names left %v", left)
	}
}

func TestOtherRunAndHashMismatch(t *testing.T) {
	e := newEnv(t)
	if code, out := e.call("ListArtifacts", map[string]any{"workflow_run_backend_id": "another-run"}); code != 403 {
		t.Fatalf("another run's id: %d %v", code, out)
	}
	code, out := e.call("CreateArtifact", map[string]any{"name": "a", "version": 4})
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	req, _ := http.NewRequest("PUT", out["signed_upload_url"].(string), strings.NewReader("zipbytes"))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("upload %v %v", resp, err)
	}
	resp.Body.Close()
	code, out = e.call("FinalizeArtifact", map[string]any{"name": "a", "size": "8", "hash": "sha256:" + strings.Repeat("0", 64)})
	if code != 400 || !strings.Contains(out["msg"].(string), "corrupted on the way") {
		t.Fatalf("hash mismatch: %d %v", code, out)
	}
	if code, out := e.call("ListArtifacts", map[string]any{}); code != 200 || len(out["artifacts"].([]any)) != 0 {
		t.Fatalf("a refused artifact is listed: %v", out)
	}
	if _, err := os.Stat(filepath.Join(e.s.Dir, "a.zip")); !os.IsNotExist(err) {
		t.Fatal("a refused artifact is on disk")
	}
}
