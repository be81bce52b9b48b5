package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// The front loop serves plain HTTP/1.1 requests itself, one goroutine per
// connection and no other: it parses the head in place (one string for
// all of a request's strings), reuses the header map and writer of its
// connection, and watches for a client hang-up only when a request takes
// longer than watchAfter. net/http's server costs a background-read
// goroutine, deadline changes and a dozen allocations per request, which
// was most of the gateway's CPU beside nginx (docs/benchmarks.md).
//
// Anything it does not handle itself — another protocol version (HTTP/1.0,
// the HTTP/2 preface of h2c), Upgrade (WebSocket), Expect, a request body
// that is chunked or has conflicting lengths, a head that is larger than
// its buffer, or one net/http would refuse or read differently (bare LF,
// obsolete line folding, invalid names, values or Host, a missing Host) —
// is handed over with the bytes already read to the net/http server
// behind it, which serves that connection from then on. So every
// protocol corner is net/http's, and the loop only has to be right about
// the plain case.

const (
	// frontBufSize is the read buffer of a connection; a request head
	// must fit in it to be served by the loop.
	frontBufSize = 4 << 10
	// bufferBeforeChunking: an answer without a Content-Length that ends
	// within this many bytes gets a Content-Length (as net/http does).
	bufferBeforeChunking = 2048
	// maxPostHandlerRead: a request body a handler left unread is read
	// and dropped up to this size so the connection can be reused;
	// larger, the connection is closed (net/http's rule).
	maxPostHandlerRead = 256 << 10
)

// maxReusedFields: a connection's header map that held more fields than
// this is replaced rather than cleared for the next request.
const maxReusedFields = 32

// leadingCRorLF counts the CR and LF bytes that start b.
func leadingCRorLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// watchAfter is how long a request runs before its connection is watched
// for the client hanging up (which cancels the request's context).
// Requests that end sooner cost no watcher.
var watchAfter = 50 * time.Millisecond

// frontConn is one client connection served by the loop. Its goroutine
// owns every field but mu's; the watcher (a timer callback) takes mu.
type frontConn struct {
	srv    *Server
	c      net.Conn
	rc     syscall.RawConn // nil when c has no file descriptor
	pc     *prefixConn     // what br reads when bytes of c were read before (by an event loop); else nil
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context // cancelled when the client hangs up or the connection ends
	cancel context.CancelFunc
	tmpl   *http.Request // carries ctx into each request (its context is unexported)
	remote string
	opened time.Time // when accepted
	served bool      // a request was served
	// lastMethod is the method of the last request served ("" once CR
	// or LF bytes after it were dropped).
	lastMethod string
	wdl        time.Time     // the write deadline set on c; zero = none
	wspan      time.Duration // how far ahead of its setting wdl was
	header     http.Header   // the request's, reused
	// pipelined: this request is part of a pipeline (read by the
	// watcher); wasBehind: requests were buffered behind the previous
	// one (serve's goroutine only).
	pipelined atomic.Bool
	wasBehind bool
	w         frontWriter
	body      frontBody

	mu        sync.Mutex
	idle      bool          // between requests: Shutdown may close it
	closed    bool          // by Shutdown or Close
	idleUntil time.Time     // when idle: closed by the sweep after this; zero = never
	handling  bool          // a handler runs
	timer     *time.Timer   // starts the watcher; nil until a request needs it
	watchDone chan struct{} // non-nil while a watcher runs; closed when it ends
}

func (s *Server) newFrontConn(c net.Conn) *frontConn {
	fc := &frontConn{srv: s, c: c, remote: c.RemoteAddr().String(), header: make(http.Header, 8), idle: true}
	fc.opened = time.Now()
	if d := s.hs.ReadHeaderTimeout; d > 0 { // a new connection must start its request soon (as net/http)
		fc.idleUntil = fc.opened.Add(d)
	}
	if sc, ok := c.(syscall.Conn); ok {
		fc.rc, _ = sc.SyscallConn()
	}
	fc.br = bufio.NewReaderSize(c, frontBufSize)
	fc.bw = bufio.NewWriterSize(c, frontBufSize)
	ctx := context.WithValue(context.Background(), http.ServerContextKey, s.hs)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.LocalAddr())
	fc.ctx, fc.cancel = context.WithCancel(ctx)
	fc.tmpl = (&http.Request{}).WithContext(fc.ctx)
	fc.body.br, fc.body.cancel = fc.br, fc.cancel
	fc.w.fc = fc
	fc.w.header = make(http.Header, 8)
	return fc
}

