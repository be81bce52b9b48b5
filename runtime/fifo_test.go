package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/internal/testutil"
)

// fakeFIFO is a FIFO's read end as a fifoCopy sees it, with the
// kernel's rules: a read takes what was written since the last one (up
// to len(p)) or says errAgain (a writer, nothing written) or io.EOF (no
// writer); arm gives one token once there is something to read or the
// writer has gone (EPOLLHUP: only once one came), one-shot as epoll's.
// It counts the reads that
// returned data and the tokens given (the copy's wake-ups).
type fakeFIFO struct {
	mu     sync.Mutex
	buf    []byte
	writer bool // a writer has it open
	came   bool // a writer has opened it
	armed  bool
	reads  int
	wakes  int
	most   int         // the largest read
	readAt []time.Time // when the reads were
	ready  chan struct{}
}

func newFakeFIFO() *fakeFIFO {
	return &fakeFIFO{writer: true, came: true, ready: make(chan struct{}, 1)}
}

// copyFake runs a fifoCopy of f into dst; the channel is closed when the
// copy has ended.
func copyFake(f *fakeFIFO, dst io.Writer, cancel <-chan struct{}) <-chan struct{} {
	c := &fifoCopy{src: f, ready: f.ready, cancel: cancel, dst: dst, batch: true}
	done := make(chan struct{})
	go func() { defer close(done); c.run() }()
	return done
}

func (f *fakeFIFO) Write(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, p...)
	f.signal()
}

// Close is the writer closing its end.
func (f *fakeFIFO) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writer = false
	f.signal()
}

// signal gives the token of an armed FIFO. Called with mu held.
func (f *fakeFIFO) signal() {
	if f.armed && (len(f.buf) > 0 || f.came && !f.writer) {
		f.armed = false
		f.wakes++
		f.ready <- struct{}{}
	}
}

func (f *fakeFIFO) read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.buf) > 0 {
		n := copy(p, f.buf)
		f.buf = f.buf[n:]
		f.reads++
		f.most = max(f.most, n)
		f.readAt = append(f.readAt, time.Now())
		return n, nil
	}
	if f.writer {
		return 0, errAgain
	}
	return 0, io.EOF
}

func (f *fakeFIFO) arm() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = true
	f.signal()
	return nil
}

func (f *fakeFIFO) close() {}

func (f *fakeFIFO) counts() (reads, wakes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.wakes
}

// testLog opens c0.log in a new directory with the default cap; it is
// closed when the test ends.
func testLog(t *testing.T, live io.Writer) (*logWriter, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c0.log")
	w, err := openLog(dir, path, 0, live, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

// A service printing a line every 100 µs costs one read (and one file
// write) per maxBatchWait once the copy has seen its pace, not one per
// line, and its lines wake the copy once, not per line: a line printed
// while the copy waits finds the FIFO disarmed. Nothing is lost or
// reordered in the file or on the live stream, and the end of the
// output ends the copy soon: the last line waits at most maxBatchWait
// to be read, the end at most maxBatchWait more.
func TestFIFOCopyBatchesShortWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := &testutil.SyncBuffer{}
		w, path := testLog(t, live)
		fifo := newFakeFIFO()
		done := copyFake(fifo, w, nil)
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
		if took := time.Since(last); took > 2*maxBatchWait {
			t.Errorf("the copy ended %v after the last line, want at most %v", took, 2*maxBatchWait)
		}
		w.Close()
		reads, wakes := fifo.counts()
		if maxReads := int(lines*every/maxBatchWait) + 3; reads > maxReads {
			t.Errorf("%d lines took %d reads, want at most %d (one per %v)", lines, reads, maxReads, maxBatchWait)
		}
		if wakes > 2 {
			t.Errorf("%d lines woke the copy %d times, want once (and once for the end)", lines, wakes)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, want.Bytes()) {
			t.Errorf("the log file has %d bytes, want the %d printed, in order", len(b), want.Len())
		}
		if got := live.String(); got != want.String() {
			t.Errorf("the live stream got %d bytes, want the %d printed, in order", len(got), want.Len())
		}
	})
}

