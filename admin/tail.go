package admin

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/containerd/errdefs"
)

// tailer copies a container's log file to w and, when following, keeps
// copying what is appended. It survives the two ways a log file changes
// under it: the container restarts and its log moves to a new path (resolve
// answers differently), or the file at the same path is replaced (rotated:
// another inode) or truncated. In each case the rest of the old file is
// copied before the new one is read from its start, so no line is lost.
//
// A tailer is used by one goroutine: the HTTP handler that runs it.
type tailer struct {
	resolve func() (string, error) // the log's current path
	w       io.Writer
	flush   func() // after each copy that wrote something
	follow  bool
	poll    time.Duration // how often to look for new data when following
	wait    func(ctx context.Context, d time.Duration) error

	path string   // path f was opened from
	f    *os.File // nil until the file exists
}

// run copies until the end of the file, or when following until ctx is
// done or the log's container no longer exists. It returns nil then.
func (t *tailer) run(ctx context.Context) error {
	defer func() {
		if t.f != nil {
			t.f.Close()
		}
	}()
	for {
		if err := t.step(); err != nil {
			if errdefs.IsNotFound(err) {
				return nil // instance scaled away: the stream ends
			}
			return err
		}
		if !t.follow {
			return nil
		}
		if err := t.wait(ctx, t.poll); err != nil {
			return nil
		}
	}
}

// step copies what is new and switches files when the log moved.
func (t *tailer) step() error {
	path, err := t.resolve()
	if err != nil {
		return err
	}
	if t.f != nil {
		// Drain the file we have: what was written before the switch.
		if err := t.copy(); err != nil {
			return err
		}
		if path == t.path && !t.replaced() {
			return nil
		}
		t.f.Close()
		t.f = nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not written yet: the container has not started
	}
	if err != nil {
		return err
	}
	t.f, t.path = f, path
	return t.copy()
}

// replaced reports whether the file at t.path is no longer the open one,
// or was truncated, in which case reading restarts at its beginning.
func (t *tailer) replaced() bool {
	st, err := os.Stat(t.path)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // removed: a new one will come
	}
	cur, err := t.f.Stat()
	if err != nil || !os.SameFile(st, cur) {
		return true
	}
	if off, err := t.f.Seek(0, io.SeekCurrent); err == nil && st.Size() < off {
		t.f.Seek(0, io.SeekStart) // truncated in place
	}
	return false
}

func (t *tailer) copy() error {
	n, err := io.Copy(t.w, t.f)
	if n > 0 && t.flush != nil {
		t.flush()
	}
	return err
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