// serve runs the connection's requests until it closes or is handed over.
func (fc *frontConn) serve() {
	handedOver := false
	defer func() {
		if p := recover(); p != nil {
			fc.srv.logf("http: panic serving %s: %v\n%s", fc.remote, p, stack())
		}
		fc.cancel()
		fc.mu.Lock()
		if fc.timer != nil {
			fc.timer.Stop()
		}
		fc.mu.Unlock()
		if !handedOver {
			if fc.body.left.Load() > 0 {
				fc.lingerClose()
			}
			fc.c.Close()
		}
		fc.srv.untrack(fc)
	}()
	hs := fc.srv.hs
	for {
		// The wait for a request is bounded by the server's sweep (an
		// idle connection is closed past its idleUntil), which saves
		// setting and clearing a read deadline on every request.
		if _, err := fc.br.Peek(1); err != nil {
			return
		}
		if fc.lastMethod == http.MethodPost {
			// As net/http: up to 4 CR or LF bytes some clients send after
			// a POST body are not a request.
			buf, _ := fc.br.Peek(min(4, fc.br.Buffered()))
			if k := leadingCRorLF(buf); k > 0 {
				fc.br.Discard(k)
				fc.lastMethod = ""
				continue
			}
		}
		if !fc.setIdle(false) {
			return
		}
		// A head that arrived whole needs no header deadline: it is set
		// only before waiting for the rest. The first request's head is
		// due ReadHeaderTimeout after the connection opened, as in
		// net/http; a later one's after its first byte.
		deadline := false
		n, err := fc.readHead(func() {
			if d := hs.ReadHeaderTimeout; d > 0 {
				due := time.Now().Add(d)
				if !fc.served {
					due = fc.opened.Add(d)
				}
				fc.c.SetReadDeadline(due)
				deadline = true
			}
		})
		if err != nil {
			return
		}
		if deadline {
			fc.c.SetReadDeadline(time.Time{})
		}
		var r *http.Request
		if n > 0 {
			r = fc.parse(n)
		}
		if r == nil {
			if !fc.wdl.IsZero() {
				fc.c.SetWriteDeadline(time.Time{})
			}
			handedOver = fc.handOver()
			return
		}
		fc.br.Discard(n)
		fc.lastMethod, fc.served = r.Method, true
		if !fc.serveRequest(r) {
			return
		}
		if !fc.setIdle(true) {
			return
		}
	}
}

// setIdle records the connection as idle (between requests) or busy; it
// reports false when the server is shutting down and the connection must
// close instead.
func (fc *frontConn) setIdle(idle bool) bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.closed || fc.srv.inShutdown.Load() {
		return false
	}
	fc.idle = idle
	if idle {
		if d := fc.srv.hs.IdleTimeout; d > 0 {
			fc.idleUntil = time.Now().Add(d)
		} else {
			fc.idleUntil = time.Time{}
		}
	}
	return true
}

// closeIfIdleUntil closes the connection when it has waited for a request
// past its idleUntil (for the server's sweep).
func (fc *frontConn) closeIfIdleUntil(now time.Time) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.idle && !fc.closed && !fc.idleUntil.IsZero() && now.After(fc.idleUntil) {
		fc.closed = true
		fc.c.Close()
	}
}

// rstAvoidanceDelay is how long a connection whose request body was not
// read to the end stays half-closed before it is closed: closing a socket
// with unread bytes sends a reset, which can destroy the answer before the
// client read it (net/http waits as long).
const rstAvoidanceDelay = 500 * time.Millisecond

func (fc *frontConn) lingerClose() {
	if cw, ok := fc.c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		time.Sleep(rstAvoidanceDelay)
	}
}

// closeIfIdle closes the connection when it waits for a request (for
// Shutdown) and reports whether it did or it was already closed.
func (fc *frontConn) closeIfIdle() bool {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.idle && !fc.closed {
		fc.closed = true
		fc.c.Close()
	}
	return fc.closed
}

func (fc *frontConn) closeNow() {
	fc.mu.Lock()
	fc.closed = true
	fc.mu.Unlock()
	fc.c.Close()
}

// readHead reads until the buffer holds a whole request head and returns
// its length, or 0 when the loop should not serve it (see peekHead; also
// over the server's MaxHeaderBytes, or an HTTP/2 preface).
func (fc *frontConn) readHead(beforeWait func()) (int, error) {
	limit := frontBufSize
	if m := fc.srv.hs.MaxHeaderBytes; m > 0 && m < limit {
		limit = m
	}
	return peekHead(fc.br, limit, func(buf []byte) bool { return len(buf) >= 4 && string(buf[:4]) == "PRI " }, beforeWait)
}

