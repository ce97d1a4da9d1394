package workspace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ownerFile, in an overlay's scratch folder, names the process that
// mounted it, so that a later gantry can take down the mounts of one that
// was killed before its teardown ran (kill -9, the OOM killer).
const ownerFile = "owner"

// processID is this process as the owner file records it: its pid and
// start time, so a recycled pid is not mistaken for it.
func processID(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// Fields after the command (which may hold spaces) start at ") ".
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return strconv.Itoa(pid) + " " + f[19] // starttime, field 22 of stat
}

func writeOwner(scratch string) error {
	return os.WriteFile(filepath.Join(scratch, ownerFile), []byte(processID(os.Getpid())), 0o644)
}

// ownerGone reports whether the process that wrote the owner file is gone.
func ownerGone(scratch string) bool {
	data, err := os.ReadFile(filepath.Join(scratch, ownerFile))
	if err != nil {
		return false // not ours, or not written yet: leave it
	}
	pid, _, _ := strings.Cut(string(data), " ")
	n, err := strconv.Atoi(pid)
	if err != nil {
		return false
	}
	return processID(n) != string(data)
}

// SweepStale unmounts the overlay workspaces whose gantry died without
// tearing them down, and removes their layers. It returns what it took
// down; mounts of live processes are never touched.
func SweepStale() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var swept []string
	for _, line := range strings.Split(string(data), "\n") {
		// ... mountpoint ... - overlay overlay lowerdir=...,upperdir=U,workdir=W...
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "overlay ") {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		mountpoint := unescapeMountinfo(f[4])
		upper := ""
		for _, opt := range strings.Split(lastField(post), ",") {
			if v, ok := strings.CutPrefix(opt, "upperdir="); ok {
				upper = unescapeMountinfo(v)
			}
		}
		if upper == "" || filepath.Base(upper) != "upper" {
			continue
		}
		scratch := filepath.Dir(upper)
		if !ownerGone(scratch) {
			continue
		}
		if err := unix.Unmount(mountpoint, unix.MNT_DETACH); err != nil {
			return swept, fmt.Errorf("unmount stale workspace %s: %w", mountpoint, err)
		}
		_ = os.RemoveAll(scratch)
		swept = append(swept, mountpoint)
	}
	return swept, nil
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
