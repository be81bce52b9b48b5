//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// serveEpoll measures the ceiling of nginx's model in Go: one event loop
// per P, each on a locked thread with its own SO_REUSEPORT listener, its
// own epoll set (edge-triggered, registered once, as nginx does) and its
// own keep-alive connections to the upstreams; no goroutine per
// connection and nothing parks in the runtime's netpoller.
//
// Per request it does the gateway's minimum: route on
// /api/predict/<service>, check the raw token, strip the prefix, drop
// hop-by-hop headers and the client's X-Real-IP, set X-Real-IP and
// X-Forwarded-For, pick an upstream round-robin, relay the body and the
// answer (both framed by Content-Length) as they arrive.
//
// It does not handle, by design: chunked bodies either way, answers
// delimited by close, 1xx answers (so no Expect: 100-continue), upgrades,
// HTTP/1.0, h2c, any timeout (idle, header, body, send: a slowloris
// client holds its connection forever), a limit on connections, retrying
// a request on another upstream, or a pooled connection the upstream
// closed while the request was on its way (502). Error answers close the
// connection. Each loop round-robins over the shared counter, but the
// kernel spreads connections over the loops by their address hash.
func serveEpoll(ctx context.Context, addr, service, token string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	var rr atomic.Uint32
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range runtime.GOMAXPROCS(0) {
		l, err := newLoop(ap, service, token, &rr)
		if err != nil {
			return err
		}
		go func() { errs <- l.run() }()
	}
	select {
	case <-ctx.Done():
		return nil // the loops end with the process
	case err := <-errs:
		return err
	}
}

const (
	bufSize = 16 << 10 // a connection's read buffer, and the largest head
	maxOut  = 256 << 10
)

var crlf2 = []byte("\r\n\r\n")

type econn struct {
	fd     int
	gen    int32
	up     bool // a connection to an upstream (else to a client)
	closed bool
	in     []byte // read, not yet consumed; cap bufSize
	out    []byte // to write
	peer   *econn // the other side while an exchange is on
	// stalled: reading stopped with data possibly left in the socket;
	// the edge will not come again, so whoever frees room reads.
	stalled bool
	closing bool // close once out is written

	// client
	ip       string
	busy     bool  // a request is out and its answer not yet relayed
	bodyLeft int64 // request body still to pass on
	isHead   bool
	close    bool // the client asked to close after this answer

	// upstream
	idx        int
	connecting bool
	gotHead    bool
	respLeft   int64
	reuse      bool
}

type loop struct {
	ep, ln  int
	conns   []*econn
	idle    [3][]*econn
	gen     int32
	rr      *atomic.Uint32
	prefix  []byte
	token   string
	scratch []byte
}

func newLoop(ap netip.AddrPort, service, token string, rr *atomic.Uint32) (*loop, error) {
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return nil, err
	}
	if err := unix.Bind(ln, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return nil, fmt.Errorf("bind %s: %w", ap, err)
	}
	if err := unix.Listen(ln, 4096); err != nil {
		return nil, err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, ln, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ln)}); err != nil {
		return nil, err
	}
	return &loop{ep: ep, ln: ln, rr: rr, prefix: []byte("/api/predict/" + service), token: token}, nil
}

func (l *loop) run() error {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(l.ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == l.ln {
				l.accept()
				continue
			}
			c := l.conns[ev.Fd]
			if c == nil || c.gen != ev.Pad {
				continue // closed earlier in this batch
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
				if c.up {
					l.upRead(c)
				} else {
					l.clientRead(c)
				}
			}
			if !c.closed && ev.Events&unix.EPOLLOUT != 0 {
				l.writable(c)
			}
		}
	}
}

func (l *loop) add(fd int, up bool) (*econn, error) {
	l.gen++
	c := &econn{fd: fd, gen: l.gen, up: up, in: make([]byte, 0, bufSize), out: make([]byte, 0, bufSize)}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: c.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return nil, err
	}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, nil)
	}
	l.conns[fd] = c
	return c, nil
}

func (l *loop) closeFd(c *econn) {
	if c.closed {
		return
	}
	c.closed = true
	l.conns[c.fd] = nil
	unix.Close(c.fd)
}