// A faster printer (1 KiB a millisecond) is read more often, about
// batchTarget at a time: the FIFO stays far from full, so a burst on
// top of the stream has room while the copy waits.
func TestFIFOCopyWaitFollowsThePace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _ := testLog(t, nil)
		fifo := newFakeFIFO()
		done := copyFake(fifo, w, nil)
		line := append(bytes.Repeat([]byte("x"), 1023), '\n')
		const lines = 500
		for range lines {
			fifo.Write(line)
			time.Sleep(time.Millisecond)
		}
		fifo.Close()
		<-done
		reads, _ := fifo.counts()
		fifo.mu.Lock()
		defer fifo.mu.Unlock()
		if fifo.most > 2*batchTarget {
			t.Errorf("the largest read took %d bytes, want at most %d", fifo.most, 2*batchTarget)
		}
		if minReads := lines << 10 / (2 * batchTarget); reads < minReads {
			t.Errorf("%d KiB took %d reads, want at least %d", lines, reads, minReads)
		}
	})
}

// The copies of many busy containers wake together: their reads fall
// on the batchWait grid, so 20 streams cost a wake-up per grid point at
// most, not one each.
func TestFIFOCopiesShareWakeUps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const streams, span = 20, time.Second
		var fifos []*fakeFIFO
		var copies []<-chan struct{}
		for range streams {
			f := newFakeFIFO()
			fifos = append(fifos, f)
			copies = append(copies, copyFake(f, io.Discard, nil))
		}
		start := time.Now()
		var wg sync.WaitGroup
		for i, f := range fifos {
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 317 * time.Microsecond) // each its own phase
				for time.Since(start) < span {
					f.Write([]byte("a request log line\n"))
					time.Sleep(time.Millisecond)
				}
				f.Close()
			})
		}
		wg.Wait()
		for _, c := range copies {
			<-c
		}
		instants := map[time.Time]bool{}
		for _, f := range fifos {
			for _, at := range f.readAt[min(2, len(f.readAt)):] { // once each has seen its pace
				instants[at] = true
			}
		}
		if most := int(span/batchWait) + 2; len(instants) > most {
			t.Errorf("%d streams read at %d distinct instants in %v, want at most %d (the %v grid)", streams, len(instants), span, most, batchWait)
		}
	})
}

// Lines far apart (a quiet service) each wake the copy once: after a
// wait that found nothing the FIFO is armed again.
func TestFIFOCopyWakesForEachLineOfAQuietService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, path := testLog(t, nil)
		fifo := newFakeFIFO()
		done := copyFake(fifo, w, nil)
		for range 10 {
			fifo.Write([]byte("a line a second\n"))
			time.Sleep(time.Second)
		}
		fifo.Close()
		<-done
		if reads, wakes := fifo.counts(); reads != 10 || wakes != 11 {
			t.Errorf("10 lines a second apart: %d reads, %d wake-ups; want 10 and 11 (the end)", reads, wakes)
		}
		if b, _ := os.ReadFile(path); len(b) != 160 {
			t.Errorf("the log file has %d bytes, want 160", len(b))
		}
	})
}

// A fast printer is not slowed: reads that fill the copy's buffer are
// followed by the next read at once, with no wait.
func TestFIFOCopyDoesNotWaitAfterLongReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, path := testLog(t, nil)
		fifo := newFakeFIFO()
		fifo.Write(bytes.Repeat([]byte("a long line of a busy service\n"), 1<<15)) // 960 KiB
		fifo.Close()
		start := time.Now()
		<-copyFake(fifo, w, nil)
		if took := time.Since(start); took != 0 {
			t.Errorf("copying full reads took %v, want no wait", took)
		}
		if fi, _ := os.Stat(path); fi.Size() != 30<<15 {
			t.Errorf("the log file has %d bytes, want %d", fi.Size(), 30<<15)
		}
	})
}

// Cancel (containerd's, when it deletes the task) ends the batching's
// wait at once and the copy still takes what the FIFO holds: the last
// lines of a container that exited are not lost. The copy ends at once
// when the writer has gone, after drainIdle when it keeps its end open
// without writing (a task created, never started), and by drainMax
// when it keeps writing.
func TestFIFOCopyCancelTakesWhatIsLeft(t *testing.T) {
	for _, tc := range []struct {
		name string
		// after Cancel, until stop is closed
		writer func(f *fakeFIFO, stop <-chan struct{})
		took   time.Duration
	}{
		{"writer gone", func(f *fakeFIFO, _ <-chan struct{}) { f.Close() }, 0},
		{"writer silent", func(*fakeFIFO, <-chan struct{}) {}, drainIdle},
		{"writer goes on", func(f *fakeFIFO, stop <-chan struct{}) {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
					f.Write([]byte("more\n"))
				}
			}
		}, drainMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, path := testLog(t, nil)
				fifo := newFakeFIFO()
				cancel := make(chan struct{})
				done := copyFake(fifo, w, cancel)
				fifo.Write([]byte("one line\n"))
				synctest.Wait() // the copy is in its wait
				fifo.Write([]byte("the last line\n"))
				start := time.Now()
				close(cancel)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() { tc.writer(fifo, stop) })
				<-done
				took := time.Since(start)
				close(stop)
				wg.Wait()
				if took != tc.took {
					t.Errorf("the copy ended %v after Cancel, want %v", took, tc.took)
				}
				if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte("one line\nthe last line\n")) {
					t.Errorf("the log has %q, want both lines", b)
				}
			})
		})
	}
}

