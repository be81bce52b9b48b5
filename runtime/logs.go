package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// DefaultLogMaxSize caps a container's log file when Config.LogMaxSize is
// zero: the kubelet's default (containerLogMaxSize, 10 MiB). With the
// previous file kept as .log.prev a container holds at most twice that
// on disk, and a service printing as fast as it can cannot fill the disk.
const DefaultLogMaxSize = 10 << 20

// minLogMaxSize keeps a cap from being so small that every write rotates.
const minLogMaxSize = 4 << 10

// LogDrop says that output of a container was lost: its log file could
// not be written (disk full, I/O error) or its live stream
// (ContainerConfig.Output) failed and was dropped.
type LogDrop struct {
	Path  string // the log file
	Bytes int    // bytes lost in the write that failed
	Live  bool   // the live stream failed, not the file
	Err   error
}

// logWriter appends a container's output to its log file and copies it
// to an optional live stream. When the file would grow past max it is
// renamed to <path>.prev (replacing the older one) and a new file is
// started, so a container's logs never take more than twice max. stdout
// and stderr are copied by two goroutines, hence the mutex. A failing
// live stream is dropped. Lost output is reported to onDrop once per
// episode (the first failed write after a good one), from the copying
// goroutine: onDrop must not block.
type logWriter struct {
	path   string
	max    int64
	onDrop func(LogDrop)

	mu       sync.Mutex
	file     *os.File
	size     int64 // bytes in file
	out      io.Writer
	failing  bool  // the last file write failed
	rotateEr error // why the first failed rotation failed, reported once
}

// openLog opens the log at path for appending (0600, in 0700
// directories up to root) with the cap max (0: DefaultLogMaxSize).
func openLog(root, path string, max int64, out io.Writer, onDrop func(LogDrop)) (*logWriter, error) {
	if err := privateDir(root, filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := openPrivate(path, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	if max <= 0 {
		max = DefaultLogMaxSize
	}
	max = maxInt64(max, minLogMaxSize)
	w := &logWriter{path: path, max: max, file: f, out: out, onDrop: onDrop}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	return w, nil
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.writeFile(p)
	}
	if w.out != nil {
		if _, err := w.out.Write(p); err != nil {
			w.out = nil
			w.drop(LogDrop{Path: w.path, Bytes: len(p), Live: true, Err: err})
		}
	}
	return len(p), nil
}

// writeFile appends p, rotating first when p would take the file past
// its cap. Called with mu held.
func (w *logWriter) writeFile(p []byte) {
	if int64(len(p)) > w.max {
		p = p[int64(len(p))-w.max:] // one write bigger than the cap: keep its end
	}
	if w.size > 0 && w.size+int64(len(p)) > w.max {
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
	if terr := w.file.Truncate(0); terr != nil {
		err = errors.Join(err, terr)
	} else {
		w.size = 0
	}
	if w.rotateEr == nil {
		w.rotateEr = err
		w.drop(LogDrop{Path: w.path, Bytes: int(w.size), Err: fmt.Errorf("rotate: %w", err)})
	}
}

func (w *logWriter) drop(d LogDrop) {
	if w.onDrop != nil {
		w.onDrop(d)
	}
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A writer that holds partial lines (the CLI's prefixer) gets to
	// write the last one out.
	if f, ok := w.out.(interface{ Flush() }); ok {
		f.Flush()
	}
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
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
