//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/endpoints"
)

// Each loop is one goroutine, blocked in epoll_wait
// on its own edge-triggered epoll set; it owns every connection in it,
// the client connections the Server gave it and its own keep-alive
// connections to the instances, and all their fields. Other goroutines
// reach a loop only through its command queue (mu) and its eventfd.
//
// A client connection goes through: reading a head; the exchange (the
// request written to an instance, its body of at most inlineBody streamed
// as it arrives, the answer's head awaited); the answer (relayed as it
// arrives, with back-pressure); then the next head (after dropping what
// is left of a body the instance did not wait for). Timers (head, idle, body, keepalive, dial, send) are one
// deadline per client connection in a heap.

const (
	// loopOutMax: an answer is read from the instance only while less
	// than this waits to be written to the client.
	loopOutMax = 64 << 10
	// loopSendSpan: the send timeout is for each this many bytes, as the
	// relay's writes of its 32 KiB buffer are (doc.go, Send timeout).
	loopSendSpan = 32 << 10
	loopUpBuf    = 16 << 10
)

type loops struct {
	srv    *Server
	gw     *Gateway
	served func(int, time.Duration) // nil = not counted
	all    []*evLoop
	rr     atomic.Uint32
	conns  atomic.Int64 // client connections the loops hold
	wg     sync.WaitGroup

	// ended: the loops returned and their descriptors are closed; post
	// checks it under mu, so it never writes to a closed eventfd.
	mu      sync.RWMutex
	ended   bool
	endOnce sync.Once
}

// loopCount is how many loops a process with procs Ps runs: one P is
// left to the rest of the program. A loop blocked in epoll_wait keeps its
// P; with every P held so, the runtime's sysmon takes Ps back from the
// loops' system calls and hands them over, and each such round costs
// futex wake-ups and context switches. Measured on 2 cores (gateway CPU
// per request at 16 clients, 3 runs each beside nginx's 38–43 µs): two
// loops 47–50 µs, one loop 36 µs (docs/benchmarks.md).
func loopCount(procs int) int { return max(1, procs-1) }

func startLoops(s *Server, gw *Gateway, served func(int, time.Duration)) (*loops, error) {
	ls := &loops{srv: s, gw: gw, served: served}
	for range loopCount(runtime.GOMAXPROCS(0)) {
		l, err := newEvLoop(ls)
		if err != nil {
			for _, l := range ls.all {
				l.closeFDs()
			}
			return nil, err
		}
		ls.all = append(ls.all, l)
	}
	for _, l := range ls.all {
		ls.wg.Add(1)
		go l.run()
	}
	gw.loopSets.add(ls)
	go func() {
		ls.wg.Wait()
		ls.end()
	}()
	return ls, nil
}

// end closes the descriptors of loops that returned.
func (ls *loops) end() {
	ls.endOnce.Do(func() {
		ls.mu.Lock()
		ls.ended = true
		for _, l := range ls.all {
			l.closeFDs()
		}
		ls.mu.Unlock()
		ls.gw.loopSets.remove(ls)
	})
}

func (ls *loops) hasEnded() bool {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return ls.ended
}

// closeIdleUpstreams closes the loops' idle connections to the instances.
func (ls *loops) closeIdleUpstreams() {
	for _, l := range ls.all {
		l.post(loopCmd{kind: cmdDropIdle})
	}
}

// adopt gives c to a loop; false when c is not a TCP connection (the
// caller serves it as before).
func (ls *loops) adopt(c net.Conn) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	rc.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) })
	if err != nil || fd < 0 {
		return false
	}
	var l *evLoop
	for range len(ls.all) {
		if cand := ls.all[int(ls.rr.Add(1))%len(ls.all)]; !cand.isDead() {
			l = cand
			break
		}
	}
	if l == nil { // every loop failed: serve c as before
		unix.Close(fd)
		return false
	}
	// The header deadline runs from here, as in net/http, not from the
	// loop's clock: that is read when epoll_wait returns, which can be
	// before this command is queued, and would cut a slow first head early.
	accepted := time.Now()
	remote := c.RemoteAddr().String()
	tc.Close() // the duplicate keeps the socket (and its O_NONBLOCK)
	ls.conns.Add(1)
	l.post(loopCmd{kind: cmdAdd, fd: fd, remote: remote, accepted: accepted})
	return true
}

// closeIdle asks every loop to close its idle connections and reports
// whether the loops hold none.
func (ls *loops) closeIdle() bool {
	for _, l := range ls.all {
		l.post(loopCmd{kind: cmdCloseIdle})
	}
	return ls.conns.Load() == 0
}

// closeAll closes every connection and ends the loops.
func (ls *loops) closeAll() {
	for _, l := range ls.all {
		l.post(loopCmd{kind: cmdCloseAll})
	}
	ls.wg.Wait()
	ls.end()
}

// wait ends the loops once they hold no connection (after Shutdown).
func (ls *loops) wait() {
	for _, l := range ls.all {
		l.post(loopCmd{kind: cmdStop})
	}
	ls.wg.Wait()
	ls.end()
}

const (
	cmdAdd = iota
	cmdCloseIdle
	cmdCloseAll
	cmdStop     // end once no client connection is left
	cmdDropIdle // close the idle connections to the instances
)

type loopCmd struct {
	kind     int
	fd       int
	remote   string
	accepted time.Time // cmdAdd: when the connection was accepted
}

type evLoop struct {
	ls   *loops
	gw   *Gateway
	ep   int
	wake int // eventfd

	mu   sync.Mutex
	cmds []loopCmd
	dead bool // the loop returned: post closes what it would have added

	// Owned by the loop's goroutine.
	fds      []any // *cconn or *uconn by descriptor
	gen      int32
	timers   timerHeap
	pool     map[string][]*uconn // idle connections per instance address, LIFO
	now      time.Time
	shutting bool // the server shuts down: answers close their connection
	stop     bool // end when no client connection is left
	aw       appendWriter
	bw       *bufio.Writer // over aw
	clients  int
	again    []*cconn // to pump again: their last pump stopped with work left
}

func newEvLoop(ls *loops) (*evLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	l := &evLoop{ls: ls, gw: ls.gw, ep: ep, wake: wake, pool: map[string][]*uconn{}}
	l.bw = bufio.NewWriterSize(&l.aw, 4<<10)
	return l, nil
}

func (l *evLoop) closeFDs() {
	unix.Close(l.ep)
	unix.Close(l.wake)
}

func (l *evLoop) post(c loopCmd) {
	l.ls.mu.RLock()
	defer l.ls.mu.RUnlock()
	l.mu.Lock()
	if l.dead || l.ls.ended {
		l.mu.Unlock()
		if c.kind == cmdAdd {
			unix.Close(c.fd)
			l.ls.conns.Add(-1)
		}
		return
	}
	l.cmds = append(l.cmds, c)
	l.mu.Unlock()
	var one = [8]byte{1}
	unix.Write(l.wake, one[:])
}