// Before the shim has opened the FIFO (it never will: the task failed)
// the copy reads nothing, and Cancel ends it at once.
func TestFIFOCopyCancelBeforeAWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fifo := &fakeFIFO{ready: make(chan struct{}, 1)} // no writer yet: reads say io.EOF
		cancel := make(chan struct{})
		var out bytes.Buffer
		done := copyFake(fifo, &out, cancel)
		time.Sleep(time.Minute)
		select {
		case <-done:
			t.Fatal("the copy ended before a writer came")
		default:
		}
		start := time.Now()
		close(cancel)
		<-done
		if took := time.Since(start); took != 0 {
			t.Errorf("the copy ended %v after Cancel, want at once", took)
		}
	})
}

// shimEnd opens a FIFO's write end as the shim does (after easlocal's
// read end exists, so it does not block).
func shimEnd(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// waitIO fails the test when io's copies do not end within a minute
// (a hang, not a measurement).
func waitIO(t *testing.T, o cio.IO) {
	t.Helper()
	done := make(chan struct{})
	go func() { o.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the copies of the output did not end")
	}
}

// The real FIFOs: private, carrying what the shim writes on stdout and
// stderr to the log, the copies ending when the shim closes its ends
// (the container exited), the directory gone at Close.
func TestOutputIOCopiesTheShimsOutput(t *testing.T) {
	w, path := testLog(t, nil)
	o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, true)("ctr")
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.Config()
	if cfg.Stdin != "" || cfg.Terminal {
		t.Errorf("config %+v, want no stdin and no terminal", cfg)
	}
	for _, p := range []string{cfg.Stdout, cfg.Stderr} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != os.ModeNamedPipe|0o600 {
			t.Errorf("%s: %v %v, want a FIFO 0600", p, fi.Mode(), err)
		}
	}
	stdout, stderr := shimEnd(t, cfg.Stdout), shimEnd(t, cfg.Stderr)
	if n, err := unix.FcntlInt(stdout.Fd(), unix.F_GETPIPE_SZ, 0); err != nil || n != fifoSize {
		t.Errorf("the FIFO holds %d bytes (%v), want %d", n, err, fifoSize)
	}
	stdout.WriteString("on stdout\n")
	stderr.WriteString("on stderr\n")
	stdout.Close()
	stderr.Close()
	waitIO(t, o)
	if b, _ := os.ReadFile(path); len(b) != 20 || !bytes.Contains(b, []byte("on stdout\n")) || !bytes.Contains(b, []byte("on stderr\n")) {
		t.Errorf("the log has %q, want both lines", b)
	}
	if err := o.Close(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Dir(cfg.Stdout)); !os.IsNotExist(err) {
		t.Errorf("the FIFOs' directory is still there after Close: %v", err)
	}
}

// What the shim wrote before containerd's Cancel (task deletion, or an
// exec's after DeleteProcess) is in the log even though the copy was
// waiting to batch when it came: cio's Cancel closed the FIFOs and
// threw it away.
func TestOutputIOKeepsOutputAtCancel(t *testing.T) {
	for _, batch := range []bool{true, false} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			w, path := testLog(t, nil)
			o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, batch)("ctr")
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			cfg := o.Config()
			stdout, stderr := shimEnd(t, cfg.Stdout), shimEnd(t, cfg.Stderr)
			stdout.WriteString("first\n")
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
				if b, _ := os.ReadFile(path); len(b) > 0 || time.Now().After(deadline) {
					break // the copy has read it and, batching, waits
				}
			}
			stdout.WriteString("last\n")
			stdout.Close()
			stderr.Close()
			o.Cancel()
			waitIO(t, o)
			if b, _ := os.ReadFile(path); string(b) != "first\nlast\n" {
				t.Errorf("the log has %q, want %q", b, "first\nlast\n")
			}
		})
	}
}