func (l *loop) accept() {
	for {
		fd, sa, err := unix.Accept4(l.ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or EMFILE and the like: the listener stays readable
		}
		c, err := l.add(fd, false)
		if err != nil {
			continue
		}
		if s4, ok := sa.(*unix.SockaddrInet4); ok {
			c.ip = netip.AddrFrom4(s4.Addr).String()
		}
	}
}

// fill reads into c.in. It reports whether the socket may hold more
// (the read filled the buffer) and false after closing c.
func (l *loop) fill(c *econn) (n int, ok bool) {
	room := cap(c.in) - len(c.in)
	if room == 0 {
		c.stalled = true
		return 0, true
	}
	n, err := unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
	if err == unix.EAGAIN {
		c.stalled = false
		return 0, true
	}
	if n <= 0 {
		return -1, false
	}
	c.in = c.in[:len(c.in)+n]
	c.stalled = n == room
	return n, true
}

func consume(c *econn, k int) {
	c.in = c.in[:copy(c.in, c.in[k:])]
}

func (l *loop) clientRead(c *econn) {
	for !c.closed {
		n, ok := l.fill(c)
		if !ok {
			l.dropClient(c)
			return
		}
		l.clientProcess(c)
		// A short read drained the socket: the next byte brings an edge.
		if n == 0 || !c.stalled || len(c.in) == cap(c.in) {
			return
		}
	}
}

// dropClient closes a client and the exchange it had on.
func (l *loop) dropClient(c *econn) {
	if u := c.peer; u != nil {
		u.peer, c.peer = nil, nil
		l.closeFd(u)
	}
	l.closeFd(c)
}

func (l *loop) clientProcess(c *econn) {
	for !c.closed && !c.closing {
		if c.busy {
			if u := c.peer; u != nil && c.bodyLeft > 0 && len(c.in) > 0 && len(u.out) < maxOut {
				k := int(min(int64(len(c.in)), c.bodyLeft))
				u.out = append(u.out, c.in[:k]...)
				consume(c, k)
				c.bodyLeft -= int64(k)
				l.flush(u)
			}
			return
		}
		if len(c.in) == 0 {
			return
		}
		i := bytes.Index(c.in, crlf2)
		if i < 0 {
			if len(c.in) == cap(c.in) {
				l.fail(c, 431, "request head too large\n")
			}
			return
		}
		l.startRequest(c, c.in[:i+4])
		if !c.closed {
			consume(c, i+4)
		}
	}
}

func lower(b byte) byte { return b | 0x20 }

func nameIs(name []byte, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i := range name {
		if lower(name[i]) != want[i] {
			return false
		}
	}
	return true
}

