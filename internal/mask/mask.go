// Package mask hides secrets in output, as the runner does: every occurrence
// of a registered value, or of one of its encoded forms, becomes ***.
package mask

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// Masker holds the values to hide. It is safe for concurrent use.
type Masker struct {
	mu      sync.RWMutex
	secrets map[string]bool
	list    []string // secrets, longest first
	idx     *index
	maxLen  int
}

// index finds candidate secrets at a position by their first two bytes: a
// bit per byte pair rules out almost every position at the cost of one
// load, and the few left are checked against the secrets with that prefix.
type index struct {
	pairs  [1 << 16 / 64]uint64
	bucket map[uint16][]string // longest first
	single [256]bool           // one-byte secrets
}

func (x *index) add(v string) {
	if len(v) == 1 {
		x.single[v[0]] = true
		return
	}
	k := uint16(v[0])<<8 | uint16(v[1])
	x.pairs[k/64] |= 1 << (k % 64)
	x.bucket[k] = append(x.bucket[k], v)
}

// spans appends the [start, end) of every occurrence of every secret in s.
func (x *index) spans(s string) []span {
	var out []span
	for i := 0; i < len(s); i++ {
		if x.single[s[i]] {
			out = append(out, span{i, i + 1})
		}
		if i+1 >= len(s) {
			break
		}
		k := uint16(s[i])<<8 | uint16(s[i+1])
		if x.pairs[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, v := range x.bucket[k] {
			if strings.HasPrefix(s[i:], v) {
				out = append(out, span{i, i + len(v)})
				break // longest first: shorter ones here are inside it
			}
		}
	}
	return out
}

type span struct{ start, end int }

// New returns an empty masker.
func New() *Masker { return &Masker{secrets: map[string]bool{}} }

// Add registers a secret, its lines (a multi-line secret is masked line by
// line too) and the encoded forms of each (see variants).
func (m *Masker) Add(secret string) {
	if strings.TrimSpace(secret) == "" {
		return
	}
	values := []string{secret}
	if strings.ContainsAny(secret, "\r\n") {
		for _, l := range strings.FieldsFunc(secret, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if strings.TrimSpace(l) != "" {
				values = append(values, l)
			}
		}
	}
	var vals []string
	for _, v := range values {
		vals = append(vals, variants(v)...)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, v := range vals {
		if v != "" && !m.secrets[v] {
			m.secrets[v] = true
			m.maxLen = max(m.maxLen, len(v))
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
	x := &index{bucket: map[uint16][]string{}}
	for _, v := range list {
		x.add(v)
	}
	m.list, m.idx = list, x
}

// MaxLen is the length of the longest registered form, so a stream cut
// can keep back enough bytes never to split one.
func (m *Masker) MaxLen() int {
	if m == nil {
		return 0
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.maxLen
}

// Replace masks every secret in s. Overlapping occurrences of different
// secrets are masked as one span, as GitHub's masker merges them: masking
// one first must not leave the rest of the other readable.
func (m *Masker) Replace(s string) string {
	if m == nil {
		return s
	}
	m.mu.RLock()
	x := m.idx
	m.mu.RUnlock()
	if x == nil {
		return s
	}
	spans := x.spans(s)
	if len(spans) == 0 {
		return s
	}
	return merge(s, spans)
}

// merge replaces the union of the spans (in start order) by ***.
func merge(s string, spans []span) string {
	var b strings.Builder
	pos := 0
	cur := spans[0]
	flush := func() {
		b.WriteString(s[pos:cur.start])
		b.WriteString("***")
		pos = cur.end
	}
	for _, sp := range spans[1:] {
		if sp.start <= cur.end {
			cur.end = max(cur.end, sp.end)
			continue
		}
		flush()
		cur = sp
	}
	flush()
	b.WriteString(s[pos:])
	return b.String()
}

// SafeCut returns the largest n <= cut such that no registered form starts
// before n and ends after it in b: cutting b at n for a flush never sends
// one half of a secret out on its own. The caller keeps back at least
// MaxLen()-1 bytes, so forms that may still be completed by later writes
// are never cut either.
func (m *Masker) SafeCut(b []byte, cut int) int {
	if m == nil {
		return cut
	}
	m.mu.RLock()
	list := m.list
	m.mu.RUnlock()
	for changed := true; changed && cut > 0; {
		changed = false
		for _, v := range list {
			lo := max(0, cut-len(v)+1)
			hi := min(len(b), cut+len(v)-1)
			if lo >= hi {
				continue
			}
			window := string(b[lo:hi])
			for from := 0; ; {
				i := strings.Index(window[from:], v)
				if i < 0 {
					break
				}
				start := lo + from + i
				if start < cut && start+len(v) > cut {
					cut, changed = start, true
					break
				}
				from += i + 1
			}
		}
	}
	return cut
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

// maxHold bounds what a writer keeps of a line that never ends.
const maxHold = 64 << 10

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := len(w.buf)
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexByte(p, '\n')
	if i >= 0 {
		i += from
	}
	if i < 0 {
		if len(w.buf) <= maxHold {
			return len(p), nil
		}
		// Flush all but a tail that may still grow into a secret.
		i = w.m.SafeCut(w.buf, len(w.buf)-max(0, w.m.MaxLen()-1)) - 1
		if i < 0 {
			return len(p), nil
		}
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
