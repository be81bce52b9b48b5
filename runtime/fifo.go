package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
	"golang.org/x/sys/unix"
)

// A container's stdout and stderr reach easlocal through FIFOs that the
// shim writes. cio's own FIFOs would sit in Go's netpoller, where the
// kernel signals every write to a pipe (edge-triggered epoll included),
// so a service printing a line per request woke a thread of easlocal
// per line even while the copy was waiting to batch its reads. Here the
// read ends are nonblocking descriptors in an epoll set of their own,
// registered one-shot: a FIFO signals once, then nothing until its copy
// asks again (arm), which it does only when a read found the FIFO
// empty. One goroutine (one thread, blocked in epoll_wait) serves every
// FIFO of the process; each FIFO's copy is a goroutine that otherwise
// waits on a channel or a timer.
//
// When the shim opens and closes its ends (cmd/containerd-shim-runc-v2
// process/io.go, copyPipes): a task's in Create, before NewTask
// returns; an exec's in Start. It opens each FIFO once, a write end and
// a read end of its own, and closes both when its copy of the
// container's pipe ends (every process holding it has exited) or at
// Delete. A read end opened before any writer reads 0 bytes, as at the
// end, but epoll reports nothing on it until a writer has come (and
// EPOLLHUP only once one has come and gone): a copy reads only after a
// signal, so 0 bytes is always the end. Before the shim has opened the
// FIFOs, Cancel ends a copy at once (0 bytes: no writer).
//
// containerd calls Cancel before Wait when it deletes a task (before
// the Delete that makes the shim let go of its ends: a task that was
// created but never started keeps them until then) and after it deleted
// an exec. cio's Cancel closes its FIFOs, which throws away what is
// still in them; here Cancel makes each copy take what is there and
// what follows until the end, stopping once nothing came for drainIdle
// (the shim still holds its end: a task never started) or drainMax
// after Cancel (a writer that does not stop).

// After a read shorter than batchBelow from a container's FIFO, its copy
// waits before reading again (fifoCopy.run): batchWait after the first
// read, then as long as the stream is expected to take to fill
// batchTarget, from minBatchWait to maxBatchWait. Wake-ups are due on a
// batchWait grid, so the copies of many containers share them.
const (
	batchWait    = 5 * time.Millisecond
	minBatchWait = time.Millisecond
	maxBatchWait = 20 * time.Millisecond
	batchTarget  = 8 << 10
	batchBelow   = 16 << 10 // well under the FIFO's 64 KiB
)

// fifoSize is what the read end asks the kernel to hold (F_SETPIPE_SZ,
// at most /proc/sys/fs/pipe-max-size unless root): a burst that comes
// while the copy waits fills this before it blocks the container.
// Pages are taken only while they hold output, but the kernel counts
// a pipe's whole size against its owner, root: once root's pipes hold
// more than fs.pipe-user-pages-soft, every pipe made by a root process
// without CAP_SYS_RESOURCE (a container's, with the default
// capabilities) gets 2 pages. So the FIFOs grown beyond the kernel's
// default together take at most a quarter of that limit (fifoPoller.grow);
// the others keep the default, as cio's did.
const fifoSize = 1 << 20

// pipePagesSoft is where the kernel keeps the limit above.
const pipePagesSoft = "/proc/sys/fs/pipe-user-pages-soft"

// How long a copy goes on after Cancel (see above).
const (
	drainIdle = 100 * time.Millisecond
	drainMax  = 2 * time.Second
)

// copyBufSize is what one read takes at most, as cio's copies.
const copyBufSize = 32 << 10

// errAgain is fifoSource.read's "empty, and a writer is there".
var errAgain = errors.New("nothing to read yet")

// fifoSource is the read end of a FIFO, as fifoCopy uses it.
type fifoSource interface {
	// read takes what the FIFO holds without blocking: errAgain when it
	// is empty and a writer has it open, io.EOF when it is empty with no
	// writer.
	read(p []byte) (int, error)
	// arm asks for one token on the copy's ready channel once there is
	// something to read or the last writer has gone.
	arm() error
	close()
}

// fifoCopy copies one FIFO into dst in its own goroutine (run). Every
// field is set before run starts and only read after.
type fifoCopy struct {
	src    fifoSource
	ready  chan struct{} // one token per arm that found something
	cancel <-chan struct{}
	dst    io.Writer
	batch  bool // wait batchWait after a short read (a container's log)
}