// yieldEvery: a busy loop yields its P this often. A goroutine that
// stays on its P for 10 ms looks stuck to the runtime's sysmon, which
// then takes the P back in the loop's next epoll_wait and, having done
// so, polls every 20 µs for the next millisecond; under steady load that
// was ~2,500 wake-ups a second, most of what a request cost beyond
// nginx's at one client. Each yield costs a futex round of its own
// (perf: 5% of the loop's context switches at 2 ms), so not more often.
const yieldEvery = 5 * time.Millisecond

func (l *evLoop) run() {
	defer l.ls.wg.Done()
	defer l.die()
	events := make([]unix.EpollEvent, 128)
	var cmds []loopCmd
	l.now = time.Now()
	yielded := l.now
	for {
		wait := l.waitMS()
		if len(l.again) > 0 {
			wait = 0
		}
		n, err := unix.EpollWait(l.ep, events, wait)
		l.now = time.Now()
		if l.now.Sub(yielded) >= yieldEvery {
			runtime.Gosched()
			yielded = l.now
		}
		if err != nil && err != unix.EINTR {
			l.gw.log.Error().Err(err).Msg("event loop: epoll_wait failed; closing its connections")
			l.closeEverything()
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == l.wake {
				var b [8]byte
				unix.Read(l.wake, b[:])
				l.mu.Lock()
				cmds, l.cmds = l.cmds, cmds[:0]
				l.mu.Unlock()
				for _, c := range cmds {
					l.command(c)
				}
				continue
			}
			switch o := l.fds[ev.Fd].(type) {
			case *cconn:
				if o.gen != ev.Pad {
					continue
				}
				o.sawEvents(ev.Events)
				l.pump(o)
			case *uconn:
				if o.gen != ev.Pad {
					continue
				}
				o.sawEvents(ev.Events)
				if o.client != nil {
					l.pump(o.client)
				} else {
					l.idleEvent(o)
				}
			}
		}
		l.expire()
		if again := l.again; len(again) > 0 {
			l.again = nil
			for _, c := range again {
				if !c.closed {
					l.pump(c)
				}
			}
		}
		if l.stop && l.clients == 0 {
			l.closeEverything()
			return
		}
	}
}

// die marks the loop returned and closes the connections posted to it
// meanwhile.
func (l *evLoop) die() {
	l.mu.Lock()
	l.dead = true
	cmds := l.cmds
	l.cmds = nil
	l.mu.Unlock()
	for _, c := range cmds {
		if c.kind == cmdAdd {
			unix.Close(c.fd)
			l.ls.conns.Add(-1)
		}
	}
}

func (l *evLoop) isDead() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dead
}

func (l *evLoop) command(c loopCmd) {
	switch c.kind {
	case cmdAdd:
		if l.stop {
			unix.Close(c.fd)
			l.ls.conns.Add(-1)
			return
		}
		l.addClient(c.fd, c.remote, c.accepted)
	case cmdCloseIdle:
		l.shutting = true
		l.forClients(func(cc *cconn) {
			if cc.state == csHead && len(cc.in) == 0 && len(cc.out) == 0 {
				l.closeClient(cc)
			}
		})
	case cmdCloseAll:
		l.stop = true
		l.forClients(l.abortClient)
	case cmdStop:
		l.stop = true
	case cmdDropIdle:
		for addr, idle := range l.pool {
			for _, u := range idle {
				l.closeUp(u)
			}
			delete(l.pool, addr)
		}
	}
}

func (l *evLoop) forClients(f func(*cconn)) {
	for _, o := range l.fds {
		if c, ok := o.(*cconn); ok {
			f(c)
		}
	}
}

func (l *evLoop) closeEverything() {
	l.forClients(l.abortClient)
	for _, idle := range l.pool {
		for _, u := range idle {
			l.closeUp(u)
		}
	}
	clear(l.pool)
}

// waitMS is epoll_wait's timeout: until the earliest deadline.
func (l *evLoop) waitMS() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := l.timers[0].due.Sub(time.Now())
	if d <= 0 {
		return 0
	}
	return int((d + time.Millisecond - 1) / time.Millisecond)
}

func (l *evLoop) register(fd int, o any) (int32, error) {
	l.gen++
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: l.gen}); err != nil {
		return 0, err
	}
	for fd >= len(l.fds) {
		l.fds = append(l.fds, nil)
	}
	l.fds[fd] = o
	return l.gen, nil
}

// sock is what both kinds of connection share: the descriptor and the
// readiness the edges reported.
type sock struct {
	fd     int
	gen    int32
	rd, wr bool // readable / writable since the last EAGAIN
	// hup: the peer's end (or an error) was reported; reads go on to
	// EOF, as no further edge will come for it.
	hup    bool
	closed bool
}

func (s *sock) sawEvents(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.rd = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.hup = true
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.wr = true
	}
}

// States of a client connection.
const (
	csHead     = iota // waiting for (the rest of) a request head
	csExchange        // the request goes to an instance; no answer yet
	csAnswer          // the answer is relayed
)

// Answer framings.
const (
	frameLength  = iota // Content-Length
	frameChunked        // chunked, decoded and sent chunked again
	frameClose          // until the instance closes; sent chunked
	frameNone           // HEAD, 204, 304
)

type cconn struct {
	sock
	remote string
	in     []byte // read, not consumed
	out    []byte // to write
	state  int
	eof    bool // the client half-closed (or reset: gone)
	// eofAtHead: eof was seen before the current request's head was
	// parsed: the client sent it and then half-closed, and waits.
	eofAtHead bool
	gone      bool // read or write failed: the client is gone
	// closing: close once out is written (no more requests).
	closing     bool
	lingerUntil time.Time // closing: half-closed, dropping input until then

	opened, headFrom time.Time // accepted; first byte of the head waited for (zero = none yet)
	served           bool
	afterPost        bool      // the last request was a POST
	bodyDue          time.Time // body bytes are due (bodyLeft or discard > 0, none buffered)
	sendDue          time.Time // out pending: the current span is due
	sendLeft         int       // bytes of the current span still to write

	due  time.Time // the earliest deadline; zero = none
	tidx int       // index in the timer heap; -1 = not in it

	header   http.Header
	arena    headArena // of the request heads; see headArena for the rule
	req      http.Request
	start    time.Time
	body     int64 // the request body's length
	bodyLeft int64 // bytes of it still to pass on
	discard  int64 // bytes of an answered request's body still to drop
	headSeen int   // bytes of answer heads read (interim ones included)

	// The exchange.
	up       *uconn
	sent     []byte // the request as written to the instance
	snap     *endpoints.Snapshot
	idx, try int // first endpoint, attempts so far
	tries    int
	st       *instState
	keepDue  time.Time
	dialDue  time.Time
	reused   bool

	// The answer.
	status     int
	frame      int
	left       int64 // frameLength: bytes to relay
	chunks     chunkDecoder
	ansHeader  http.Header
	headDone   bool // the answer's head was written to the client
	eventStrm  bool
	upClose    bool // the instance asked to close after the answer
	headLength int64
}