// A task that never started (the shim never opened the FIFOs): Cancel
// ends the copies, as containerd calls it before Close.
func TestOutputIOCancelWithoutShim(t *testing.T) {
	w, path := testLog(t, nil)
	o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, true)("ctr")
	if err != nil {
		t.Fatal(err)
	}
	o.Cancel()
	waitIO(t, o)
	if err := o.Close(); err != nil {
		t.Error(err)
	}
}

// The poller's descriptors go with the copies: no FIFO stays open or
// registered once a copy has ended.
func TestOutputIOReleasesItsDescriptors(t *testing.T) {
	p, err := thePoller()
	if err != nil {
		t.Fatal(err)
	}
	fds := func() int { e, _ := os.ReadDir("/proc/self/fd"); return len(e) }
	registered := func() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.ready) }
	w, path := testLog(t, nil)
	fd0, reg0 := fds(), registered()
	for i := range 20 {
		o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, true)(fmt.Sprint("ctr", i))
		if err != nil {
			t.Fatal(err)
		}
		cfg := o.Config()
		f := shimEnd(t, cfg.Stdout)
		f.WriteString("x\n")
		f.Close()
		if i%2 == 0 {
			shimEnd(t, cfg.Stderr).Close()
		}
		o.Cancel()
		waitIO(t, o)
		o.Close()
	}
	if fd, reg := fds(), registered(); fd != fd0 || reg != reg0 {
		t.Errorf("after 20 outputs: %d descriptors and %d registrations, before %d and %d", fd, reg, fd0, reg0)
	}
}

// The FIFOs' pipes are charged to root (easlocal's uid), and the kernel
// gives a root process without CAP_SYS_RESOURCE and CAP_SYS_ADMIN (a
// container's, with the default capabilities) pipes of 2 pages once
// root's pipes hold more than fs.pipe-user-pages-soft: easlocal's FIFOs
// of 64 instances, with an exec each, must not take root's share.
func TestOutputFIFOsLeaveRootsPipesTheirSize(t *testing.T) {
	soft, err := os.ReadFile("/proc/sys/fs/pipe-user-pages-soft")
	if os.Geteuid() != 0 || err != nil || string(bytes.TrimSpace(soft)) == "0" {
		t.Skip("needs root and a soft limit on pipe pages")
	}
	w, path := testLog(t, nil)
	for i := range 64 * 3 {
		o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, true)(fmt.Sprint("ctr", i))
		if err != nil {
			t.Fatal(err)
		}
		defer waitIO(t, o)
		defer o.Close()
	}
	want := 16 * os.Getpagesize() // the kernel's default
	if got := unprivilegedPipeSize(t); got != want {
		t.Errorf("a pipe of a root process without CAP_SYS_RESOURCE holds %d bytes beside easlocal's FIFOs, want %d", got, want)
	}
}

// unprivilegedPipeSize makes a pipe on a thread of its own that has
// dropped CAP_SYS_ADMIN and CAP_SYS_RESOURCE from its effective set, as
// a container's root process, and returns what it holds. The thread is
// not given back to the Go scheduler: it ends with the goroutine.
func unprivilegedPipeSize(t *testing.T) int {
	t.Helper()
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread goes
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			ch <- result{err: err}
			return
		}
		data[0].Effective &^= 1<<unix.CAP_SYS_ADMIN | 1<<unix.CAP_SYS_RESOURCE
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			ch <- result{err: err}
			return
		}
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			ch <- result{err: err}
			return
		}
		n, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETPIPE_SZ, 0)
		unix.Close(p[0])
		unix.Close(p[1])
		ch <- result{n, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.n
}

// What a FIFO grew by is given back when its copy ends, for the next
// containers' FIFOs.
func TestOutputFIFOsGiveBackTheirGrowth(t *testing.T) {
	p, err := thePoller()
	if err != nil {
		t.Fatal(err)
	}
	spare := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.spare }
	w, path := testLog(t, nil)
	before := spare()
	o, err := newOutput(filepath.Join(filepath.Dir(path), "fifo"), w, w, true)("ctr")
	if err != nil {
		t.Fatal(err)
	}
	if before >= 0 && spare() >= before {
		t.Errorf("the FIFOs took nothing of %d spare pages", before)
	}
	o.Cancel()
	waitIO(t, o)
	o.Close()
	if got := spare(); got != before {
		t.Errorf("%d spare pages after the copies ended, %d before", got, before)
	}
}
