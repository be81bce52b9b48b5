package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// logWriter appends a container's output to its log file and copies it
// to an optional live stream. stdout and stderr are copied by two
// goroutines, hence the mutex. A failing live stream is dropped; the file
// always gets everything.
type logWriter struct {
	mu   sync.Mutex
	file *os.File
	out  io.Writer
}

func openLog(path string, out io.Writer) (*logWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return &logWriter{file: f, out: out}, nil
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file != nil {
		w.file.Write(p)
	}
	if w.out != nil {
		if _, err := w.out.Write(p); err != nil {
			w.out = nil
		}
	}
	return len(p), nil
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
		if err := os.Rename(l, l+".prev"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