type uconn struct {
	sock
	addr       string
	in         []byte
	wpos       int // bytes of client.sent written
	connecting bool
	eof        bool
	err        error // a read error
	readAny    bool  // bytes came in this exchange
	client     *cconn
	idleSince  time.Time
	header     http.Header
	arena      headArena // of the answer heads; see headArena for the rule
}

func (l *evLoop) addClient(fd int, remote string, accepted time.Time) {
	c := &cconn{remote: remote, opened: accepted, tidx: -1, header: make(http.Header, 8)}
	c.fd = fd
	c.in = make([]byte, 0, frontBufSize)
	gen, err := l.register(fd, c)
	if err != nil {
		unix.Close(fd)
		l.ls.conns.Add(-1)
		return
	}
	c.gen = gen
	l.clients++
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	c.rd = true // data may have come before the registration
	l.pump(c)
}

func (l *evLoop) unregister(s *sock) {
	s.closed = true
	if s.fd < len(l.fds) {
		l.fds[s.fd] = nil
	}
}

func (l *evLoop) closeClient(c *cconn) {
	if c.closed {
		return
	}
	if c.up != nil {
		l.closeUp(c.up)
		c.up = nil
	}
	if c.st != nil {
		c.st.inflight.Add(-1)
		c.st = nil
	}
	l.unregister(&c.sock)
	unix.Close(c.fd)
	l.timerSet(c, time.Time{})
	l.clients--
	l.ls.conns.Add(-1)
}

// abortClient closes c now, counting the request it had on as cut.
func (l *evLoop) abortClient(c *cconn) {
	if c.closed {
		return
	}
	if c.state == csExchange || c.state == csAnswer {
		l.servedAs(c, c.status)
	}
	l.closeClient(c)
}

func (l *evLoop) closeUp(u *uconn) {
	if u.closed {
		return
	}
	l.unregister(&u.sock)
	unix.Close(u.fd)
}

// idleEvent: an idle pooled connection turned readable: the instance
// closed it (or sent what nobody asked for).
func (l *evLoop) idleEvent(u *uconn) {
	if !u.rd {
		return
	}
	var b [1]byte
	if _, err := unix.Read(u.fd, b[:]); err == unix.EAGAIN {
		u.rd = false
		return
	}
	l.dropIdle(u) // EOF, an error, or bytes nobody asked for
}

func (l *evLoop) dropIdle(u *uconn) {
	idle := l.pool[u.addr]
	for i, x := range idle {
		if x == u {
			l.pool[u.addr] = append(idle[:i], idle[i+1:]...)
			break
		}
	}
	l.closeUp(u)
}

// pump moves c (and its exchange) on as far as it can without waiting.
func (l *evLoop) pump(c *cconn) {
	for round := 0; ; round++ {
		if c.closed {
			return
		}
		if round == 1<<10 { // a busy connection: let the others have a turn
			l.again = append(l.again, c)
			break
		}
		moved := false
		if len(c.out) > 0 && c.wr {
			moved = l.flushClient(c)
			if c.closed {
				return
			}
		}
		if c.closing {
			if len(c.out) > 0 {
				break
			}
			if c.discard == 0 || c.eof {
				l.closeClient(c)
				return
			}
			// Body bytes are still coming: closing now would reset the
			// connection, which can destroy the answer before the client
			// read it. Half-close and drop what comes until the client
			// closes too or rstAvoidanceDelay passes (as net/http).
			if c.lingerUntil.IsZero() {
				unix.Shutdown(c.fd, unix.SHUT_WR)
				c.lingerUntil = l.now.Add(rstAvoidanceDelay)
			}
			for c.rd && !c.eof {
				c.in = c.in[:0]
				l.readClient(c)
			}
			c.in = c.in[:0]
			if c.eof {
				l.closeClient(c)
				return
			}
			break
		}
		if u := c.up; u != nil {
			if u.wr && (u.connecting || u.wpos < len(c.sent) || (c.bodyLeft > 0 && len(c.in) > 0)) {
				moved = l.flushUp(c, u) || moved
			}
			if c.up == u && u.rd && (c.state == csExchange || len(c.out) < loopOutMax) {
				moved = l.readUp(c, u) || moved
			}
			if c.closed {
				return
			}
		}
		if c.rd && !c.eof && len(c.in) < cap(c.in) {
			moved = l.readClient(c) || moved
		}
		moved = l.step(c) || moved
		if !moved {
			break
		}
	}
	if !c.closed {
		l.arm(c)
	}
}

func (l *evLoop) readClient(c *cconn) bool {
	room := cap(c.in) - len(c.in)
	n, err := unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
	if n > 0 && n < room && !c.hup {
		// The socket is drained: with edge-triggered epoll the next
		// bytes bring an event, so no read has to find EAGAIN (as
		// nginx's recv does). An end already reported brings none.
		c.rd = false
	}
	switch {
	case err == unix.EAGAIN:
		c.rd = false
		return false
	case err != nil:
		c.eof, c.gone = true, true
		c.rd = false
	case n == 0:
		c.eof = true
		c.rd = false
	default:
		if c.state == csHead && c.headFrom.IsZero() && c.discard == 0 {
			c.headFrom = l.now
		}
		if c.bodyLeft > 0 || c.discard > 0 {
			c.bodyDue = l.now.Add(l.gw.bodyWait)
		}
		c.in = c.in[:len(c.in)+n]
	}
	return true
}

func (l *evLoop) flushClient(c *cconn) bool {
	moved := false
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		if err == unix.EAGAIN {
			c.wr = false
			break
		}
		if err != nil {
			c.gone, c.eof = true, true
			c.out = c.out[:0]
			l.clientLeft(c, "during the answer")
			return true
		}
		moved = true
		if n < len(c.out) {
			c.wr = false // the socket's buffer is full: wait for its edge
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
		if c.sendLeft -= n; c.sendLeft <= 0 {
			c.sendDue, c.sendLeft = l.now.Add(sendTimeout), loopSendSpan
		}
	}
	if len(c.out) == 0 {
		c.sendDue = time.Time{}
		if cap(c.out) > loopOutMax {
			c.out = nil
		}
	}
	return moved
}

