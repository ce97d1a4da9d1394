package mask

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestReplace(t *testing.T) {
	m := New()
	m.Add("abc")
	m.Add("abcdef")
	m.Add("  ")
	m.Add("line1\nline2")
	m.Add(`q"uote`)
	tests := map[string]string{
		"x abcdef y":       "x *** y",
		"abc abc":          "*** ***",
		"see line2 here":   "see *** here",
		`json: "q\"uote"`:  `json: "***"`,
		"nothing to see":   "nothing to see",
		"with  two spaces": "with  two spaces",
	}
	for in, want := range tests {
		if got := m.Replace(in); got != want {
			t.Errorf("Replace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriterSplitWrites(t *testing.T) {
	m := New()
	m.Add("supersecret")
	var out bytes.Buffer
	w := m.Writer(&out)
	for _, part := range []string{"a super", "sec", "ret b\nnext supers", "ecret"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a *** b\nnext ***" {
		t.Errorf("got %q", got)
	}
}

func TestConcurrentAdd(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				m.Add(fmt.Sprintf("secret-%d-%d", i, j))
				m.Replace("text secret-1-1 more")
			}
		}()
	}
	wg.Wait()
	if got := m.Replace("x secret-7-49 y"); got != "x *** y" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkReplace(b *testing.B) {
	m := New()
	for i := 0; i < 200; i++ {
		m.Add(fmt.Sprintf("token-%04d-value", i))
	}
	line := strings.Repeat("ordinary build output without secrets ", 4)
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		m.Replace(line)
	}
}
