package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeFIFO is a pipe as the kernel's: a Read takes everything written
// since the last one (up to len(p)) and blocks while there is nothing.
// It counts the reads that returned data.
type fakeFIFO struct {
	mu    sync.Mutex
	buf   []byte
	eof   bool
	reads int
	ready chan struct{} // one token: buf has data or eof
}

func newFakeFIFO() *fakeFIFO { return &fakeFIFO{ready: make(chan struct{}, 1)} }

func (f *fakeFIFO) Write(p []byte) {
	f.mu.Lock()
	f.buf = append(f.buf, p...)
	f.mu.Unlock()
	f.signal()
}

func (f *fakeFIFO) Close() {
	f.mu.Lock()
	f.eof = true
	f.mu.Unlock()
	f.signal()
}

func (f *fakeFIFO) signal() {
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

func (f *fakeFIFO) Read(p []byte) (int, error) {
	for {
		f.mu.Lock()
		if len(f.buf) > 0 {
			n := copy(p, f.buf)
			f.buf = f.buf[n:]
			f.reads++
			f.mu.Unlock()
			return n, nil
		}
		if f.eof {
			f.mu.Unlock()
			return 0, io.EOF
		}
		f.mu.Unlock()
		<-f.ready
	}
}

// copyFIFO copies f into s in a goroutine as cio does (io.CopyBuffer
// with a 32 KiB buffer); the channel is closed when the copy has ended.
func copyFIFO(s io.Writer, f *fakeFIFO) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.CopyBuffer(s, f, make([]byte, 32<<10))
	}()
	return done
}

// syncBuffer is a live stream that keeps what it gets.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// A service printing a line every 100 µs costs one read (and one file
// write) per batchWait, not one per line, and nothing is lost or
// reordered in the file or on the live stream. The end of the output
// ends the copy soon: the last line waits at most batchWait to be read,
// the end at most batchWait more. Before, every line was a read of its
// own: 1000 reads here.
func TestLogStreamBatchesShortWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c0.log")
		live := &syncBuffer{}
		w, err := openLog(dir, path, 0, live, nil)
		if err != nil {
			t.Fatal(err)
		}
		fifo := newFakeFIFO()
		done := copyFIFO(w.stream(), fifo)
		var want bytes.Buffer
		const lines, every = 1000, 100 * time.Microsecond
		for i := range lines {
			line := fmt.Appendf(nil, "request %04d status=200\n", i)
			want.Write(line)
			fifo.Write(line)
			time.Sleep(every)
		}
		last := time.Now()
		fifo.Close()
		<-done
		if took := time.Since(last); took > 2*batchWait {
			t.Errorf("the copy ended %v after the last line, want at most %v", took, 2*batchWait)
		}
		w.Close()
		maxReads := int(lines*every/batchWait) + 2
		if fifo.reads > maxReads {
			t.Errorf("%d lines took %d reads, want at most %d (one per %v)", lines, fifo.reads, maxReads, batchWait)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, want.Bytes()) {
			t.Errorf("the log file has %d bytes, want the %d printed, in order", len(b), want.Len())
		}
		live.mu.Lock()
		defer live.mu.Unlock()
		if !bytes.Equal(live.b.Bytes(), want.Bytes()) {
			t.Errorf("the live stream got %d bytes, want the %d printed, in order", live.b.Len(), want.Len())
		}
	})
}

// A fast printer is not slowed: reads that fill the copy's buffer are
// followed by the next read at once, with no wait.
func TestLogStreamDoesNotWaitAfterLongWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c0.log")
		w, err := openLog(dir, path, 0, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		fifo := newFakeFIFO()
		fifo.Write(bytes.Repeat([]byte("a long line of a busy service\n"), 1<<15)) // 960 KiB
		fifo.Close()
		start := time.Now()
		<-copyFIFO(w.stream(), fifo)
		if took := time.Since(start); took != 0 {
			t.Errorf("copying full reads took %v, want no wait", took)
		}
		if fi, _ := os.Stat(path); fi.Size() != 30<<15 {
			t.Errorf("the log file has %d bytes, want %d", fi.Size(), 30<<15)
		}
	})
}

// Close ends a wait at once: a container's teardown is not held up by
// the batching.
func TestLogStreamCloseEndsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		w, err := openLog(dir, filepath.Join(dir, "c0.log"), 0, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		fifo := newFakeFIFO()
		done := copyFIFO(w.stream(), fifo)
		fifo.Write([]byte("one line\n"))
		synctest.Wait() // the copy is in its wait
		start := time.Now()
		w.Close()
		fifo.Close()
		<-done
		if took := time.Since(start); took != 0 {
			t.Errorf("the copy ended %v after Close, want at once", took)
		}
	})
}