func (l *loop) startRequest(c *econn, head []byte) {
	eol := bytes.Index(head, []byte("\r\n"))
	line := head[:eol]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		l.fail(c, 400, "bad request line\n")
		return
	}
	method, uri, proto := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if string(proto) != "HTTP/1.1" {
		l.fail(c, 505, "only HTTP/1.1\n")
		return
	}
	rest, ok := bytes.CutPrefix(uri, l.prefix)
	if !ok || len(rest) > 0 && rest[0] != '/' && rest[0] != '?' {
		l.fail(c, 404, "no such service\n")
		return
	}
	var (
		cl          int64
		haveCL      bool
		tokenOK     = l.token == ""
		xff         []byte
		closeAfter  bool
		u           *econn
		headersFrom = eol + 2
	)
	b := l.scratch[:0]
	for h := head[headersFrom:]; len(h) > 2; {
		e := bytes.Index(h, []byte("\r\n"))
		hl := h[:e]
		h = h[e+2:]
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 {
			l.fail(c, 400, "bad header\n")
			return
		}
		name, val := hl[:colon], bytes.TrimSpace(hl[colon+1:])
		switch {
		case nameIs(name, "content-length"):
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 || haveCL && n != cl {
				l.fail(c, 400, "bad content-length\n")
				return
			}
			cl, haveCL = n, true
		case nameIs(name, "transfer-encoding"):
			l.fail(c, 501, "chunked bodies are not handled\n")
			return
		case nameIs(name, "authorization"):
			tokenOK = tokenOK || string(val) == l.token
		case nameIs(name, "connection"):
			closeAfter = closeAfter || bytes.Contains(bytes.ToLower(val), []byte("close"))
			continue
		case nameIs(name, "keep-alive"), nameIs(name, "proxy-connection"), nameIs(name, "te"),
			nameIs(name, "upgrade"), nameIs(name, "x-real-ip"):
			continue
		case nameIs(name, "x-forwarded-for"):
			if len(xff) > 0 {
				xff = append(xff, ", "...)
			}
			xff = append(xff, val...)
			continue
		}
		b = append(append(b, hl...), "\r\n"...)
	}
	if !tokenOK {
		l.fail(c, 401, "missing or wrong token\n")
		return
	}
	if u = l.upstream(int(l.rr.Add(1) % 3)); u == nil {
		l.fail(c, 502, "upstream unreachable\n")
		return
	}
	u.out = append(u.out, method...)
	u.out = append(u.out, ' ')
	if len(rest) == 0 || rest[0] == '?' {
		u.out = append(u.out, '/')
	}
	u.out = append(u.out, rest...)
	u.out = append(u.out, " HTTP/1.1\r\n"...)
	u.out = append(u.out, b...)
	u.out = append(u.out, "X-Real-IP: "...)
	u.out = append(u.out, c.ip...)
	u.out = append(u.out, "\r\nX-Forwarded-For: "...)
	if len(xff) > 0 {
		u.out = append(append(u.out, xff...), ", "...)
	}
	u.out = append(u.out, c.ip...)
	u.out = append(u.out, "\r\n\r\n"...)
	l.scratch = b
	c.busy, c.peer, u.peer = true, u, c
	c.bodyLeft, c.isHead, c.close = cl, string(method) == "HEAD", closeAfter
	u.gotHead, u.respLeft, u.reuse = false, 0, true
	l.flush(u)
}

// upstream returns an idle connection to upstream idx or dials one.
func (l *loop) upstream(idx int) *econn {
	if n := len(l.idle[idx]); n > 0 {
		u := l.idle[idx][n-1]
		l.idle[idx] = l.idle[idx][:n-1]
		return u
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	u, err := l.add(fd, true)
	if err != nil {
		return nil
	}
	u.idx = idx
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: firstUpstream + idx, Addr: [4]byte{127, 0, 0, 1}})
	if err == unix.EINPROGRESS {
		u.connecting = true
	} else if err != nil {
		l.closeFd(u)
		return nil
	}
	return u
}

// flush writes c.out as far as the socket takes it; the rest waits for
// the EPOLLOUT edge.
func (l *loop) flush(c *econn) {
	for len(c.out) > 0 && !c.connecting && !c.closed {
		n, err := unix.Write(c.fd, c.out)
		if err == unix.EAGAIN {
			return
		}
		if err != nil {
			l.broken(c)
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
	}
	if !c.closed && len(c.out) == 0 && c.closing {
		l.closeFd(c)
	}
}

// broken handles a failed connection.
func (l *loop) broken(c *econn) {
	if !c.up {
		l.dropClient(c)
		return
	}
	cl := c.peer
	if cl != nil {
		c.peer, cl.peer = nil, nil
	} else {
		l.unidle(c)
	}
	l.closeFd(c)
	if cl != nil {
		if c.gotHead {
			l.closeFd(cl) // the answer was cut
		} else {
			l.fail(cl, 502, "upstream failed\n")
		}
	}
}

func (l *loop) unidle(u *econn) {
	s := l.idle[u.idx]
	for i, x := range s {
		if x == u {
			l.idle[u.idx] = append(s[:i], s[i+1:]...)
			return
		}
	}
}

func (l *loop) writable(c *econn) {
	if c.connecting {
		if e, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
			l.broken(c)
			return
		}
		c.connecting = false
	}
	if len(c.out) == 0 {
		return
	}
	l.flush(c)
	if c.closed || len(c.out) > 0 {
		return
	}
	p := c.peer
	if p == nil || p.closed {
		return
	}
	// Room again: take up what was held back on the other side.
	if c.up {
		l.clientProcess(p)
		if !p.closed && p.stalled {
			l.clientRead(p)
		}
	} else if p.stalled {
		l.upRead(p)
	}
}

