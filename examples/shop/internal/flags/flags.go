// Package flags evaluates boolean flags of a flagd (OpenFeature) flags file,
// re-reading it when it changes, so a flag flipped by the pipeline reaches a
// running shop without a deploy. It understands what the shop's flags use:
// state, variants, defaultVariant and a fractional split by targeting key.
// (A flagd server evaluates the same file; its bucketing hash differs, the
// shares do not.)
package flags

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"
)

// File is a flags file on disk.
type File struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	doc     document
	err     error
}

type document struct {
	Flags map[string]flag `json:"flags"`
}

type flag struct {
	State          string                     `json:"state"`
	Variants       map[string]json.RawMessage `json:"variants"`
	DefaultVariant string                     `json:"defaultVariant"`
	Targeting      json.RawMessage            `json:"targeting"`
}

// Open reads the flags file at path; a broken file is an error here, later
// changes that break it keep the last good flags.
func Open(path string) (*File, error) {
	f := &File{path: path}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) reload() error {
	st, err := os.Stat(f.path)
	if err != nil {
		return fmt.Errorf("flags file: %w", err)
	}
	if st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("flags file: %w", err)
	}
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("flags file %s: %w", f.path, err)
	}
	f.doc, f.modTime, f.size = doc, st.ModTime(), st.Size()
	return nil
}

// Bool evaluates a boolean flag for a user (the targeting key). A missing
// or disabled flag, or one that cannot be evaluated, gives def, as an
// OpenFeature client falls back to its default.
func (f *File) Bool(key, user string, def bool) bool {
	if f == nil {
		return def
	}
	f.mu.Lock()
	if err := f.reload(); err != nil {
		f.err = err
	}
	fl, ok := f.doc.Flags[key]
	f.mu.Unlock()
	if !ok || fl.State != "ENABLED" {
		return def
	}
	variant := fl.DefaultVariant
	if v, ok := fractional(fl.Targeting, key, user); ok {
		variant = v
	}
	var b bool
	if err := json.Unmarshal(fl.Variants[variant], &b); err != nil {
		return def
	}
	return b
}

// fractional picks the variant of a {"fractional": [[variant, weight], ...]}
// targeting by a stable hash of the flag and user, so a user keeps their
// variant while the split holds.
func fractional(targeting json.RawMessage, key, user string) (string, bool) {
	if len(targeting) == 0 || user == "" {
		return "", false
	}
	var t struct {
		Fractional []json.RawMessage `json:"fractional"`
	}
	if json.Unmarshal(targeting, &t) != nil || len(t.Fractional) == 0 {
		return "", false
	}
	type share struct {
		variant string
		weight  float64
	}
	var shares []share
	total := 0.0
	for _, raw := range t.Fractional {
		var pair []json.RawMessage
		if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
			continue // a bucketing expression: the targeting key is used instead
		}
		var s share
		if json.Unmarshal(pair[0], &s.variant) != nil || json.Unmarshal(pair[1], &s.weight) != nil {
			return "", false
		}
		shares = append(shares, s)
		total += s.weight
	}
	if total <= 0 {
		return "", false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key + user))
	point := float64(h.Sum32()%10000) / 10000 * total
	for _, s := range shares {
		if point < s.weight {
			return s.variant, true
		}
		point -= s.weight
	}
	return shares[len(shares)-1].variant, true
}
