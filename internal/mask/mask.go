// Package mask hides secrets in output, as the runner does: every occurrence
// of a registered value becomes ***.
package mask

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"sync"
)

// Masker holds the values to hide. It is safe for concurrent use.
type Masker struct {
	mu       sync.RWMutex
	secrets  map[string]bool
	replacer *strings.Replacer
	first    [256]bool // first bytes of secrets, for a quick no-match path
}

// New returns an empty masker.
func New() *Masker { return &Masker{secrets: map[string]bool{}} }

// Add registers a secret, its lines (a multi-line secret is masked line by
// line too) and its JSON-escaped form.
func (m *Masker) Add(secret string) {
	if strings.TrimSpace(secret) == "" {
		return
	}
	vals := []string{secret}
	if strings.ContainsAny(secret, "\r\n") {
		for _, l := range strings.FieldsFunc(secret, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.TrimSpace(l) != "" {
				vals = append(vals, l)
			}
		}
	}
	if b, err := json.Marshal(secret); err == nil {
		if esc := string(b[1 : len(b)-1]); esc != secret {
			vals = append(vals, esc)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, v := range vals {
		if !m.secrets[v] {
			m.secrets[v] = true
			m.first[v[0]] = true
			changed = true
		}
	}
	if changed {
		m.rebuild()
	}
}

func (m *Masker) rebuild() {
	list := make([]string, 0, len(m.secrets))
	for s := range m.secrets {
		list = append(list, s)
	}
	// Longest first, so a secret containing another is masked whole.
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return list[i] < list[j]
	})
	pairs := make([]string, 0, 2*len(list))
	for _, s := range list {
		pairs = append(pairs, s, "***")
	}
	m.replacer = strings.NewReplacer(pairs...)
}

// Replace masks every secret in s.
func (m *Masker) Replace(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	r := m.replacer
	first := &m.first
	hit := false
	if r != nil {
		for i := 0; i < len(s); i++ {
			if first[s[i]] {
				hit = true
				break
			}
		}
	}
	m.mu.RUnlock()
	if !hit {
		return s
	}
	return r.Replace(s)
}

// Writer masks a stream line by line: a secret split across writes is still
// masked because output is held until its newline. Close flushes the rest.
func (m *Masker) Writer(w io.Writer) io.WriteCloser { return &writer{m: m, w: w} }

type writer struct {
	mu  sync.Mutex
	m   *Masker
	w   io.Writer
	buf []byte
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := strings.LastIndexByte(string(w.buf), '\n')
	if i < 0 {
		return len(p), nil
	}
	out := w.m.Replace(string(w.buf[:i+1]))
	w.buf = append(w.buf[:0], w.buf[i+1:]...)
	if _, err := io.WriteString(w.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(w.w, w.m.Replace(string(w.buf)))
	w.buf = nil
	return err
}
