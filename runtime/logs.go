package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DefaultLogMaxSize caps a container's log file when Config.LogMaxSize is
// zero: the kubelet's default (containerLogMaxSize, 10 MiB). With the
// previous file kept as .log.prev a container holds at most twice that
// on disk, and a service printing as fast as it can cannot fill the disk.
const DefaultLogMaxSize = 10 << 20

// minLogMaxSize keeps a cap from being so small that every write rotates.
const minLogMaxSize = 4 << 10

// LogDrop says that output of a container was lost: its log file could
// not be written (disk full, I/O error), or its live stream
// (ContainerConfig.Output) did not keep up or failed.
type LogDrop struct {
	Path  string // the log file
	Bytes int    // bytes lost in the write that started the episode
	Live  bool   // lost on the live stream, not in the file
	Err   error
}

// ErrLiveBehind is LogDrop.Err when the live stream fell more than
// maxLiveQueued bytes behind (a stalled terminal) and output was skipped
// there; the log file still has it.
var ErrLiveBehind = errors.New("the live output stream is not keeping up")

// maxLiveQueued bounds what waits for a slow live stream, per container.
const maxLiveQueued = 1 << 20

// liveDrainTimeout bounds how long Close waits for the live stream to
// take what is queued: a stream that never returns must not hold up the
// container's teardown.
const liveDrainTimeout = 2 * time.Second

// logWriter appends a container's output to its log file and copies it
// to an optional live stream. When the file would grow past limit it is
// renamed to <path>.prev (replacing the older one) and a new file is
// started, so a container's logs never take more than twice limit.
//
// The live stream is written by a goroutine of its own from a buffer of
// at most maxLiveQueued bytes: a terminal that stalls never blocks the
// container or its log file; what does not fit is skipped there. The
// goroutine takes everything buffered in one write, so a busy container
// costs one wake-up per batch, not per line, and the buffers are reused.
// A live stream that fails is dropped.
//
// Lost output is reported to onDrop once per episode (the first loss
// after a good write), with mu held, from the copying goroutines: onDrop
// must not block.
//
// Ownership: path, limit, onDrop, wake and liveDone are set by openLog.
// mu guards the rest; stdout and stderr are copied by two goroutines
// (fifoCopy), the live stream by copyLive.
type logWriter struct {
	path     string
	limit    int64
	onDrop   func(LogDrop)
	wake     chan struct{} // nil without a live stream; one token: pending has data or closing
	liveDone chan struct{} // closed when the live goroutine has finished

	mu          sync.Mutex
	file        *os.File
	size        int64  // bytes in file
	failing     bool   // the last file write failed
	rotateErr   error  // why the first failed rotation failed, reported once
	pending     []byte // output not yet taken by copyLive
	writing     int    // bytes copyLive has taken and is writing out
	liveBehind  bool   // the last live chunk was skipped
	liveDead    bool   // the live stream failed: nothing more is sent
	liveClosing bool
}

