package services_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gantry-ci/gantry/runner/services"
)

// files lists every file under dir, relative.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			out = append(out, r)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func randomFile(t *testing.T, f *fixture, rel string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	f.write(rel, string(b))
}

func TestCacheBadKeys(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logged []string
	f := start(t, services.Config{Log: func(m string) { mu.Lock(); logged = append(logged, m); mu.Unlock() }})
	f.write("d/x", "x")
	for _, key := range []string{"../../escape", "/etc/passwd", `C:\evil`, "a/../../b"} {
		// v1 passes the service's reason to the step; v2's client replaces
		// it with its own "Unable to reserve cache" message.
		if res, _, out := f.node(map[string]string{"ACTIONS_CACHE_SERVICE_V2": "-"}, "save", jsonList("d"), key); res != "-1" || !strings.Contains(out, "cache key") || !strings.Contains(out, "Failed to save") {
			t.Errorf("legacy save with key %q: %q\n%s", key, res, out)
		}
		if res, _, out := f.node(nil, "save", jsonList("d"), key); res != "-1" {
			t.Errorf("v2 save with key %q: %q\n%s", key, res, out)
		}
		mu.Lock()
		if len(logged) == 0 || !strings.Contains(logged[len(logged)-1], fmt.Sprintf("%q", key)) {
			t.Errorf("gantry did not say why key %q was refused: %q", key, logged)
		}
		mu.Unlock()
		if res, _, out := f.node(nil, "restore", jsonList("d"), key); res != "null" || !strings.Contains(out, "cache key") || !strings.Contains(out, "(400)") {
			t.Errorf("restore with key %q: %q\n%s", key, res, out)
		}
	}
	for _, got := range files(t, f.cacheDir) {
		if got != "lock" {
			t.Fatalf("the store holds %s after refused keys", got)
		}
	}
}

func TestCacheOversizedUploadAndEviction(t *testing.T) {
	t.Parallel()
	f := start(t, services.Config{CacheMaxBytes: 6000})
	randomFile(t, f, "big/x", 20000)
	for _, env := range []map[string]string{nil, {"ACTIONS_CACHE_SERVICE_V2": "-"}} {
		if res, _, out := f.node(env, "save", jsonList("big"), "too-big"); res != "-1" || !strings.Contains(out, "Failed to save") {
			t.Fatalf("oversized save: %q\n%s", res, out)
		}
	}
	if got := files(t, f.cacheDir); strings.Contains(strings.Join(got, " "), "entries/") || strings.Contains(strings.Join(got, " "), "staging/up") {
		t.Fatalf("an oversized upload left %v", got)
	}
	// Three ~2.5 kB entries in a 6000-byte store: the least recently used goes.
	for _, k := range []string{"k1", "k2"} {
		randomFile(t, f, "s/x", 2500)
		if res, _, out := f.node(nil, "save", jsonList("s"), k); res == "-1" {
			t.Fatalf("save %s: %s", k, out)
		}
	}
	if res, _, _ := f.node(nil, "restore", jsonList("s"), "k1"); res != `"k1"` { // k1 is now the most recently used
		t.Fatalf("restore k1: %q", res)
	}
	randomFile(t, f, "s/x", 2500)
	if res, _, out := f.node(nil, "save", jsonList("s"), "k3"); res == "-1" {
		t.Fatalf("save k3: %s", out)
	}
	entries, _ := f.svc.Cache.Entries("")
	var keys []string
	var total int64
	for _, e := range entries {
		keys = append(keys, e.Key)
		total += e.Size
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "k1,k3" || total > 6000 {
		t.Fatalf("after eviction: %v (%d bytes), want k1,k3 within 6000", keys, total)
	}
}

func TestCacheCorruptedEntryIsNotServed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logged []string
	f := start(t, services.Config{Log: func(m string) { mu.Lock(); logged = append(logged, m); mu.Unlock() }})
	f.write("d/x", "good")
	if res, _, out := f.node(nil, "save", jsonList("d"), "k-old"); res == "-1" {
		t.Fatal(out)
	}
	f.write("d/x", "newer")
	if res, _, out := f.node(nil, "save", jsonList("d"), "k-new"); res == "-1" {
		t.Fatal(out)
	}
	entries, _ := f.svc.Cache.Entries("")
	newest := entries[0]
	if newest.Key != "k-new" {
		t.Fatalf("entries %v", entries)
	}
	p := f.svc.Cache.Path(&newest)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o600)
	// The corrupted newest entry is dropped; the older one is served instead.
	if res, _, out := f.node(nil, "restore", jsonList("d"), "k-", jsonList()); res != `"k-old"` || f.read("d/x") != "good" {
		t.Fatalf("restore with a corrupted newest entry: %q %q\n%s", res, f.read("d/x"), out)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("the corrupted entry is still on disk")
	}

	// Corrupted behind the lookup's back (same size and time): the
	// download is cut short, the step is warned, the entry goes.
	entries, _ = f.svc.Cache.Entries("")
	old := entries[0]
	p = f.svc.Cache.Path(&old)
	st, _ := os.Stat(p)
	b, _ = os.ReadFile(p)
	b[len(b)/2] ^= 0xff
	os.WriteFile(p, b, 0o600)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	os.RemoveAll(filepath.Join(f.ws, "d"))
	if res, _, out := f.node(nil, "restore", jsonList("d"), "k-old"); res != "null" || !strings.Contains(out, "Failed to restore") || f.read("d/x") == "good" {
		t.Fatalf("restore of a silently corrupted entry: %q\n%s", res, out)
	}
	if e, _ := f.svc.Cache.Entries(""); len(e) != 0 {
		t.Fatalf("the corrupted entry is still listed: %v", e)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 2 || !strings.Contains(logged[0], `cache entry "k-new"`) || !strings.Contains(logged[1], `cache entry "k-old"`) || !strings.Contains(logged[1], "corrupted") {
		t.Fatalf("logged %q", logged)
	}
}