// parse turns the first n buffered bytes into a request, or returns nil
// when net/http should serve it (see the top of this file).
func (fc *frontConn) parse(n int) *http.Request {
	raw, _ := fc.br.Peek(n)
	if len(fc.header) > maxReusedFields { // a map never shrinks: do not keep a huge one per connection
		fc.header = make(http.Header, 8)
	}
	r := new(http.Request)
	*r = *fc.tmpl
	if !parseRequestHead(raw, fc.header, r, nil) {
		return nil
	}
	r.RemoteAddr = fc.remote
	fc.body.left.Store(r.ContentLength)
	if r.ContentLength > 0 {
		r.Body = &fc.body
	}
	return r
}

// parseRequestHead parses raw, a whole request head (its blank line
// included), into r with h as its header map (cleared first). It reports
// false for a head the lean parsers leave to net/http (see the top of
// this file). r.Body is http.NoBody; the caller sets RemoteAddr and the
// body.
func parseRequestHead(raw []byte, h http.Header, r *http.Request, a *headArena) bool {
	clear(h)                      // before the arena's text changes under its keys
	s := a.text(raw[:len(raw)-4]) // every string of the request is a part of this one
	line, rest, _ := strings.Cut(s, "\r\n")
	method, rest1, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(rest1, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || !validMethod(method) || uri == "" || uri[0] != '/' || strings.ContainsAny(line, "\r\n") {
		return false
	}
	var u *url.URL
	if a != nil && parsePlainURI(uri, &a.url) {
		u = &a.url
	} else {
		var err error
		if u, err = url.ParseRequestURI(uri); err != nil {
			return false
		}
	}
	var host string
	haveHost, haveLength, closeReq := false, false, false
	var length int64
	ok := parseFields(rest, h, a, func(k, v string) (keep, ok bool) {
		switch k {
		case "Host":
			if haveHost {
				return false, false
			}
			host, haveHost = v, true
			return false, true
		case "Content-Length":
			return true, oneLength(v, &haveLength, &length)
		case "Transfer-Encoding", "Upgrade", "Expect", "Http2-Settings":
			return false, false
		case "Connection":
			closeReq = closeReq || closes(v)
		}
		return true, true
	})
	if !ok {
		return false
	}
	if !haveHost || !httpguts.ValidHostHeader(host) {
		return false
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" { // as net/http (RFC 7234 section 5.4)
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	r.Method = method
	r.URL = u
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = h
	r.Host = host
	r.RequestURI = uri
	r.ContentLength = length
	r.Close = closeReq
	r.Body = http.NoBody
	return true
}

// parsePlainURI sets *u to what url.ParseRequestURI makes of uri when
// uri is a plain absolute path (letters, digits and the characters a path
// keeps unescaped, "-._~$&+,/:;=@") with an optional query of printable
// ASCII; it reports false, leaving *u alone, for anything else.
func parsePlainURI(uri string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(uri, "?")
	if path == "" || path[0] != '/' {
		return false
	}
	for i := 0; i < len(path); i++ {
		if !plainPathByte(path[i]) {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if query[i] <= ' ' || query[i] >= 0x7f {
			return false
		}
	}
	*u = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
	return true
}

func plainPathByte(c byte) bool { return plainPath[c] }

// plainPath: the bytes of a plain path (parsePlainURI), looked up per
// byte of every request's path.
var plainPath = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~$&+,/:;=@", byte(c)) >= 0
	}
	return t
}()

// validMethod: a method is a token (RFC 9110 section 9.1), the rule
// header field names follow too.
func validMethod(m string) bool { return httpguts.ValidHeaderFieldName(m) }

// handOver passes the connection, with what has been read of it, to the
// net/http server. It reports false when that server no longer accepts
// (the connection is then closed by serve).
func (fc *frontConn) handOver() bool {
	pre, _ := fc.br.Peek(fc.br.Buffered())
	pre = bytes.Clone(pre)
	if fc.pc != nil {
		pre = append(pre, fc.pc.pre...)
	}
	pc := &prefixConn{Conn: fc.c, pre: pre}
	fc.mu.Lock()
	closed := fc.closed
	fc.mu.Unlock()
	if closed || fc.srv.inShutdown.Load() {
		return false
	}
	// Serve returns once it has taken the one connection (and at once
	// when the server was shut down meanwhile); the connection goes on
	// in net/http's own goroutine, tracked for its Shutdown and Close.
	l := &oneConnListener{c: &framingConn{Conn: pc, atLine: true}}
	_ = fc.srv.hs.Serve(l)
	return l.taken()
}

// serveRequest runs the handler for r and finishes its answer; it
// reports whether the connection can take another request.
func (fc *frontConn) serveRequest(r *http.Request) bool {
	if !fc.wdl.IsZero() && time.Until(fc.wdl) < fc.wspan/2 {
		fc.c.SetWriteDeadline(time.Time{})
		fc.wdl = time.Time{}
	}
	w := &fc.w
	w.reset(r)
	// Part of a pipeline: more requests are buffered behind this one, or
	// it was buffered behind the previous one. The client waits for all
	// of their answers, so an end it sends meanwhile is a half-close.
	behind := fc.br.Buffered() > 0 || (fc.pc != nil && len(fc.pc.pre) > 0)
	fc.pipelined.Store(behind || fc.wasBehind)
	fc.wasBehind = behind
	fc.startWatch()
	ok := fc.runHandler(w, r)
	fc.stopWatch()
	if !ok {
		return false
	}
	if err := w.finish(); err != nil {
		return false
	}
	if left := fc.body.left.Load(); left > 0 {
		if left >= maxPostHandlerRead || w.closeAfter {
			return false
		}
		if d := fc.srv.hs.ReadHeaderTimeout; d > 0 {
			fc.c.SetReadDeadline(time.Now().Add(d))
		}
		if _, err := io.Copy(io.Discard, &fc.body); err != nil || fc.body.left.Load() > 0 {
			return false
		}
		fc.c.SetReadDeadline(time.Time{})
	}
	return !w.closeAfter && fc.ctx.Err() == nil
}

// runHandler reports false when the handler panicked (http.ErrAbortHandler
// is how a handler asks for the connection to be cut).
func (fc *frontConn) runHandler(w *frontWriter, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				fc.srv.logf("http: panic serving %s: %v\n%s", fc.remote, p, stack())
			}
		}
	}()
	fc.srv.handler.ServeHTTP(w, r)
	return true
}

