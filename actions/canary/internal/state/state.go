// Package state keeps a rollout's progress on disk so that a later workflow
// run can resume, promote, abort or undo it, and so that a run killed in the
// middle leaves enough behind to pick up where it stopped.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Phases of a rollout.
const (
	Idle        = "idle"
	Progressing = "progressing"
	Paused      = "paused"
	Promoted    = "promoted"
	RolledBack  = "rolled-back"
	Aborted     = "aborted"
)

// Release is one deployed version in one router slot.
type Release struct {
	Version   string `json:"version,omitempty"`
	Slot      string `json:"slot,omitempty"`      // router server name
	Addr      string `json:"addr,omitempty"`      // host:port the slot points at
	Image     string `json:"image,omitempty"`     // set when the action started it
	Container string `json:"container,omitempty"` // container ID when the action started it
}

// Step is one analysed step of the rollout, for the summary and the chart.
type Step struct {
	Index        int           `json:"index"`
	Weight       int           `json:"weight"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Verdict      string        `json:"verdict"`
	Reason       string        `json:"reason,omitempty"`
	Measurements []Measurement `json:"measurements,omitempty"`
}

// Measurement is one check's value at one step.
type Measurement struct {
	Check     string  `json:"check"`
	Value     float64 `json:"value"`
	Threshold string  `json:"threshold,omitempty"`
	Pass      bool    `json:"pass"`
	NoData    bool    `json:"no-data,omitempty"`
	Error     string  `json:"error,omitempty"`
	Detail    string  `json:"detail,omitempty"`
}

// State is the saved rollout.
type State struct {
	Name       string    `json:"name"`
	Phase      string    `json:"phase"`
	Strategy   string    `json:"strategy,omitempty"`
	StableSlot string    `json:"stable-slot,omitempty"`
	Stable     Release   `json:"stable"`
	Canary     Release   `json:"canary"`
	Previous   *Release  `json:"previous,omitempty"` // the old stable, kept warm after a promotion
	WarmUntil  time.Time `json:"warm-until,omitempty"`
	Steps      []string  `json:"steps,omitempty"`
	NextStep   int       `json:"next-step"`
	Weight     int       `json:"weight"`
	Failures   int       `json:"failures"`
	Errors     int       `json:"errors"`
	History    []Step    `json:"history,omitempty"`
	Deployment int64     `json:"deployment-id,omitempty"`
	Annotation int64     `json:"annotation-id,omitempty"`
	Result     string    `json:"result,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Started    time.Time `json:"started,omitempty"`
	Updated    time.Time `json:"updated"`
}

// Active reports whether a rollout is under way (not finished either way).
func (s *State) Active() bool { return s.Phase == Progressing || s.Phase == Paused }

// Store keeps one rollout's state where every run that drives it can
// reach it, with a lock that dies with the run holding it and the requests
// other runs leave for that run.
type Store interface {
	// Load reads the state; nothing saved yet is an idle rollout.
	Load() (*State, error)
	Save(st *State) error
	// Lock takes the rollout's lock without waiting (ErrLocked when held).
	Lock() error
	// LockWait takes the lock, waiting up to timeout for its holder.
	LockWait(timeout time.Duration) error
	Unlock()
	// Request asks the run holding the lock to abort or promote.
	Request(kind, reason string) error
	Requested(kind string) (bool, string)
	ClearRequests()
	// Where names the store for logs (never with credentials).
	Where() string
}

// File is a state file plus its lock and request files beside it: enough
// when every run of the rollout sees the same disk (one self-hosted host).
type File struct {
	Path string
	lock *os.File
}

var _ Store = (*File)(nil)

// Where implements Store.
func (s *File) Where() string { return s.Path }

// Load reads the state; a missing file is an idle rollout.
func (s *File) Load() (*State, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{Phase: Idle}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read canary state: %w", err)
	}
	return decode(data, s.Path)
}

func decode(data []byte, where string) (*State, error) {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("canary state in %s is not valid JSON (%v): fix or remove it after checking the router by hand", where, err)
	}
	return &st, nil
}

func encode(st *State) ([]byte, error) {
	st.Updated = time.Now().UTC()
	return json.MarshalIndent(st, "", "  ")
}

// Save writes the state atomically, so a kill never leaves half a file.
func (s *File) Save(st *State) error {
	data, err := encode(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("save canary state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".canary-state-")
	if err != nil {
		return fmt.Errorf("save canary state: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("save canary state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save canary state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save canary state: %w", err)
	}
	return nil
}

// ErrLocked means another run drives this rollout right now.
var ErrLocked = errors.New("another run holds the rollout")

// Lock takes the rollout's lock without waiting. The kernel drops it when
// the process dies, so a killed run never blocks the next one.
func (s *File) Lock() error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("lock canary state: %w", err)
	}
	f, err := os.OpenFile(s.Path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("lock canary state: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return ErrLocked
		}
		return fmt.Errorf("lock canary state: %w", err)
	}
	s.lock = f
	return nil
}

// LockWait takes the lock, waiting up to timeout for a running run to end.
func (s *File) LockWait(timeout time.Duration) error { return lockWait(s, timeout) }

func lockWait(s Store, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := s.Lock()
		if !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Unlock releases the lock.
func (s *File) Unlock() {
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
		s.lock = nil
	}
}

// Requests a run of another workflow leaves for the run holding the lock.
const (
	RequestAbort   = "abort"
	RequestPromote = "promote"
)

func (s *File) requestPath(kind string) string { return s.Path + "." + kind }

// Request asks the running rollout to abort or promote.
func (s *File) Request(kind, reason string) error {
	if err := os.WriteFile(s.requestPath(kind), []byte(reason+"\n"), 0o644); err != nil {
		return fmt.Errorf("request %s: %w", kind, err)
	}
	return nil
}

// Requested reports a pending request and its reason.
func (s *File) Requested(kind string) (bool, string) {
	data, err := os.ReadFile(s.requestPath(kind))
	if err != nil {
		return false, ""
	}
	return true, string(trimNL(data))
}

// ClearRequests removes pending requests once acted on.
func (s *File) ClearRequests() {
	os.Remove(s.requestPath(RequestAbort))
	os.Remove(s.requestPath(RequestPromote))
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