// queue appends to c.out, starting the send timeout if nothing was
// waiting.
func (l *evLoop) queue(c *cconn, b []byte) {
	if len(c.out) == 0 {
		c.sendDue, c.sendLeft = l.now.Add(sendTimeout), loopSendSpan
	}
	c.out = append(c.out, b...)
}

// step moves c's state on; it reports whether anything changed.
func (l *evLoop) step(c *cconn) bool {
	switch c.state {
	case csHead:
		return l.stepHead(c)
	case csExchange, csAnswer:
		// A half-close after pipelined requests is not a hang-up: the
		// client waits for their answers. Before the body's end it is.
		bodyShort := int64(len(c.in)) < c.bodyLeft
		if c.gone || (c.eof && bodyShort) || (c.eof && !c.eofAtHead && int64(len(c.in)) == c.bodyLeft) {
			when := "during the answer"
			if c.state == csExchange {
				when = "before the answer"
			}
			l.clientLeft(c, when)
			return true
		}
	}
	return false
}

func (l *evLoop) stepHead(c *cconn) bool {
	if c.discard > 0 {
		k := int(min(int64(len(c.in)), c.discard))
		c.in = c.in[:copy(c.in, c.in[k:])]
		c.discard -= int64(k)
		if c.discard > 0 && c.eof {
			l.closeClient(c)
			return true
		}
		if c.discard > 0 || k > 0 {
			return k > 0
		}
	}
	if c.afterPost {
		// As net/http: up to 4 CR or LF bytes some clients send after a
		// POST body are not a request.
		if k := leadingCRorLF(c.in[:min(4, len(c.in))]); k > 0 {
			c.in = c.in[:copy(c.in, c.in[k:])]
			c.afterPost = false
			return true
		}
	}
	if len(c.in) == 0 {
		if c.eof || l.shutting {
			c.closing = true // once what is written went out
			return true
		}
		return false
	}
	if len(c.in) >= 4 && string(c.in[:4]) == "PRI " {
		return l.handOver(c, false)
	}
	limit := frontBufSize
	if m := l.ls.srv.hs.MaxHeaderBytes; m > 0 && m < limit {
		limit = m
	}
	end := bytes.Index(c.in, blankLine)
	head := c.in
	if end >= 0 {
		end += len(blankLine)
		head = c.in[:end]
	}
	if bareLF(head, 0) || end > limit || (end < 0 && (len(c.in) >= limit || c.eof)) {
		return l.handOver(c, false) // net/http answers what it makes of it
	}
	if end < 0 {
		return false
	}
	if len(c.header) > maxReusedFields {
		c.header = make(http.Header, 8)
	}
	c.req = http.Request{}
	if !parseRequestHead(c.in[:end], c.header, &c.req, &c.arena) {
		return l.handOver(c, false)
	}
	c.req.RemoteAddr = c.remote
	uri, ok := l.gw.loopRoute(&c.req)
	if !ok || c.req.ContentLength > inlineBody || l.shutting {
		return l.handOver(c, true)
	}
	c.eofAtHead = c.eof
	c.body, c.bodyLeft = c.req.ContentLength, c.req.ContentLength
	l.buildRequest(c, uri)
	c.in = c.in[:copy(c.in, c.in[end:])]
	c.start = l.now
	c.bodyDue = l.now.Add(l.gw.bodyWait)
	c.headFrom = time.Time{}
	l.startExchange(c)
	return true
}

// buildRequest writes into c.sent the request head as the gateway sends it
// (writeRequestHead); the body follows it in startExchange.
func (l *evLoop) buildRequest(c *cconn, uri string) {
	o := outRequest{r: &c.req, uri: uri, control: l.gw.control}
	if c.body > 0 {
		o.body, o.length = http.NoBody, c.body // only the length is written
	}
	c.sent = c.sent[:0]
	l.aw.b = &c.sent // a field: a local's address would escape
	writeRequestHead(l.bw, &o)
	l.bw.Flush()
	l.aw.b = nil
}