func stack() []byte {
	buf := make([]byte, 64<<10)
	return buf[:runtime.Stack(buf, false)]
}

// startWatch arms the timer that, once a request has run for watchAfter,
// watches the connection for the client hanging up.
func (fc *frontConn) startWatch() {
	if fc.rc == nil {
		return
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.handling = true
	if fc.timer == nil {
		fc.timer = time.AfterFunc(watchAfter, fc.watch)
	} else {
		fc.timer.Reset(watchAfter)
	}
}

// stopWatch ends the watch of the request that finished: the timer is
// stopped and a running watcher is woken by a past read deadline and
// waited for.
func (fc *frontConn) stopWatch() {
	if fc.rc == nil {
		return
	}
	fc.mu.Lock()
	fc.handling = false
	done := fc.watchDone
	fc.watchDone = nil
	fc.timer.Stop()
	fc.mu.Unlock()
	if done != nil {
		fc.c.SetReadDeadline(aLongTimeAgo)
		<-done
		fc.c.SetReadDeadline(time.Time{})
	}
}

// watch runs on the timer's goroutine. While the request body is still
// being read the handler reads the connection, so the watch waits; then
// it waits for the socket to turn readable without taking any byte: EOF
// or an error is the client gone (the context is cancelled), data is a
// next request (the client is there; the watch ends).
func (fc *frontConn) watch() {
	fc.mu.Lock()
	if !fc.handling || fc.watchDone != nil {
		fc.mu.Unlock()
		return
	}
	if fc.body.left.Load() > 0 {
		fc.timer.Reset(watchAfter)
		fc.mu.Unlock()
		return
	}
	done := make(chan struct{})
	fc.watchDone = done
	fc.mu.Unlock()
	defer close(done)
	gone := false
	fc.rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
		case err == syscall.EAGAIN:
			return false // wait until readable
		case n == 0 && err == nil && fc.pipelined.Load():
			// A half-close after pipelined requests: the client waits
			// for their answers (net/http serves them too).
		default:
			gone = true // EOF (n == 0) or a reset
		}
		return true
	})
	if gone {
		fc.cancel()
	}
}

// frontBody is a request body of known length read from the connection.
// left is read by the watcher and after the handler; the handler (or one
// goroutine of its) reads the body.
type frontBody struct {
	br     *bufio.Reader
	left   atomic.Int64
	cancel context.CancelFunc // the connection's: a failed read means the client is gone
}

func (b *frontBody) Read(p []byte) (int, error) {
	left := b.left.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.br.Read(p)
	b.left.Store(left - int64(n))
	if err != nil {
		// As net/http: the request is over for the handler's context too
		// (a client that hung up, or the handler's read deadline passed).
		b.cancel()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	return n, err
}

func (b *frontBody) Close() error { return nil }

// prefixConn replays the bytes the loop read before handing over.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite passes a half-close on (a relayed WebSocket's), or closes.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// oneConnListener accepts one connection, then reports itself closed.
type oneConnListener struct {
	mu sync.Mutex
	c  net.Conn // nil once taken
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.c; c != nil {
		l.c = nil
		return c, nil
	}
	return nil, net.ErrClosed
}

func (l *oneConnListener) taken() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c == nil
}

func (l *oneConnListener) Close() error { return nil }

func (l *oneConnListener) Addr() net.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c.LocalAddr()
	}
	return &net.TCPAddr{}
}
