//go:build linux

package proxy

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The client side of a loop: reading heads, writing answers, and the
// gateway's own answers.

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
		if len(c.out) > 0 && c.wr && !l.hold(c) {
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
			if u.wr && (u.connecting || u.wpos < len(c.sent) || (c.bodyLeft > 0 && len(c.in) > 0)) && !l.hold(c) {
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
	c.eofAtHead = c.eof || c.behind
	c.body, c.bodyLeft = c.req.ContentLength, c.req.ContentLength
	l.buildRequest(c, uri)
	c.in = c.in[:copy(c.in, c.in[end:])]
	c.behind = int64(len(c.in)) > c.bodyLeft
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