func (l *loop) upRead(u *econn) {
	if u.peer == nil { // idle: the upstream closed it, or sent what nobody asked for
		if n, ok := l.fill(u); !ok || n > 0 {
			l.broken(u)
		}
		return
	}
	for !u.closed && u.peer != nil {
		if len(u.peer.out) >= maxOut {
			u.stalled = true
			return
		}
		n, ok := l.fill(u)
		if !ok {
			l.broken(u)
			return
		}
		l.upProcess(u)
		if n == 0 || !u.stalled {
			return
		}
	}
}

func (l *loop) upProcess(u *econn) {
	c := u.peer
	if !u.gotHead {
		i := bytes.Index(u.in, crlf2)
		if i < 0 {
			if len(u.in) == cap(u.in) {
				l.broken(u)
			}
			return
		}
		if !l.answerHead(u, c, u.in[:i+4]) {
			return
		}
		consume(u, i+4)
		u.gotHead = true
	}
	k := int(min(int64(len(u.in)), u.respLeft))
	c.out = append(c.out, u.in[:k]...)
	consume(u, k)
	u.respLeft -= int64(k)
	if u.respLeft == 0 {
		l.finish(c, u)
	}
	l.flush(c)
}

// answerHead copies the upstream's head to the client without its
// hop-by-hop headers and sets the length of the body to relay.
func (l *loop) answerHead(u, c *econn, head []byte) bool {
	eol := bytes.Index(head, []byte("\r\n"))
	line := head[:eol]
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		l.broken(u)
		return false
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil || code < 200 {
		l.broken(u) // 1xx answers are not handled
		return false
	}
	haveCL := false
	mark := len(c.out)
	c.out = append(append(c.out, line...), "\r\n"...)
	for h := head[eol+2:]; len(h) > 2; {
		e := bytes.Index(h, []byte("\r\n"))
		hl := h[:e]
		h = h[e+2:]
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 {
			c.out = c.out[:mark]
			l.broken(u)
			return false
		}
		name, val := hl[:colon], bytes.TrimSpace(hl[colon+1:])
		switch {
		case nameIs(name, "content-length"):
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				c.out = c.out[:mark]
				l.broken(u)
				return false
			}
			u.respLeft, haveCL = n, true
		case nameIs(name, "transfer-encoding"):
			c.out = c.out[:mark]
			l.broken(u) // chunked answers are not handled
			return false
		case nameIs(name, "connection"):
			u.reuse = u.reuse && !bytes.Contains(bytes.ToLower(val), []byte("close"))
			continue
		case nameIs(name, "keep-alive"):
			continue
		}
		c.out = append(append(c.out, hl...), "\r\n"...)
	}
	if c.isHead || code == 204 || code == 304 {
		u.respLeft = 0
	} else if !haveCL {
		c.out = c.out[:mark]
		l.broken(u) // answers delimited by close are not handled
		return false
	}
	if c.close {
		c.out = append(c.out, "Connection: close\r\n"...)
	}
	c.out = append(c.out, "\r\n"...)
	return true
}

// finish ends an exchange: the upstream connection goes back to the pool
// if it can carry another request, and the client's next request, if it
// sent one already, starts.
func (l *loop) finish(c, u *econn) {
	c.peer, u.peer, c.busy = nil, nil, false
	if u.reuse && c.bodyLeft == 0 && len(u.in) == 0 && len(u.out) == 0 {
		l.idle[u.idx] = append(l.idle[u.idx], u)
	} else {
		l.closeFd(u)
	}
	if c.close || c.bodyLeft > 0 {
		c.closing = true // what is left of the body would read as a request
		return
	}
	if len(c.in) > 0 || c.stalled {
		l.flush(c)
		l.clientProcess(c)
		if !c.closed && c.stalled {
			l.clientRead(c)
		}
	}
}

func (l *loop) fail(c *econn, code int, msg string) {
	if u := c.peer; u != nil {
		u.peer, c.peer = nil, nil
		l.closeFd(u)
	}
	c.busy = false
	c.out = fmt.Appendf(c.out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, statusText(code), len(msg), msg)
	c.closing = true
	l.flush(c)
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 404:
		return "Not Found"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}
