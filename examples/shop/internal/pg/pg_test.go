package pg

import (
	"context"
	"strings"
	"testing"
)

// TestScramRFC7677 checks the SCRAM-SHA-256 exchange against the example
// in RFC 7677 section 3.
func TestScramRFC7677(t *testing.T) {
	s := &scramClient{password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO"}
	s.first()
	s.firstBare = "n=user,r=" + s.nonce // the RFC names its user; PostgreSQL ignores the name
	final, err := s.final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	if err != nil {
		t.Fatal(err)
	}
	if want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="; final != want {
		t.Errorf("client final\n got %s\nwant %s", final, want)
	}
	if !s.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") {
		t.Error("the RFC's server signature was refused")
	}
	if s.verify("v=AAAA") {
		t.Error("a wrong server signature was accepted")
	}
	if _, err := s.final("r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"); err == nil {
		t.Error("a nonce that does not extend ours was accepted")
	}
}

func TestDataRowAndErrors(t *testing.T) {
	// two columns: "ab" and NULL
	row, err := dataRow([]byte{0, 2, 0, 0, 0, 2, 'a', 'b', 0xff, 0xff, 0xff, 0xff})
	if err != nil || len(row) != 2 || *row[0] != "ab" || row[1] != nil {
		t.Fatalf("row %v %v", row, err)
	}
	if _, err := dataRow([]byte{0, 1, 0, 0, 0, 9, 'x'}); err == nil {
		t.Error("a short column was accepted")
	}
	e := parseError([]byte("SERROR\x00C23514\x00Mnew row violates check constraint\x00\x00"))
	if e.Code != "23514" || !strings.Contains(e.Error(), "check constraint") {
		t.Errorf("error %+v", e)
	}
	for _, url := range []string{"mysql://x", "postgres://u@h/db?sslmode=require"} {
		if _, err := Connect(context.Background(), url); err == nil {
			t.Errorf("%s was accepted", url)
		}
	}
}