// openLog opens the log at path for appending (0600, in 0700
// directories up to root) with the cap limit (0: DefaultLogMaxSize).
func openLog(root, path string, limit int64, out io.Writer, onDrop func(LogDrop)) (*logWriter, error) {
	if err := privateDir(root, filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := openPrivate(path, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	if limit <= 0 {
		limit = DefaultLogMaxSize
	}
	w := &logWriter{path: path, limit: max(limit, minLogMaxSize), file: f, onDrop: onDrop}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	if out != nil {
		w.wake = make(chan struct{}, 1)
		w.liveDone = make(chan struct{})
		go w.copyLive(out)
	}
	return w, nil
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.writeFile(p)
	}
	if w.wake != nil && !w.liveDead && !w.liveClosing {
		if w.writing+len(w.pending)+len(p) > maxLiveQueued {
			if !w.liveBehind {
				w.liveBehind = true
				w.drop(LogDrop{Path: w.path, Bytes: len(p), Live: true, Err: ErrLiveBehind})
			}
		} else {
			w.pending = append(w.pending, p...)
			w.liveBehind = false
			select {
			case w.wake <- struct{}{}:
			default: // copyLive is already due to run
			}
		}
	}
	return len(p), nil
}

// keepLiveBuf is the largest live buffer kept for reuse: a burst of
// output does not pin its memory for the container's life.
const keepLiveBuf = 64 << 10

// copyLive runs in its own goroutine per container with a live stream:
// it writes what Write buffered, in one write per wake-up, then flushes a
// held partial line (the CLI's prefixer) once Close has been called.
func (w *logWriter) copyLive(out io.Writer) {
	defer close(w.liveDone)
	var spare []byte
	for range w.wake {
		w.mu.Lock()
		p := w.pending
		w.pending = spare[:0]
		w.writing = len(p)
		dead, closing := w.liveDead, w.liveClosing
		w.mu.Unlock()
		if len(p) > 0 && !dead {
			if _, err := out.Write(p); err != nil {
				w.mu.Lock()
				w.liveDead = true
				w.drop(LogDrop{Path: w.path, Bytes: len(p), Live: true, Err: err})
				w.mu.Unlock()
			}
		}
		if cap(p) > keepLiveBuf {
			p = nil
		}
		spare = p
		w.mu.Lock()
		w.writing = 0
		dead = w.liveDead
		w.mu.Unlock()
		if closing {
			if f, ok := out.(interface{ Flush() }); ok && !dead {
				f.Flush()
			}
			return
		}
	}
}

// writeFile appends p, rotating first when p would take the file past
// its cap. Called with mu held.
func (w *logWriter) writeFile(p []byte) {
	if int64(len(p)) > w.limit {
		p = p[int64(len(p))-w.limit:] // one write bigger than the cap: keep its end
	}
	if w.size > 0 && w.size+int64(len(p)) > w.limit {
		w.rotate()
	}
	n, err := w.file.Write(p)
	w.size += int64(n)
	if err != nil {
		if !w.failing {
			w.failing = true
			w.drop(LogDrop{Path: w.path, Bytes: len(p) - n, Err: err})
		}
		return
	}
	w.failing = false
}

// rotate moves the file to .prev and starts a new one. When the rename
// or the new file fails, the current file is emptied instead: the cap
// holds either way.
func (w *logWriter) rotate() {
	err := os.Rename(w.path, w.path+".prev")
	if err == nil {
		var f *os.File
		if f, err = openPrivate(w.path, os.O_WRONLY|os.O_APPEND|os.O_TRUNC); err == nil {
			w.file.Close()
			w.file, w.size = f, 0
			return
		}
	}
	lost := w.size
	if terr := w.file.Truncate(0); terr != nil {
		err = errors.Join(err, terr)
		lost = 0
	} else {
		w.size = 0
	}
	if w.rotateErr == nil {
		w.rotateErr = err
		w.drop(LogDrop{Path: w.path, Bytes: int(lost), Err: fmt.Errorf("rotate: %w", err)})
	}
}

func (w *logWriter) drop(d LogDrop) {
	if w.onDrop != nil {
		w.onDrop(d)
	}
}

// Close closes the log file and ends the live stream once it has taken
// what is queued (waiting at most liveDrainTimeout for it). Idempotent.
func (w *logWriter) Close() error {
	w.mu.Lock()
	var err error
	if w.file != nil {
		err = w.file.Close()
		w.file = nil
	}
	closeLive := w.wake != nil && !w.liveClosing
	w.liveClosing = true
	w.mu.Unlock()
	if closeLive {
		// A token is left for copyLive whatever it is doing: a pending
		// one means it will look again and see liveClosing.
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	if w.liveDone != nil {
		t := time.NewTimer(liveDrainTimeout)
		defer t.Stop()
		select {
		case <-w.liveDone:
		case <-t.C:
		}
	}
	return err
}

// rotateLogs renames every <container>.log in dir to <container>.log.prev,
// replacing an older .prev. A missing dir is nothing to rotate.
func rotateLogs(dir string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range logs {
		os.Chmod(l, privateFileMode) // written by an older easlocal: 0640
		if err := os.Rename(l, l+".prev"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
