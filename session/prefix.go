package session

import (
	"bytes"
	"io"
	"sync"
)

// outMu serializes whole lines from every prefixWriter on one process, so
// the output of concurrent instances never interleaves mid-line.
var outMu sync.Mutex

// prefixWriter writes each line it is given to out with a prefix. A
// partial last line is held until its newline arrives.
type prefixWriter struct {
	out    io.Writer
	prefix []byte
	mu     sync.Mutex // guards buf
	buf    []byte
}

func newPrefixWriter(out io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{out: out, prefix: []byte(prefix)}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := w.buf[:i+1]
		outMu.Lock()
		_, err := w.out.Write(append(append([]byte(nil), w.prefix...), line...))
		outMu.Unlock()
		w.buf = w.buf[i+1:]
		if err != nil {
			// The terminal went away: drop what is held and say so, so the
			// runtime stops copying here; the log file still has it all.
			w.buf = w.buf[:0]
			return len(p), err
		}
	}
	// A line longer than 64 KiB is written out in pieces rather than held.
	if len(w.buf) > 64<<10 {
		outMu.Lock()
		w.out.Write(append(append([]byte(nil), w.prefix...), append(w.buf, '\n')...))
		outMu.Unlock()
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// Flush writes a held partial line (a last line without a newline, such
// as a crash message) with a newline added.
func (w *prefixWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return
	}
	outMu.Lock()
	w.out.Write(append(append(append([]byte(nil), w.prefix...), w.buf...), '\n'))
	outMu.Unlock()
	w.buf = w.buf[:0]
}
