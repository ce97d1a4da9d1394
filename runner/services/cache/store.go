// Package cache is gantry's GitHub Actions cache: a store on disk shared by
// every run of the machine (an index under an flock, entries as files, a
// size limit with least-recently-used eviction) and the two HTTP APIs the
// @actions/cache npm client speaks to it (service.go).
package cache

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-ci/gantry/runner/services/blob"
)

// DefaultMaxBytes is GitHub's cache limit per repository.
const DefaultMaxBytes = 10 << 30

// Unused entries go after this long, as on GitHub.
const maxIdle = 7 * 24 * time.Hour

// Entry is one saved cache.
type Entry struct {
	ID       int64     `json:"id"`
	Repo     string    `json:"repo"`
	Scope    string    `json:"scope"` // the ref it was saved on
	Key      string    `json:"key"`
	Version  string    `json:"version"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	// MTime is the archive's modification time when it was last hashed:
	// a lookup re-hashes only an archive whose size or time changed (the
	// download re-checks every byte anyway).
	MTime int64 `json:"mtime"`
}

type index struct {
	Entries []*Entry `json:"entries"`
}

// Store is the cache on disk.
type Store struct {
	dir string
	max int64
	now func() time.Time

	// OnCorrupt is told of each entry dropped because its archive no
	// longer matches its hash (the client only sees a miss or "aborted").
	OnCorrupt func(e Entry, err error)

	mu      sync.Mutex
	pending map[string]*Reservation // by reservation key
	byID    map[int64]*Reservation
}

// Open opens (making it) the store in dir, holding at most maxBytes
// (DefaultMaxBytes when 0).
func Open(dir string, maxBytes int64) (*Store, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	for _, d := range []string{"entries", "staging"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("cache store: %w", err)
		}
	}
	s := &Store{dir: dir, max: maxBytes, now: time.Now, pending: map[string]*Reservation{}, byID: map[int64]*Reservation{}}
	s.sweepStaging()
	return s, nil
}

// MaxBytes is the store's size limit.
func (s *Store) MaxBytes() int64 { return s.max }

// sweepStaging removes uploads that a crashed gantry left a day ago.
func (s *Store) sweepStaging() {
	list, _ := os.ReadDir(filepath.Join(s.dir, "staging"))
	for _, e := range list {
		if info, err := e.Info(); err == nil && s.now().Sub(info.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(filepath.Join(s.dir, "staging", e.Name()))
		}
	}
}

// Close drops the uploads still in progress.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.pending {
		_ = os.RemoveAll(r.dir)
		delete(s.pending, k)
		delete(s.byID, r.ID)
	}
	return nil
}

// withIndex runs fn on the index under an exclusive flock (other gantry
// processes share the store) and saves it when fn says so.
func (s *Store) withIndex(fn func(ix *index) (save bool, err error)) error {
	lf, err := os.OpenFile(filepath.Join(s.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("cache store lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("cache store lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	ix := &index{}
	path := filepath.Join(s.dir, "index.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, ix); err != nil {
			// A broken index loses the entries, not the service.
			ix = &index{}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cache index: %w", err)
	}
	save, err := fn(ix)
	if err != nil || !save {
		return err
	}
	b, err := json.MarshalIndent(ix, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("cache index: %w", err)
	}
	return os.Rename(tmp, path)
}

func (s *Store) entryPath(id int64) string {
	return filepath.Join(s.dir, "entries", fmt.Sprintf("%d", id))
}

// Path is where an entry's archive is.
func (s *Store) Path(e *Entry) string { return s.entryPath(e.ID) }

// ValidateKey rejects keys GitHub rejects (over 512 characters, commas)
// and keys that look like paths escaping somewhere: keys name entries and
// are never used as file names, but a key with ".." or a leading "/" is
// almost always a mistake in a workflow.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return errors.New("the cache key is empty")
	case len(key) > 512:
		return fmt.Errorf("cache key %.40q... is longer than 512 characters", key)
	case strings.Contains(key, ","):
		return fmt.Errorf("cache key %q contains a comma; keys cannot", key)
	case strings.HasPrefix(key, "/") || strings.HasPrefix(key, `\`) || (len(key) > 2 && key[1] == ':' && (key[2] == '/' || key[2] == '\\')):
		return fmt.Errorf("cache key %q is an absolute path; a key is a name such as linux-go-<hash>", key)
	}
	for _, seg := range strings.FieldsFunc(key, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return fmt.Errorf("cache key %q has a \"..\" path element; a key is a name such as linux-go-<hash>", key)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("cache key %q contains a control character", key)
		}
	}
	return nil
}

func validateVersion(v string) error {
	if v == "" || len(v) > 512 || strings.ContainsAny(v, "\x00\n\r") {
		return fmt.Errorf("cache version %q is not valid; it is the hash @actions/cache computes from the paths and compression", v)
	}
	return nil
}

// Lookup finds the entry for keys (the primary key, then restore keys) in
// scopes, in GitHub's order: in each scope (the current ref, then the
// default branch), the primary key exactly, then as a prefix, then each
// restore key as a prefix; newest first; the version must match. An entry
// whose archive is missing or corrupted is dropped and never served.
func (s *Store) Lookup(repo string, scopes, keys []string, version string) (*Entry, error) {
	var found *Entry
	var corrupted []int64
	err := s.withIndex(func(ix *index) (bool, error) {
		for found == nil {
			found = match(ix, repo, scopes, keys, version, corrupted)
			if found == nil {
				break
			}
			if err := s.check(found); err != nil {
				corrupted = append(corrupted, found.ID)
				if s.OnCorrupt != nil {
					s.OnCorrupt(*found, err)
				}
				found = nil
			}
		}
		for _, id := range corrupted {
			s.drop(ix, id)
		}
		if found != nil {
			found.LastUsed = s.now()
		}
		return found != nil || len(corrupted) > 0, nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, nil
	}
	e := *found
	return &e, nil
}

// check is the cheap test of an entry's archive (size and time), and the
// full hash when they changed.
func (s *Store) check(e *Entry) error {
	st, err := os.Stat(s.entryPath(e.ID))
	if err != nil {
		return err
	}
	if st.Size() == e.Size && st.ModTime().UnixNano() == e.MTime {
		return nil
	}
	if err := blob.Verify(s.entryPath(e.ID), e.Size, e.SHA256); err != nil {
		return err
	}
	e.MTime = st.ModTime().UnixNano()
	return nil
}

// Drop removes an entry found corrupted while it was served.
func (s *Store) Drop(e Entry) {
	if s.OnCorrupt != nil {
		s.OnCorrupt(e, errors.New("its archive no longer matches its SHA-256; the download was cut short"))
	}
	_ = s.withIndex(func(ix *index) (bool, error) {
		s.drop(ix, e.ID)
		return true, nil
	})
}

func match(ix *index, repo string, scopes, keys []string, version string, skip []int64) *Entry {
	newest := func(ok func(e *Entry) bool, scope string) *Entry {
		var best *Entry
		for _, e := range ix.Entries {
			if e.Repo != repo || e.Scope != scope || e.Version != version || contains(skip, e.ID) || !ok(e) {
				continue
			}
			if best == nil || e.Created.After(best.Created) {
				best = e
			}
		}
		return best
	}
	for _, scope := range scopes {
		for i, k := range keys {
			if i == 0 {
				if e := newest(func(e *Entry) bool { return e.Key == k }, scope); e != nil {
					return e
				}
			}
			if e := newest(func(e *Entry) bool { return strings.HasPrefix(e.Key, k) }, scope); e != nil {
				return e
			}
		}
	}
	return nil
}

func contains(list []int64, id int64) bool {
	for _, v := range list {
		if v == id {
			return true
		}
	}
	return false
}

// drop removes an entry from the index and its file.
func (s *Store) drop(ix *index, id int64) {
	for i, e := range ix.Entries {
		if e.ID == id {
			ix.Entries = append(ix.Entries[:i], ix.Entries[i+1:]...)
			break
		}
	}
	_ = os.Remove(s.entryPath(id))
}

// Entries lists the entries of repo (all repositories when empty), newest first.
func (s *Store) Entries(repo string) ([]Entry, error) {
	var out []Entry
	err := s.withIndex(func(ix *index) (bool, error) {
		for _, e := range ix.Entries {
			if repo == "" || e.Repo == repo {
				out = append(out, *e)
			}
		}
		return false, nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// Reservation is a cache entry being uploaded by one client.
type Reservation struct {
	ID                        int64
	Repo, Scope, Key, Version string
	Upload                    *blob.Upload
	dir                       string
}

// ErrExists says the entry exists or is being saved by another job.
var ErrExists = errors.New("exists")

// ErrTooLarge says an entry would not fit in the store.
var ErrTooLarge = errors.New("too large")

func resKey(repo, scope, key, version string) string {
	return repo + "\x00" + scope + "\x00" + key + "\x00" + version
}

func newID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 12) // fits in a JS number
}

// Reserve starts saving key in scope; size is the announced size (0 when unknown).
func (s *Store) Reserve(repo, scope, key, version string, size int64) (*Reservation, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := validateVersion(version); err != nil {
		return nil, err
	}
	if size > s.max {
		return nil, fmt.Errorf("%w: the cache of %d bytes is larger than the store's limit of %d bytes (cache.max-bytes in .gantry.yml)", ErrTooLarge, size, s.max)
	}
	var exists bool
	err := s.withIndex(func(ix *index) (bool, error) {
		for _, e := range ix.Entries {
			if e.Repo == repo && e.Scope == scope && e.Key == key && e.Version == version {
				exists = true
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("%w: a cache with key %q and this version is already saved on %s; entries are immutable, use a new key", ErrExists, key, scope)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rk := resKey(repo, scope, key, version)
	if _, busy := s.pending[rk]; busy {
		return nil, fmt.Errorf("%w: another job is saving the cache with key %q right now", ErrExists, key)
	}
	id := newID()
	dir, err := os.MkdirTemp(filepath.Join(s.dir, "staging"), "up-")
	if err != nil {
		return nil, fmt.Errorf("cache staging: %w", err)
	}
	up, err := blob.NewUpload(dir, s.max)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	r := &Reservation{ID: id, Repo: repo, Scope: scope, Key: key, Version: version, Upload: up, dir: dir}
	s.pending[rk], s.byID[id] = r, r
	return r, nil
}

// Reserved finds a reservation by id, or by its key.
func (s *Store) Reserved(id int64) *Reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byID[id]
}

// ReservedKey finds the reservation of a key.
func (s *Store) ReservedKey(repo, scope, key, version string) *Reservation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending[resKey(repo, scope, key, version)]
}

// Abort drops a reservation and what it uploaded.
func (s *Store) Abort(r *Reservation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pending, resKey(r.Repo, r.Scope, r.Key, r.Version))
	delete(s.byID, r.ID)
	_ = os.RemoveAll(r.dir)
}

// Commit makes a reservation whose blob is complete an entry. size is
// what the client says it uploaded; a mismatch means a truncated upload
// and drops the reservation. Least recently used entries are evicted until
// the store fits its limit.
func (s *Store) Commit(r *Reservation, size int64) (*Entry, error) {
	n, sum, ok := r.Upload.Committed()
	if !ok {
		s.Abort(r)
		return nil, fmt.Errorf("the cache archive for key %q was never completely uploaded; nothing was saved", r.Key)
	}
	if size >= 0 && n != size {
		s.Abort(r)
		return nil, fmt.Errorf("the cache archive for key %q has %d bytes but the client says %d: the upload was truncated; nothing was saved", r.Key, n, size)
	}
	defer s.Abort(r)
	var entry *Entry
	err := s.withIndex(func(ix *index) (bool, error) {
		for _, e := range ix.Entries {
			if e.Repo == r.Repo && e.Scope == r.Scope && e.Key == r.Key && e.Version == r.Version {
				return false, fmt.Errorf("%w: another run saved the cache with key %q first", ErrExists, r.Key)
			}
		}
		if err := os.Rename(r.Upload.Path(), s.entryPath(r.ID)); err != nil {
			return false, fmt.Errorf("store cache entry: %w", err)
		}
		now := s.now()
		entry = &Entry{ID: r.ID, Repo: r.Repo, Scope: r.Scope, Key: r.Key, Version: r.Version, Size: n, SHA256: sum, Created: now, LastUsed: now}
		if st, err := os.Stat(s.entryPath(r.ID)); err == nil {
			entry.MTime = st.ModTime().UnixNano()
		}
		ix.Entries = append(ix.Entries, entry)
		s.evict(ix, entry.ID)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	e := *entry
	return &e, nil
}

// evict drops entries unused for a week, then the least recently used
// until the store fits; keep is the entry just saved.
func (s *Store) evict(ix *index, keep int64) {
	var total int64
	for _, e := range append([]*Entry(nil), ix.Entries...) {
		if e.ID != keep && s.now().Sub(e.LastUsed) > maxIdle {
			s.drop(ix, e.ID)
		}
	}
	for _, e := range ix.Entries {
		total += e.Size
	}
	lru := append([]*Entry(nil), ix.Entries...)
	sort.SliceStable(lru, func(i, j int) bool { return lru[i].LastUsed.Before(lru[j].LastUsed) })
	for _, e := range lru {
		if total <= s.max {
			break
		}
		if e.ID == keep {
			continue
		}
		total -= e.Size
		s.drop(ix, e.ID)
	}
}