func TestArtifactBadInput(t *testing.T) {
	t.Parallel()
	f := start(t, services.Config{ArtifactMaxBytes: 4000})
	f.write("out/a.txt", "hello")
	a := jsonList(filepath.Join(f.ws, "out/a.txt"))
	root := filepath.Join(f.ws, "out")
	if _, e, out := f.node(nil, "upload", "..", a, root); !strings.Contains(e, `artifact name ".."`) {
		t.Fatalf("name ..: %q\n%s", e, out)
	}
	randomFile(t, f, "out/big.bin", 50000)
	if _, e, out := f.node(nil, "upload", "big", jsonList(filepath.Join(f.ws, "out/big.bin")), root); e == "" || !strings.Contains(out, "larger than") {
		t.Fatalf("oversized artifact: %q\n%s", e, out)
	}
	if res, _, _ := f.node(nil, "list"); res != `{"artifacts":[]}` {
		t.Fatalf("after refused uploads the run lists %s", res)
	}
	if got := files(t, filepath.Dir(f.artDir)); len(got) != 0 {
		t.Fatalf("refused uploads left %v", got)
	}
	// A corrupted artifact is refused with a clear error, not served.
	if _, e, out := f.node(nil, "upload", "good", a, root); e != "" {
		t.Fatal(out)
	}
	p := filepath.Join(f.artDir, "good.zip")
	b, _ := os.ReadFile(p)
	b[10] ^= 0xff
	os.WriteFile(p, b, 0o644)
	if _, e, out := f.node(nil, "download", "1", filepath.Join(f.ws, "dl")); !strings.Contains(e, "corrupted") {
		t.Fatalf("download of a corrupted artifact: %q\n%s", e, out)
	}
	if _, err := os.Stat(filepath.Join(f.ws, "dl", "a.txt")); !os.IsNotExist(err) {
		t.Fatal("a corrupted artifact was extracted")
	}
}
