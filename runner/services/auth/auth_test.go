package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTokenCarriesBackendIDsAndRejectsForgeries(t *testing.T) {
	is, _ := NewIssuer()
	tok, err := is.Token("run-id", "job-id", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// What @actions/artifact does: decode the payload, split scp.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var c struct{ Scp string }
	json.Unmarshal(payload, &c)
	if !strings.Contains(" "+c.Scp+" ", " Actions.Results:run-id:job-id ") {
		t.Fatalf("scp %q", c.Scp)
	}
	got, err := is.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if run, job, ok := got.Backend(); !ok || run != "run-id" || job != "job-id" {
		t.Fatalf("backend %s %s %v", run, job, ok)
	}
	other, _ := NewIssuer()
	if _, err := other.Verify(tok); err == nil {
		t.Fatal("another run's issuer accepted the token")
	}
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"scp":"Actions.Results:x:y","exp":9999999999}`)) + "." + parts[2]
	if _, err := is.Verify(forged); err == nil {
		t.Fatal("a forged payload was accepted")
	}
	is.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := is.Verify(tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	r := httptest.NewRequest("POST", "/", nil)
	if _, err := is.Request(r); err == nil {
		t.Fatal("a request without a token was accepted")
	}
}

func TestSignedURLs(t *testing.T) {
	is, _ := NewIssuer()
	u := is.SignURL("http://127.0.0.1:1/", "/blob/cache/u/1", "w", time.Hour)
	if err := is.CheckURL(httptest.NewRequest("PUT", u, nil), "w"); err != nil {
		t.Fatal(err)
	}
	if err := is.CheckURL(httptest.NewRequest("GET", u, nil), "r"); err == nil {
		t.Fatal("a write URL allowed a read")
	}
	if err := is.CheckURL(httptest.NewRequest("PUT", strings.Replace(u, "/u/1", "/u/2", 1), nil), "w"); err == nil {
		t.Fatal("a URL signed for one blob opened another")
	}
	is.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if err := is.CheckURL(httptest.NewRequest("PUT", u, nil), "w"); err == nil {
		t.Fatal("an expired URL was accepted")
	}
}