// run copies until the end of the FIFO, or drains it once cancel is
// closed. A container printing a line per request costs a read and a
// write per wait (see batchWait), and no wake-up in between: a batch is
// read straight after the wait, the FIFO is armed only when a read found
// it empty. A read of batchBelow or more (a fast printer) is followed by
// the next at once, so throughput is not capped. While the copy waits,
// the FIFO (up to fifoSize, see grow) and the shim's pipe behind it
// hold what the container prints; a burst larger than that blocks the
// container's writes for at most maxBatchWait. Output reaches dst at most
// maxBatchWait late; the end of it at most 2×maxBatchWait, or at once
// when Cancel comes first.
func (c *fifoCopy) run() {
	defer c.src.close()
	buf := make([]byte, copyBufSize)
	var timer *time.Timer
	for {
		if err := c.src.arm(); err != nil {
			return
		}
		select {
		case <-c.ready:
		case <-c.cancel:
			c.drain(buf)
			return
		}
		wait, waited := batchWait, time.Duration(0)
		for {
			n, err := c.src.read(buf)
			if err != nil {
				if err == errAgain {
					break // empty: arm and wait
				}
				return // the end
			}
			c.dst.Write(buf[:n])
			if !c.batch || n >= batchBelow {
				waited = 0
				continue
			}
			if waited > 0 {
				wait = nextWait(waited, n)
			}
			start := time.Now()
			d := untilDue(start, wait)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-c.cancel:
				timer.Stop()
				c.drain(buf)
				return
			}
			waited = time.Since(start)
		}
	}
}

// nextWait is how long a stream that gave n bytes in waited takes to
// give batchTarget, within [minBatchWait, maxBatchWait].
func nextWait(waited time.Duration, n int) time.Duration {
	return min(max(waited*batchTarget/time.Duration(n), minBatchWait), maxBatchWait)
}

// untilDue is how long to wait from now for about wait: to the batchWait
// grid point before now+wait when there is one after now, so that
// copies' timers fall due together.
func untilDue(now time.Time, wait time.Duration) time.Duration {
	if due := now.Add(wait).Truncate(batchWait); due.After(now) {
		return due.Sub(now)
	}
	return wait
}

// drain copies what the FIFO holds after Cancel: until its end, until
// nothing came for drainIdle, or until drainMax has passed.
func (c *fifoCopy) drain(buf []byte) {
	deadline := time.Now().Add(drainMax)
	idle := time.NewTimer(drainIdle)
	defer idle.Stop()
	for time.Now().Before(deadline) {
		n, err := c.src.read(buf)
		if err == nil {
			c.dst.Write(buf[:n])
			continue
		}
		if err != errAgain || c.src.arm() != nil {
			return
		}
		idle.Reset(min(drainIdle, time.Until(deadline)))
		select {
		case <-c.ready:
		case <-idle.C:
			return
		}
	}
}

// outputIO is the cio.IO of a task's or an exec's stdout and stderr: a
// FIFO each, copied by a fifoCopy into the writers given.
type outputIO struct {
	fifos  *cio.FIFOSet
	cancel chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// newOutput returns a cio.Creator whose FIFOs are made in a new
// directory under dir and copied into stdout and stderr, in batches
// when batch is set (a container's log; not an exec's output, which is
// read once it has ended).
func newOutput(dir string, stdout, stderr io.Writer, batch bool) cio.Creator {
	return func(id string) (cio.IO, error) {
		p, err := thePoller()
		if err != nil {
			return nil, err
		}
		fifos, err := cio.NewFIFOSetInDir(dir, id, false)
		if err != nil {
			return nil, err
		}
		fifos.Stdin = "" // none: the shim gives the container /dev/null
		o := &outputIO{fifos: fifos, cancel: make(chan struct{})}
		var copies []*fifoCopy
		for _, s := range []struct {
			path string
			dst  io.Writer
		}{{fifos.Stdout, stdout}, {fifos.Stderr, stderr}} {
			src, ready, err := p.open(s.path)
			if err != nil {
				for _, c := range copies {
					c.src.close()
				}
				fifos.Close()
				return nil, err
			}
			copies = append(copies, &fifoCopy{src: src, ready: ready, cancel: o.cancel, dst: s.dst, batch: batch})
		}
		for _, c := range copies {
			o.wg.Go(c.run)
		}
		return o, nil
	}
}

func (o *outputIO) Config() cio.Config { return o.fifos.Config }

// Cancel makes the copies end once they have taken what the FIFOs hold
// (see drain).
func (o *outputIO) Cancel() { o.once.Do(func() { close(o.cancel) }) }

// Wait returns when both copies have ended.
func (o *outputIO) Wait() { o.wg.Wait() }

// Close cancels the copies and removes the FIFOs; a copy still running
// keeps its descriptor until it ends.
func (o *outputIO) Close() error {
	o.Cancel()
	return o.fifos.Close()
}

// fifoPoller is the epoll set of every FIFO the process reads.
type fifoPoller struct {
	ep int

	mu    sync.Mutex
	next  int32                   // the last id given
	ready map[int32]chan struct{} // by id (the event's data)
	spare int                     // pages the FIFOs may still grow by; <0: no limit
}

var poller struct {
	once sync.Once
	p    *fifoPoller
	err  error
}

// thePoller returns the process's poller, started on first use; its
// goroutine runs for the life of the process.
func thePoller() (*fifoPoller, error) {
	poller.once.Do(func() {
		ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			poller.err = fmt.Errorf("epoll for container output: %w", err)
			return
		}
		poller.p = &fifoPoller{ep: ep, ready: map[int32]chan struct{}{}, spare: growBudget()}
		go poller.p.run()
	})
	return poller.p, poller.err
}