// handOver gives c, with what was read of it, to the front loop (toFront:
// the gateway's handler serves it) or to net/http's server (a head the
// lean parser leaves to it).
//
// It waits (reports false) while answers to earlier requests are still
// to be written: the connection's new owner would not send them.
func (l *evLoop) handOver(c *cconn, toFront bool) bool {
	if len(c.out) > 0 {
		return false
	}
	pre := bytes.Clone(c.in)
	opened := c.opened
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	l.unregister(&c.sock)
	l.timerSet(c, time.Time{})
	l.clients--
	l.ls.conns.Add(-1)
	f := os.NewFile(uintptr(c.fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		l.gw.log.Warn().Err(err).Msg("event loop: cannot hand a connection over; closed")
		return true
	}
	if c.served {
		opened = time.Time{} // its next head is not due from the accept
	}
	s := l.ls.srv
	if toFront {
		s.serveFront(nc, pre, opened)
	} else {
		s.serveNetHTTP(nc, pre)
	}
	return true
}

// startExchange picks the instance and sends the request.
func (l *evLoop) startExchange(c *cconn) {
	g := l.gw
	c.state = csExchange
	c.headSeen = 0
	c.status = 0
	c.snap = g.set.Snapshot()
	n := c.snap.Len()
	if n == 0 {
		l.answer(c, http.StatusServiceUnavailable, "text/plain", "no healthy upstream", false)
		return
	}
	c.idx = int((g.next.Add(1) - 1) % uint64(n))
	c.try, c.tries = 0, 1
	if !g.noRetry {
		c.tries = n
	}
	c.st = g.lim.instance(c.snap.Endpoints[c.idx].Instance)
	c.st.inflight.Add(1)
	l.attempt(c, false)
}

func (c *cconn) cur() int { return (c.idx + c.try) % c.snap.Len() }

// attempt sends the request on a connection to the current endpoint:
// pooled, or a new one (fresh forces a new one).
func (l *evLoop) attempt(c *cconn, fresh bool) {
	addr := c.snap.Addr(c.cur())
	c.reused = false
	var u *uconn
	if !fresh {
		u = l.pooled(addr, c.body > 0)
		c.reused = u != nil
	}
	if u == nil {
		var err error
		if u, err = l.dial(addr); err != nil {
			l.attemptFailed(c, err)
			return
		}
		c.dialDue = l.now.Add(dialTimeout)
	}
	u.client, c.up = c, u
	u.wpos, u.readAny, u.eof, u.err = 0, false, false, nil
	u.in = u.in[:0]
	// As exchange: keepalive bounds each attempt from its connection on.
	c.keepDue = time.Time{}
	if !u.connecting && l.gw.keepalive > 0 {
		c.keepDue = l.now.Add(l.gw.keepalive)
	}
}

// pooled returns an idle connection to addr that looks alive, or nil.
// check: always check (a body that cannot be replayed follows).
func (l *evLoop) pooled(addr string, check bool) *uconn {
	idle := l.pool[addr]
	for len(idle) > 0 {
		u := idle[len(idle)-1]
		idle = idle[:len(idle)-1]
		l.pool[addr] = idle
		since := l.now.Sub(u.idleSince)
		if since > idleTimeout || ((check || since > checkAfterIdle) && !fdAlive(u.fd)) {
			l.closeUp(u)
			continue
		}
		u.wr = true
		return u
	}
	return nil
}

func fdAlive(fd int) bool {
	var b [1]byte
	n, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return n < 0 && err == unix.EAGAIN
}

func (l *evLoop) dial(addr string) (*uconn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError("connect", err)}
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opErr(err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	u := &uconn{addr: addr, in: make([]byte, 0, loopUpBuf), header: make(http.Header, 8)}
	u.fd = fd
	gen, err := l.register(fd, u)
	if err != nil {
		unix.Close(fd)
		return nil, opErr(err)
	}
	u.gen = gen
	switch err := unix.Connect(fd, sa); err {
	case nil:
		u.wr = true
	case unix.EINPROGRESS:
		u.connecting = true
	default:
		l.closeUp(u)
		return nil, opErr(err)
	}
	return u, nil
}

func (l *evLoop) flushUp(c *cconn, u *uconn) bool {
	if u.connecting {
		e, err := unix.GetsockoptInt(u.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && e != 0 {
			err = syscall.Errno(e)
		}
		if err != nil {
			ap, _ := netip.ParseAddrPort(u.addr)
			l.attemptFailed(c, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.NewSyscallError("connect", err)})
			return true
		}
		u.connecting = false
		c.dialDue = time.Time{}
		if l.gw.keepalive > 0 {
			c.keepDue = l.now.Add(l.gw.keepalive)
		}
	}
	moved := false
	for u.wpos < len(c.sent) || (c.bodyLeft > 0 && len(c.in) > 0) {
		var n int
		var err error
		head := u.wpos < len(c.sent)
		if head {
			n, err = unix.Write(u.fd, c.sent[u.wpos:])
		} else {
			n, err = unix.Write(u.fd, c.in[:min(int64(len(c.in)), c.bodyLeft)])
		}
		if err == unix.EAGAIN {
			u.wr = false
			break
		}
		if err != nil {
			// The rest of the request is dropped: the connection
			// is closed when the answer is done (bodyLeft > 0).
			u.wpos = len(c.sent)
			if c.state == csAnswer {
				return moved // the instance answered without reading the whole body
			}
			// It may have answered before it closed (a 400 or 413
			// without reading the body): that answer is in the receive
			// queue, and is what the client gets.
			for c.state == csExchange && c.up == u && l.readUp(c, u) {
			}
			if c.state == csExchange && c.up == u {
				l.attemptFailed(c, os.NewSyscallError("write", err))
			}
			return true
		}
		moved = true
		if head {
			if n < len(c.sent)-u.wpos {
				u.wr = false // full: wait for the edge
			}
			u.wpos += n
			continue
		}
		if n < int(min(int64(len(c.in)), c.bodyLeft)) {
			u.wr = false
		}
		c.in = c.in[:copy(c.in, c.in[n:])]
		c.bodyLeft -= int64(n)
		c.bodyDue = l.now.Add(l.gw.bodyWait)
	}
	return moved
}

func (l *evLoop) readUp(c *cconn, u *uconn) bool {
	if len(u.in) == cap(u.in) {
		if c.state != csExchange || cap(u.in) > MaxAnswerHead {
			return false // the relay makes room, or the head is too large (stepUp)
		}
		in := make([]byte, len(u.in), 2*cap(u.in))
		copy(in, u.in)
		u.in = in
	}
	room := cap(u.in) - len(u.in)
	n, err := unix.Read(u.fd, u.in[len(u.in):cap(u.in)])
	if n > 0 && n < room && !u.hup {
		u.rd = false // drained (readClient)
	}
	switch {
	case err == unix.EAGAIN:
		u.rd = false
		return false
	case err != nil:
		u.err = os.NewSyscallError("read", err)
		u.rd = false
	case n == 0:
		u.eof = true
		u.rd = false
	default:
		u.in = u.in[:len(u.in)+n]
		u.readAny = true
	}
	l.stepUp(c, u)
	return true
}

// stepUp handles what came from the instance.
func (l *evLoop) stepUp(c *cconn, u *uconn) {
	for c.state == csExchange && c.up == u {
		end := bytes.Index(u.in, blankLine)
		if end < 0 {
			switch {
			case c.headSeen+len(u.in) > MaxAnswerHead:
				l.attemptFailed(c, errHeadTooLarge)
			case u.err != nil:
				l.attemptFailed(c, u.err)
			case u.eof:
				err := io.EOF
				if len(u.in) > 0 {
					err = io.ErrUnexpectedEOF
				}
				l.attemptFailed(c, err)
			}
			return
		}
		end += len(blankLine)
		if c.headSeen += end; c.headSeen > MaxAnswerHead {
			l.attemptFailed(c, errHeadTooLarge)
			return
		}
		if !l.answerHead(c, u, end) {
			return
		}
	}
	if c.state == csAnswer && c.up == u {
		l.relay(c, u)
	}
}

// answerHead reads the head of the instance's answer; false when the
// exchange ended (failed).
func (l *evLoop) answerHead(c *cconn, u *uconn, end int) bool {
	if interim(u.in[:end]) {
		u.in = u.in[:copy(u.in, u.in[end:])] // not relayed, and not worth parsing
		return true
	}
	code, h, length, frame, closeAfter, err := parseAnswerHead(u.in[:end], &c.req, u)
	if err != nil {
		l.attemptFailed(c, err)
		return false
	}
	u.in = u.in[:copy(u.in, u.in[end:])] // the parsed head shares nothing with u.in
	if code < 200 && code != http.StatusSwitchingProtocols {
		return true // 1xx interim answers are not relayed
	}
	if code == http.StatusSwitchingProtocols {
		l.attemptFailed(c, errors.New("instance switched protocols, which the gateway does not relay"))
		return false
	}
	g := l.gw
	if g.observe != nil {
		g.observe(c.snap.Endpoints[c.cur()].Instance, code, c.try > 0)
	}
	c.state = csAnswer
	c.status, c.ansHeader, c.frame, c.left, c.upClose = code, h, frame, length, closeAfter
	c.headDone = false
	c.headLength = -1
	if c.req.Method == http.MethodHead {
		if v := h["Content-Length"]; len(v) > 0 {
			if n, ok := parseLength(v[0]); ok {
				c.headLength = n
			}
		}
	}
	c.chunks = chunkDecoder{}
	c.eventStrm = (frame == frameChunked || frame == frameClose) && isEventStream(h)
	if c.eventStrm || frame == frameNone || (frame == frameLength && length == 0) {
		l.writeAnswerHead(c, nil)
	}
	if frame == frameNone || (frame == frameLength && length == 0) {
		l.finishAnswer(c, u, true)
		return false
	}
	return true
}

// interim reports whether raw is the head of a 1xx answer other than 101.
func interim(raw []byte) bool {
	return len(raw) >= 13 && bytes.HasPrefix(raw, []byte("HTTP/1.")) && raw[8] == ' ' && raw[9] == '1' &&
		raw[10] >= '0' && raw[10] <= '9' && raw[11] >= '0' && raw[11] <= '9' && string(raw[9:12]) != "101" &&
		(raw[12] == ' ' || raw[12] == '\r')
}

// parseAnswerHead parses an answer head: the common kind in place, into
// u's reused map (as readSimpleAnswer), the rest by http.ReadResponse.
func parseAnswerHead(raw []byte, req *http.Request, u *uconn) (code int, h http.Header, length int64, frame int, closeAfter bool, err error) {
	if req.Method != http.MethodHead && bytes.HasPrefix(raw, []byte("HTTP/1.1 ")) && len(raw) >= 13 && (raw[12] == ' ' || raw[12] == '\r') {
		for _, b := range raw[9:12] {
			if b < '0' || b > '9' {
				code = -1
				break
			}
			code = code*10 + int(b-'0')
		}
		if code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified {
			if len(u.header) > maxReusedFields {
				u.header = make(http.Header, 8)
			}
			clear(u.header) // before the arena's text changes under its keys
			_, rest, _ := strings.Cut(u.arena.text(raw[:len(raw)-4]), "\r\n")
			var ok bool
			if length, closeAfter, ok = parseAnswerFields(rest, u.header, &u.arena); ok {
				return code, u.header, length, frameLength, closeAfter, nil
			}
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if err != nil {
		return 0, nil, 0, 0, false, err
	}
	code, h, length, closeAfter = resp.StatusCode, resp.Header, resp.ContentLength, resp.Close
	switch {
	case req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || (code >= 100 && code < 200):
		frame = frameNone
	case len(resp.TransferEncoding) > 0:
		frame = frameChunked
	case length >= 0:
		frame = frameLength
	default:
		frame, closeAfter = frameClose, true
	}
	return code, h, length, frame, closeAfter, nil
}

// relay passes the answer's body on.
func (l *evLoop) relay(c *cconn, u *uconn) {
	switch c.frame {
	case frameLength:
		k := int(min(int64(len(u.in)), c.left))
		if k > 0 {
			l.body(c, u.in[:k])
			u.in = u.in[:copy(u.in, u.in[k:])]
			c.left -= int64(k)
		}
		if c.left == 0 {
			l.finishAnswer(c, u, true)
			return
		}
	case frameClose:
		if len(u.in) > 0 {
			l.body(c, u.in)
			u.in = u.in[:0]
		}
		if u.eof {
			l.finishAnswer(c, u, false)
			return
		}
	case frameChunked:
		n, err := c.chunks.feed(u.in, func(p []byte) { l.body(c, p) })
		u.in = u.in[:copy(u.in, u.in[n:])]
		if err != nil {
			l.answerCut(c, err)
			return
		}
		if c.chunks.done {
			l.finishAnswer(c, u, len(u.in) == 0)
			return
		}
	}
	if u.err != nil || u.eof {
		err := u.err
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		l.answerCut(c, err)
	}
}

// body queues answer bytes p for the client, after the head.
func (l *evLoop) body(c *cconn, p []byte) {
	if len(p) == 0 {
		return
	}
	if !c.headDone {
		l.writeAnswerHead(c, p)
	}
	if c.frame == frameLength {
		l.queue(c, p)
		return
	}
	var pre [20]byte
	b := strconv.AppendInt(pre[:0], int64(len(p)), 16)
	l.queue(c, append(b, '\r', '\n'))
	c.out = append(c.out, p...)
	c.out = append(c.out, '\r', '\n')
}

// writeAnswerHead writes the answer's status line and headers as the
// front loop's writer would for the gateway: the instance's headers minus
// hop-by-hop ones, Date, a sniffed Content-Type when none was given and
// first (the body's start) is known, the framing.
func (l *evLoop) writeAnswerHead(c *cconn, first []byte) {
	c.headDone = true
	if len(c.out) == 0 {
		c.sendDue, c.sendLeft = l.now.Add(sendTimeout), loopSendSpan
	}
	l.aw.b = &c.out // a field: a local's address would escape
	bw := l.bw
	h := c.ansHeader
	writeStatusLine(bw, c.status)
	conn := h["Connection"]
	for k, vv := range h {
		switch k {
		case "Content-Length", "Transfer-Encoding", "Connection":
			continue
		}
		if slices.Contains(hopHeaders[:], k) || (len(conn) > 0 && namedIn(conn, k)) {
			continue
		}
		writeHeaderField(bw, k, vv)
	}
	if _, ok := h["Date"]; !ok {
		writeDate(bw)
	}
	noBody := c.status == http.StatusNoContent || c.status == http.StatusNotModified
	if _, ok := h["Content-Type"]; !ok && !noBody && len(first) > 0 {
		bw.WriteString("Content-Type: ")
		bw.WriteString(http.DetectContentType(first))
		bw.WriteString("\r\n")
	}
	switch {
	case noBody:
	case c.req.Method == http.MethodHead:
		if c.headLength >= 0 {
			writeLength(bw, c.headLength)
		}
	case c.frame == frameLength:
		writeLength(bw, c.left)
	case c.frame == frameChunked || c.frame == frameClose:
		if first == nil && !c.eventStrm { // ended before any byte
			writeLength(bw, 0)
			c.frame = frameNone
		} else {
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		}
	}
	if c.req.Close || l.shutting {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	bw.Flush()
	l.aw.b = nil
}

// finishAnswer ends an answer relayed to its end; clean: the instance's
// connection is in step for another request.
func (l *evLoop) finishAnswer(c *cconn, u *uconn, clean bool) {
	if !c.headDone {
		l.writeAnswerHead(c, nil)
	}
	if c.headDone && (c.frame == frameChunked || c.frame == frameClose) { // HEAD answers are frameNone
		l.queue(c, []byte("0\r\n"))
		c.out = append(c.out, c.chunks.trailer...)
		c.out = append(c.out, '\r', '\n')
	}
	c.up = nil
	u.client = nil
	if c.bodyLeft > 0 {
		clean = false // the instance did not wait for the whole body
	}
	if clean && !c.upClose && len(u.in) == 0 && !u.eof && u.err == nil && u.wpos == len(c.sent) {
		l.putIdle(u)
	} else {
		l.closeUp(u)
	}
	if e := l.gw.log.Debug(); e.Enabled() {
		e.Str("method", c.req.Method).Str("path", c.req.URL.Path).Str("upstream", u.addr).Int("status", c.status).Dur("took", l.now.Sub(c.start)).Msg("proxied")
	}
	l.endRequest(c, c.status)
}

// endRequest ends c's request (answered with status) and readies c for
// the next one.
func (l *evLoop) endRequest(c *cconn, status int) {
	l.servedAs(c, status)
	if c.bodyLeft > 0 { // what is left of the body would read as a request
		c.discard, c.bodyLeft = c.bodyLeft, 0
		c.bodyDue = l.now.Add(l.gw.bodyWait)
	}
	if c.st != nil {
		c.st.inflight.Add(-1)
		c.st = nil
	}
	c.state = csHead
	c.served = true
	c.afterPost = c.req.Method == http.MethodPost
	c.headFrom = time.Time{}
	if c.req.Close || l.shutting {
		c.closing = true
	}
	c.req = http.Request{}
	c.ansHeader = nil
	c.snap = nil
}

func (l *evLoop) servedAs(c *cconn, status int) {
	if l.ls.served != nil {
		if status == 0 {
			status = StatusClientClosedRequest
		}
		l.ls.served(status, l.now.Sub(c.start))
	}
}

func (l *evLoop) putIdle(u *uconn) {
	u.idleSince = l.now
	idle := l.pool[u.addr]
	if len(idle) >= maxIdlePerHost {
		l.closeUp(u)
		return
	}
	if len(idle) > 0 && u.idleSince.Sub(idle[0].idleSince) > idleTimeout {
		l.closeUp(idle[0])
		idle = idle[1:]
	}
	l.pool[u.addr] = append(idle, u)
}

// attemptFailed ends an attempt that got no answer: retried as the
// gateway's tryInstances and roundTrip would, or answered.
func (l *evLoop) attemptFailed(c *cconn, err error) {
	g := l.gw
	u := c.up
	readAny := false
	if u != nil {
		readAny = u.readAny
		u.client = nil
		l.closeUp(u)
		c.up = nil
	}
	c.dialDue = time.Time{}
	deadline := errors.Is(err, errDeadline)
	if c.reused && !readAny && c.body == 0 && !deadline && !c.gone {
		l.attempt(c, true) // a pooled connection the instance had closed
		return
	}
	instance := c.snap.Endpoints[c.cur()].Instance
	status := http.StatusBadGateway
	switch {
	case deadline:
		status = http.StatusRequestTimeout
	case c.gone:
		status = StatusClientClosedRequest
	}
	if g.observe != nil {
		g.observe(instance, status, c.try > 0)
	}
	retry := undelivered(err) || (c.body == 0 && lostBeforeAnswer(&c.req, false, err))
	if retry && !deadline && !c.gone && c.try+1 < c.tries {
		upstream := c.snap.Addr(c.cur())
		c.try++
		g.log.Info().Str("upstream", upstream).Str("next", c.snap.Addr(c.cur())).Err(err).Msg("instance not reachable, retrying on the next one")
		l.attempt(c, false)
		return
	}
	upstream := c.snap.Addr(c.cur())
	switch {
	case deadline:
		g.log.Info().Str("path", c.req.URL.Path).Str("upstream", upstream).Dur("keepalive", g.keepalive).Msg("upstream did not answer within metadata.rpc.keepalive")
		l.answer(c, http.StatusRequestTimeout, "", fmt.Sprintf("request timeout: the service did not answer within %s (metadata.rpc.keepalive)", g.keepalive), false)
	case c.gone:
		g.log.Info().Str("path", c.req.URL.Path).Str("upstream", upstream).Int("status", StatusClientClosedRequest).Msg("client closed the connection before the answer")
		l.servedAs(c, StatusClientClosedRequest)
		l.closeClient(c)
	default:
		g.log.Warn().Str("path", c.req.URL.Path).Str("upstream", upstream).Err(err).Msg("upstream failed")
		l.answer(c, http.StatusBadGateway, "", "bad gateway: the service instance failed to answer", false)
	}
}

// clientLeft ends c's request when the client hung up.
func (l *evLoop) clientLeft(c *cconn, when string) {
	if c.state == csExchange && c.up != nil {
		c.gone = true
		l.attemptFailed(c, errors.New("the client left"))
		return
	}
	if c.state == csAnswer {
		l.gw.log.Info().Str("path", c.req.URL.Path).Int("status", StatusClientClosedRequest).Msg("client closed the connection " + when)
		l.servedAs(c, c.status)
	}
	if c.state == csExchange || c.state == csAnswer {
		c.state = csHead
	}
	l.closeClient(c)
}

// answerCut ends an answer the instance cut short: the client's
// connection is closed, so it sees the answer short.
func (l *evLoop) answerCut(c *cconn, err error) {
	l.gw.log.Warn().Str("path", c.req.URL.Path).Str("upstream", c.snap.Addr(c.cur())).Err(err).Msg("answer cut short")
	l.servedAs(c, c.status)
	c.state = csHead
	l.closeClient(c)
}

// answer sends the gateway's own answer (as http.Error does, or with
// contentType and body as given); closeAfter closes the connection.
func (l *evLoop) answer(c *cconn, code int, contentType, msg string, closeAfter bool) {
	if len(c.out) == 0 {
		c.sendDue, c.sendLeft = l.now.Add(sendTimeout), loopSendSpan
	}
	l.aw.b = &c.out // a field: a local's address would escape
	bw := l.bw
	writeStatusLine(bw, code)
	if contentType == "" {
		bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
		msg += "\n"
	} else {
		bw.WriteString("Content-Type: " + contentType + "\r\n")
	}
	writeDate(bw)
	writeLength(bw, int64(len(msg)))
	closeAfter = closeAfter || c.req.Close || l.shutting
	if closeAfter {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	if c.req.Method != http.MethodHead {
		bw.WriteString(msg)
	}
	bw.Flush()
	l.aw.b = nil
	if c.up != nil {
		c.up.client = nil
		l.closeUp(c.up)
		c.up = nil
	}
	l.endRequest(c, code)
	if closeAfter {
		c.closing = true
	}
}

// arm sets c's timer to its earliest deadline.
func (l *evLoop) arm(c *cconn) {
	var due time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	hs := l.ls.srv.hs
	switch c.state {
	case csHead:
		if c.closing {
			earlier(c.lingerUntil)
			break
		}
		if c.discard > 0 {
			if l.gw.bodyWait > 0 && len(c.in) == 0 {
				earlier(c.bodyDue)
			}
			break
		}
		if len(c.in) == 0 && c.served {
			if d := hs.IdleTimeout; d > 0 {
				earlier(l.now.Add(d))
			}
		} else if d := hs.ReadHeaderTimeout; d > 0 {
			from := c.opened
			if c.served {
				from = c.headFrom
				if from.IsZero() {
					from = l.now
				}
			}
			earlier(from.Add(d))
		}
	case csExchange:
		earlier(c.keepDue)
		if c.up != nil && c.up.connecting {
			earlier(c.dialDue)
		}
	}
	if (c.state == csExchange || c.state == csAnswer) && c.bodyLeft > 0 && len(c.in) == 0 && l.gw.bodyWait > 0 {
		earlier(c.bodyDue)
	}
	if len(c.out) > 0 {
		earlier(c.sendDue)
	}
	if !due.Equal(c.due) {
		l.timerSet(c, due)
	}
}

// expire handles the connections whose deadline passed.
func (l *evLoop) expire() {
	for len(l.timers) > 0 && !l.timers[0].due.After(l.now) {
		c := l.timers[0]
		l.timerSet(c, time.Time{})
		l.timedOut(c)
		if !c.closed {
			l.pump(c)
		}
	}
}

func (l *evLoop) timedOut(c *cconn) {
	g := l.gw
	now := l.now
	switch {
	case len(c.out) > 0 && !c.sendDue.IsZero() && !c.sendDue.After(now):
		g.log.Info().Str("path", c.req.URL.Path).Dur("send_timeout", sendTimeout).Msg("client stopped reading the answer: cut off")
		if c.state == csAnswer {
			l.servedAs(c, c.status)
			c.state = csHead
		}
		l.closeClient(c)
	case c.state == csHead:
		l.closeClient(c) // idle, a head that did not come in time, or a body to drop that stopped
	case c.bodyLeft > 0 && len(c.in) == 0 && g.bodyWait > 0 && !c.bodyDue.After(now):
		if c.state == csAnswer {
			g.log.Info().Str("path", c.req.URL.Path).Str("upstream", c.snap.Addr(c.cur())).Dur("body_timeout", g.bodyWait).Msg("client stopped sending the request body during the answer: cut off")
			l.servedAs(c, c.status)
			c.state = csHead
			l.closeClient(c)
			return
		}
		g.log.Info().Str("path", c.req.URL.Path).Str("upstream", c.snap.Addr(c.cur())).Dur("body_timeout", g.bodyWait).Msg("client stopped sending the request body: 408")
		if g.observe != nil {
			g.observe(c.snap.Endpoints[c.cur()].Instance, http.StatusRequestTimeout, c.try > 0)
		}
		l.answer(c, http.StatusRequestTimeout, "", fmt.Sprintf("request timeout: no request body bytes arrived for %s", g.bodyWait), true)
	case c.state == csExchange && c.up != nil && c.up.connecting && !c.dialDue.After(now):
		ap, _ := netip.ParseAddrPort(c.up.addr)
		l.attemptFailed(c, &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: os.ErrDeadlineExceeded})
	case c.state == csExchange && !c.keepDue.IsZero() && !c.keepDue.After(now):
		l.attemptFailed(c, errDeadline)
	}
}

func (l *evLoop) timerSet(c *cconn, due time.Time) {
	c.due = due
	switch {
	case due.IsZero() && c.tidx >= 0:
		heap.Remove(&l.timers, c.tidx)
	case due.IsZero():
	case c.tidx >= 0:
		heap.Fix(&l.timers, c.tidx)
	default:
		heap.Push(&l.timers, c)
	}
}

type timerHeap []*cconn

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].tidx, h[j].tidx = i, j
}
func (h *timerHeap) Push(x any) {
	c := x.(*cconn)
	c.tidx = len(*h)
	*h = append(*h, c)
}
func (h *timerHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.tidx = -1
	return c
}

// appendWriter appends to the slice b points at.
type appendWriter struct{ b *[]byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// chunkDecoder reads a chunked body as it arrives (RFC 9112 section
// 7.1): it emits the data and keeps the trailer section.
type chunkDecoder struct {
	state   int   // chSize, chData, chDataEnd, chTrailer
	left    int64 // chData: bytes of the chunk still to come
	trailer []byte
	line    []byte // chTrailer: the start of a trailer line not yet whole
	done    bool
}

const (
	chSize = iota
	chData
	chDataEnd
	chTrailer
)

const (
	maxChunkLine = 4 << 10
	maxTrailer   = 64 << 10
)

var errBadChunk = errors.New("malformed chunked encoding in the instance's answer")

// feed decodes what it can of p and returns how many bytes it used; the
// rest (a line not yet whole) must be fed again with what follows.
func (d *chunkDecoder) feed(p []byte, emit func([]byte)) (int, error) {
	n := 0
	for n < len(p) && !d.done {
		switch d.state {
		case chSize:
			i := bytes.IndexByte(p[n:], '\n')
			if i < 0 {
				if len(p)-n > maxChunkLine {
					return n, errBadChunk
				}
				return n, nil
			}
			line := bytes.TrimSuffix(p[n:n+i], []byte("\r"))
			n += i + 1
			if j := bytes.IndexByte(line, ';'); j >= 0 {
				line = line[:j]
			}
			size, ok := parseHexSize(bytes.TrimRight(line, " \t"))
			if !ok {
				return n, errBadChunk
			}
			if size == 0 {
				d.state = chTrailer
			} else {
				d.left, d.state = size, chData
			}
		case chData:
			k := int(min(int64(len(p)-n), d.left))
			emit(p[n : n+k])
			n += k
			if d.left -= int64(k); d.left == 0 {
				d.state = chDataEnd
			}
		case chDataEnd:
			if p[n] != '\r' || (len(p)-n > 1 && p[n+1] != '\n') {
				return n, errBadChunk
			}
			if len(p)-n < 2 {
				return n, nil
			}
			n += 2
			d.state = chSize
		case chTrailer:
			// Partial lines are kept here, not left in p: a trailer line
			// may be longer than the caller's buffer.
			i := bytes.IndexByte(p[n:], '\n')
			if i < 0 {
				d.line = append(d.line, p[n:]...)
				n = len(p)
				if len(d.line)+len(d.trailer) > maxTrailer {
					return n, errBadChunk
				}
				return n, nil
			}
			line := append(d.line, p[n:n+i]...)
			d.line = d.line[:0]
			line = bytes.TrimRight(line, "\r")
			n += i + 1
			if len(line) == 0 {
				d.done = true
				break
			}
			if len(d.trailer)+len(line) > maxTrailer {
				return n, errBadChunk
			}
			// As the front loop's writer: a field with an invalid name is
			// dropped, values stay on their line.
			if name, _, ok := bytes.Cut(line, []byte(":")); ok && httpguts.ValidHeaderFieldName(string(name)) {
				d.trailer = append(append(d.trailer, line...), '\r', '\n')
			}
		}
	}
	return n, nil
}

func parseHexSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}
