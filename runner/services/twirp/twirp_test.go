package twirp

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type req struct {
	Size Int64  `json:"size_bytes"`
	Key  string `json:"key"`
}
type resp struct {
	ID Int64 `json:"entry_id"`
}

func TestMethod(t *testing.T) {
	h := Method(func(_ *http.Request, r *req) (*resp, error) {
		if r.Key == "" {
			return nil, Errorf(InvalidArgument, "key is empty")
		}
		return &resp{ID: r.Size + 1}, nil
	})
	do := func(method, ct, body string) (int, string) {
		r := httptest.NewRequest(method, "/twirp/x.S/M", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		w := httptest.NewRecorder()
		h(w, r)
		b, _ := io.ReadAll(w.Body)
		return w.Code, strings.TrimSpace(string(b))
	}
	// int64 arrives as a string (protobuf JSON) or a number, and leaves as a string.
	for _, body := range []string{`{"size_bytes":"41","key":"k"}`, `{"size_bytes":41,"key":"k"}`} {
		if code, out := do("POST", "application/json", body); code != 200 || out != `{"entry_id":"42"}` {
			t.Errorf("%s: %d %s", body, code, out)
		}
	}
	code, out := do("POST", "application/json", `{"key":""}`)
	var e Error
	json.Unmarshal([]byte(out), &e)
	if code != 400 || e.Code != InvalidArgument || e.Msg != "key is empty" {
		t.Errorf("error: %d %s", code, out)
	}
	if code, _ := do("POST", "application/protobuf", ""); code != 404 {
		t.Errorf("protobuf: %d", code)
	}
	if code, _ := do("GET", "application/json", ""); code != 404 {
		t.Errorf("GET: %d", code)
	}
	if code, out := do("POST", "application/json", `{"size_bytes":"x"}`); code != 400 || !strings.Contains(out, "malformed") {
		t.Errorf("malformed: %d %s", code, out)
	}
}
