//go:build linux

package proxy

import (
	"bufio"
	"cmp"
	"container/heap"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	batching bool     // handling a wait's events: writes are held
	held     []*cconn // connections with writes held (handle)
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
		cmds = l.handle(events[:max(n, 0)], cmds)
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

// handle serves the events of one wait. Nothing is written while they
// are handled: each connection that has something to write is queued
// (hold), and the writes go out after the last event, the requests
// grouped by instance. An instance then gets the requests of a batch
// back to back and can take them in one wake-up, not one each: with 16
// clients over 3 instances of the example app, their CPU per request
// fell by about 5%, below what it is behind nginx (docs/benchmarks.md).
// A request waits at most for the rest of its batch to be read. It is
// how Redis writes its replies, before it sleeps. A batch of one event
// has nothing to group and writes as it goes, so one client pays
// nothing for this.
func (l *evLoop) handle(events []unix.EpollEvent, cmds []loopCmd) []loopCmd {
	l.batching = len(events) > 1
	for _, ev := range events {
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
	l.batching = false
	if held := l.held; len(held) > 0 {
		slices.SortStableFunc(held, func(a, b *cconn) int { return cmp.Compare(a.instance(), b.instance()) })
		for _, c := range held {
			c.held = false
			if !c.closed {
				l.pump(c)
			}
		}
		clear(held)
		l.held = held[:0]
	}
	return cmds
}

// hold reports whether c's writes wait for the end of the batch, and
// queues c for it.
func (l *evLoop) hold(c *cconn) bool {
	if !l.batching {
		return false
	}
	if !c.held {
		c.held = true
		l.held = append(l.held, c)
	}
	return true
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
	held   bool // in the loop's held list
	remote string
	in     []byte // read, not consumed
	out    []byte // to write
	state  int
	eof    bool // the client half-closed (or reset: gone)
	// eofAtHead: an end from the client during the current request is a
	// half-close, not a hang-up: eof was seen before its head was
	// parsed, or it came in one pipeline with the previous request
	// (behind: more than the request's body was buffered behind its
	// head). Either way the client sent it and waits for the answer.
	eofAtHead bool
	behind    bool
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