func (p *fifoPoller) run() {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(p.ep, events, -1)
		if err != nil {
			continue // EINTR
		}
		p.mu.Lock()
		for _, ev := range events[:n] {
			if ch := p.ready[ev.Fd]; ch != nil {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
		}
		p.mu.Unlock()
	}
}

// open makes a FIFO at path (0600) and opens its read end, registered
// for its copy to arm.
func (p *fifoPoller) open(path string) (fifoSource, chan struct{}, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	ready := make(chan struct{}, 1)
	p.mu.Lock()
	p.next++
	e := &pollEnd{p: p, fd: fd, id: p.next, grown: p.grow(fd)}
	p.ready[e.id] = ready
	p.mu.Unlock()
	// Nothing asked for until arm (the kernel would still report
	// EPOLLHUP, which needs a writer that has come and gone).
	if err := unix.EpollCtl(p.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLONESHOT, Fd: e.id}); err != nil {
		e.close()
		return nil, nil, fmt.Errorf("poll %s: %w", path, err)
	}
	return e, ready, nil
}

// growBudget is how many pages the FIFOs may grow by together: a
// quarter of fs.pipe-user-pages-soft, or no limit (-1) without one.
func growBudget() int {
	b, err := os.ReadFile(pipePagesSoft)
	if err != nil {
		return 0 // unknown: keep the default size
	}
	soft, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || soft < 0 {
		return 0
	}
	if soft == 0 {
		return -1
	}
	return soft / 4
}

// grow asks the kernel for fifoSize on fd, or less when that would
// take more of p.spare than is left, and returns the pages it grew by.
// Called with p.mu held. Refused, the FIFO keeps the kernel's default.
func (p *fifoPoller) grow(fd int) int {
	def, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return 0
	}
	page := os.Getpagesize()
	size := fifoSize
	if p.spare >= 0 {
		// The kernel rounds a size up to a power of two pages.
		for size > def && (size-def)/page > p.spare {
			size /= 2
		}
	}
	if size <= def {
		return 0
	}
	got, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size)
	if err != nil || got <= def {
		return 0
	}
	grown := (got - def) / page
	if p.spare >= 0 {
		p.spare -= grown
	}
	return grown
}

// pollEnd is a FIFO's read end in a fifoPoller.
type pollEnd struct {
	p     *fifoPoller
	fd    int
	id    int32
	grown int // pages taken from p.spare
}

func (e *pollEnd) read(b []byte) (int, error) {
	for {
		n, err := unix.Read(e.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errAgain
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (e *pollEnd) arm() error {
	return unix.EpollCtl(e.p.ep, unix.EPOLL_CTL_MOD, e.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: e.id})
}

func (e *pollEnd) close() {
	unix.EpollCtl(e.p.ep, unix.EPOLL_CTL_DEL, e.fd, nil)
	e.p.mu.Lock()
	delete(e.p.ready, e.id)
	if e.p.spare >= 0 {
		e.p.spare += e.grown
	}
	e.p.mu.Unlock()
	unix.Close(e.fd)
}
