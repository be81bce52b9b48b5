//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The instance side of a loop: picking and dialing an instance, sending
// the request, relaying its answer, and retries.

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

// instance orders held writes (handle): the index of the instance c's
// request goes to, -1 without one.
func (c *cconn) instance() int {
	if c.up == nil || c.snap == nil {
		return -1
	}
	return c.cur()
}

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

// answerCut ends an answer the instance cut short: the client's
// connection is closed, so it sees the answer short.
func (l *evLoop) answerCut(c *cconn, err error) {
	l.gw.log.Warn().Str("path", c.req.URL.Path).Str("upstream", c.snap.Addr(c.cur())).Err(err).Msg("answer cut short")
	l.servedAs(c, c.status)
	c.state = csHead
	l.closeClient(c)
}
