package selfhosted

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gantry-ci/gantry/runner/forge"
)

// The runner's folder (--dir) holds its registration, its credentials and
// one file per job in flight. Every file is mode 0600: the credentials are
// a token, and the rest says where it is used.
const (
	configFile = "runner.json"
	credsFile  = "credentials.json"
	flightDir  = "inflight"
)

// Config is what `gantry runner register` keeps besides the credentials.
type Config struct {
	Forge     string   `json:"forge"`
	URL       string   `json:"url"`
	Name      string   `json:"name"`
	Labels    []string `json:"labels"` // as written: NAME:host, NAME:docker://IMAGE
	Ephemeral bool     `json:"ephemeral,omitempty"`
}

// Save writes the registration and credentials into dir.
func Save(dir string, cfg *Config, creds *forge.Credentials) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("runner dir %s: %w", dir, err)
	}
	if err := writeJSON(filepath.Join(dir, credsFile), toFile(creds)); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, configFile), cfg)
}

// ErrNotRegistered is returned by Load for a folder without a registration.
var ErrNotRegistered = errors.New("not registered")

// Load reads the registration and credentials from dir.
func Load(dir string) (*Config, *forge.Credentials, error) {
	var cfg Config
	if err := readJSON(filepath.Join(dir, configFile), &cfg); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: %w; run `gantry runner register --dir %s --url URL --token TOKEN` first", dir, ErrNotRegistered, dir)
		}
		return nil, nil, err
	}
	var cf credsOnDisk
	if err := readJSON(filepath.Join(dir, credsFile), &cf); err != nil {
		return nil, nil, err
	}
	creds := forge.Credentials{Forge: cf.Forge, Name: cf.Name, Data: cf.Raw}
	if len(cf.Data) > 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, cf.Data); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, credsFile), err)
		}
		creds.Data = b.Bytes()
	}
	if fi, err := os.Stat(filepath.Join(dir, credsFile)); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", filepath.Join(dir, credsFile), fi.Mode().Perm())
	}
	return &cfg, &creds, nil
}

// credsOnDisk keeps the protocol's data readable when it is JSON (it is
// for both forges), base64 otherwise.
type credsOnDisk struct {
	Forge string          `json:"forge"`
	Name  string          `json:"name"`
	Data  json.RawMessage `json:"data,omitempty"`
	Raw   []byte          `json:"data_base64,omitempty"`
}

func toFile(c *forge.Credentials) credsOnDisk {
	f := credsOnDisk{Forge: c.Forge, Name: c.Name}
	if json.Valid(c.Data) {
		f.Data = c.Data
	} else {
		f.Raw = c.Data
	}
	return f
}

// Forget removes the registration and credentials from dir (after remove).
func Forget(dir string) error {
	var errs []error
	for _, f := range []string{credsFile, configFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeJSON writes v atomically with mode 0600.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w (the file is damaged; register the runner again)", path, err)
	}
	return nil
}

// inflight keeps one file per job being run, written before the job starts
// and removed once the server knows how it ended, so that a runner that
// died can report those jobs failed when it starts again.
type inflight struct{ dir string }

func (f inflight) path(id string) string {
	return filepath.Join(f.dir, flightDir, safeID(id)+"-"+fmt.Sprintf("%x", fnv(id))+".json")
}

func (f inflight) add(o forge.Orphan) error {
	if err := os.MkdirAll(filepath.Join(f.dir, flightDir), 0o700); err != nil {
		return fmt.Errorf("in-flight dir: %w", err)
	}
	return writeJSON(f.path(o.ServerID), o)
}

func (f inflight) remove(id string) error {
	if err := os.Remove(f.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (f inflight) list() ([]forge.Orphan, error) {
	entries, err := os.ReadDir(filepath.Join(f.dir, flightDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []forge.Orphan
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var o forge.Orphan
		if err := readJSON(filepath.Join(f.dir, flightDir, e.Name()), &o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ServerID < out[j].ServerID })
	return out, nil
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
