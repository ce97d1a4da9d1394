package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Overlay gives each job a copy-on-write view of the repository: an
// overlayfs mount whose lower layer is the repository and whose upper
// layer is the job's own. Making it costs one mount whatever the size of
// the repository; a job's writes land in its upper layer only, so neither
// the repository nor another job sees them. Where overlay mounts are not
// allowed (not root, no overlayfs, an upper dir on overlayfs itself) it
// falls back to Copy, once, and says so through Fallback.
type Overlay struct {
	Repo string
	// Fallback, when set, is told once why copies are used instead.
	Fallback func(reason string)

	once   sync.Once
	broken atomic.Bool // overlay mounts failed once: copy from then on
}

// Prepare mounts the overlay at dir, with its layers under scratch.
func (o *Overlay) Prepare(ctx context.Context, dir, scratch string) (string, func() error, error) {
	if !o.broken.Load() {
		path, release, err := o.mount(dir, scratch)
		if err == nil {
			return path, release, nil
		}
		o.once.Do(func() {
			o.broken.Store(true)
			if o.Fallback != nil {
				o.Fallback(fmt.Sprintf("copy-on-write workspaces are not available here (%v); each job gets a full copy of the repository instead", err))
			}
		})
	}
	return Copy{Repo: o.Repo}.Prepare(ctx, dir, scratch)
}

func (o *Overlay) mount(dir, scratch string) (string, func() error, error) {
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{dir, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
	}
	if _, err := os.Lstat(filepath.Join(o.Repo, ".gantry")); err == nil {
		// gantry's own folder (summaries, artifacts of earlier runs) is not
		// part of the checkout, as Copy skips it: an overlay whiteout hides it.
		if err := unix.Mknod(filepath.Join(upper, ".gantry"), unix.S_IFCHR, 0); err != nil {
			_ = os.RemoveAll(upper)
			_ = os.RemoveAll(work)
			return "", nil, fmt.Errorf("hide .gantry: %w", err)
		}
	}
	opts := "lowerdir=" + escape(o.Repo) + ",upperdir=" + escape(upper) + ",workdir=" + escape(work) + ",volatile"
	if err := unix.Mount("overlay", dir, "overlay", 0, opts); err != nil {
		_ = os.RemoveAll(upper)
		_ = os.RemoveAll(work)
		return "", nil, fmt.Errorf("mount overlay: %w", err)
	}
	release := func() error {
		// Detach, so a process still holding a file cannot keep the job's
		// layers alive and block the run's clean-up.
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount workspace %s: %w", dir, err)
		}
		// The layers stay in scratch, which its owner removes (the engine,
		// with the job's folder, off the job's critical path).
		return nil
	}
	return dir, release, nil
}

// escape protects the characters overlayfs options treat specially.
func escape(p string) string {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == ',' || p[i] == ':' || p[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, p[i])
	}
	return string(out)
}

// UnmountUnder detaches every mount at or below dir, deepest first: the
// overlays of a run that was killed before it could take them down, which
// would otherwise make its folder impossible to remove.
func UnmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil // not Linux, or no procfs: nothing gantry can have mounted
	}
	dir = filepath.Clean(dir)
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMount(f[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, k int) bool { return len(points[i]) > len(points[k]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
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
