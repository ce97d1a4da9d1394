package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	// Log, when set, hears about stale workspaces taken down.
	Log func(msg string)

	once   sync.Once
	sweep  sync.Once
	broken atomic.Bool // overlay mounts failed once: copy from then on
}

// Prepare mounts the overlay at dir, with its layers under scratch.
func (o *Overlay) Prepare(ctx context.Context, dir, scratch string) (string, func() error, error) {
	o.sweep.Do(func() {
		swept, err := SweepStale()
		if o.Log == nil {
			return
		}
		if len(swept) > 0 {
			o.Log(fmt.Sprintf("took down %d workspace(s) left mounted by a gantry that was killed: %s", len(swept), strings.Join(swept, ", ")))
		}
		if err != nil {
			o.Log(err.Error())
		}
	})
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
	if err := writeOwner(scratch); err != nil {
		return "", nil, err
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
		return os.RemoveAll(scratch)
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
