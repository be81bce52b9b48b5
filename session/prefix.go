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
// partial last line is held until its newline arrives. The whole lines of
// one Write go out in one write to out, built in a buffer that is reused.
type prefixWriter struct {
	out    io.Writer
	prefix []byte
	mu     sync.Mutex // guards buf and line
	buf    []byte     // a partial line
	line   []byte     // prefixed output being built
}

func newPrefixWriter(out io.Writer, prefix string) *prefixWriter {
	return &prefixWriter{out: out, prefix: []byte(prefix)}
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	b := w.line[:0]
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		b = append(b, w.prefix...)
		b = append(append(b, w.buf...), p[:i+1]...)
		w.buf, p = w.buf[:0], p[i+1:]
	}
	w.buf = append(w.buf, p...)
	// A line longer than 64 KiB is written out in pieces rather than held.
	if len(w.buf) > 64<<10 {
		b = append(append(append(b, w.prefix...), w.buf...), '\n')
		w.buf = w.buf[:0]
	}
	var err error
	if len(b) > 0 {
		outMu.Lock()
		_, err = w.out.Write(b)
		outMu.Unlock()
	}
	if cap(b) <= 64<<10 {
		w.line = b[:0]
	} else {
		w.line = nil // a burst does not pin its memory
	}
	if err != nil {
		// The terminal went away: drop what is held and say so, so the
		// runtime stops copying here; the log file still has it all.
		w.buf = w.buf[:0]
		return n, err
	}
	return n, nil
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
