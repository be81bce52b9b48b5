package proxy

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Server serves one handler on listeners with limits that keep hostile
// clients from holding resources: headers within 10 s and 1 MiB, idle
// keep-alive connections closed after 2 min, and the connection closed
// after answering a request whose framing is ambiguous (both
// Content-Length and Transfer-Encoding, RFC 9112 section 6.1). There is no
// read or write timeout for a whole request: bodies and answers may
// stream for as long as they make progress (the gateway bounds the gaps
// between reads of a body itself, see Options.BodyTimeout). The gateway,
// the sidecars and the control API use it; it suits any handler.
//
// Plain HTTP/1.1 requests are served by the front loop (front.go); a
// connection that needs more (upgrades, h2c, HTTP/1.0, chunked request
// bodies, unusual heads) is handed to net/http's server, hs, with the
// same handler and limits.
type Server struct {
	hs      *http.Server
	handler http.Handler
	noLoop  bool // WithoutEventLoop

	// loops serve a Gateway's plain requests (loop.go); nil for other
	// handlers or WithoutEventLoop. Set by NewServer.
	loops *loops

	inShutdown atomic.Bool
	mu         sync.Mutex
	sweeper    *time.Timer // runs sweep; nil until Serve
	listeners  map[net.Listener]struct{}
	conns      map[*frontConn]struct{}
}

// ServerOption changes what a Server speaks or how it serves.
type ServerOption func(*Server)

// WithH2C makes the server speak HTTP/2 cleartext (prior knowledge, as
// gRPC clients do) besides HTTP/1.1, for a gateway with EnableGRPC. A
// connection has at most MaxStreams streams open; header limits apply to
// each.
func WithH2C() ServerOption {
	return func(s *Server) {
		hs := s.hs
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		hs.Protocols = &p
		hs.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: MaxStreams}
	}
}

// MaxStreams bounds the HTTP/2 streams open at once on one client
// connection (net/http's default).
const MaxStreams = 250

// NewServer returns a Server for h. net/http's own error log goes to
// logger at warn level.
func NewServer(h http.Handler, logger zerolog.Logger, opts ...ServerOption) *Server {
	s := &Server{
		handler:   closeAmbiguous(h),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*frontConn]struct{}{},
	}
	s.hs = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          log.New(logWriter{logger}, "", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if fc, ok := c.(*framingConn); ok {
				return context.WithValue(ctx, framingKey{}, fc)
			}
			return ctx
		},
	}
	for _, o := range opts {
		o(s)
	}
	if g, served := loopTarget(h); g != nil && !s.noLoop {
		// Started here, not in Serve, so they exist as long as the
		// server: Close or Shutdown ends them.
		ls, err := startLoops(s, g, served)
		if err != nil {
			s.logf("gateway: event loops not available (%v); serving every connection with a goroutine", err)
		}
		s.loops = ls
	}
	return s
}

func (s *Server) logf(format string, args ...any) { s.hs.ErrorLog.Printf(format, args...) }

// Serve accepts connections on ln until Shutdown or Close (it then
// returns nil) or until ln fails.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return nil
	}
	s.mu.Lock()
	if s.sweeper == nil {
		s.sweeper = time.AfterFunc(s.sweepEvery(), s.sweep)
	}
	s.mu.Unlock()
	loops := s.loops
	defer s.track(ln, false)
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return nil
			}
			var ne interface{ Temporary() bool }
			if errors.As(err, &ne) && ne.Temporary() { // EMFILE and the like: wait, as net/http does
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if loops != nil && loops.adopt(c) {
			continue
		}
		fc := s.newFrontConn(c)
		if !s.trackConn(fc) {
			c.Close()
			continue
		}
		go fc.serve()
	}
}

func (s *Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

func (s *Server) trackConn(fc *frontConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	s.conns[fc] = struct{}{}
	return true
}

func (s *Server) untrack(fc *frontConn) {
	s.mu.Lock()
	delete(s.conns, fc)
	s.mu.Unlock()
}

// sweep closes the front loop's connections that waited for a request
// longer than allowed (ReadHeaderTimeout for a new connection,
// IdleTimeout between requests). It runs on a timer a few times per the
// shorter of the two, so no goroutine waits for it in between.
func (s *Server) sweep() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for fc := range s.conns {
		fc.closeIfIdleUntil(now)
	}
	if !s.inShutdown.Load() {
		s.sweeper.Reset(s.sweepEvery())
	}
}

func (s *Server) sweepEvery() time.Duration {
	every := time.Second
	for _, d := range []time.Duration{s.hs.ReadHeaderTimeout, s.hs.IdleTimeout} {
		if d > 0 {
			every = min(every, max(d/8, 10*time.Millisecond))
		}
	}
	return every
}

// closeListeners marks the server shut down and closes its listeners.
func (s *Server) closeListeners() {
	s.mu.Lock()
	if s.sweeper != nil {
		s.sweeper.Stop()
	}
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
}

// closeIdle closes the loop's idle connections and reports whether none
// is left open.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	quiet := s.loops == nil || s.loops.closeIdle()
	for fc := range s.conns {
		if !fc.closeIfIdle() {
			quiet = false
		}
	}
	return quiet && len(s.conns) == 0
}

// Shutdown stops accepting, lets requests in flight finish until ctx is
// done and then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	hsErr := make(chan error, 1)
	go func() { hsErr <- s.hs.Shutdown(ctx) }()
	poll := time.Millisecond
	var err error
	for !s.closeIdle() {
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
			s.closeConns()
		case <-t.C:
			poll = min(2*poll, 500*time.Millisecond)
			continue
		}
		break
	}
	if herr := <-hsErr; herr != nil {
		err = errors.Join(err, herr, s.hs.Close())
	}
	if s.loops != nil {
		s.loops.wait()
	}
	return err
}

// Close closes the listeners and every connection now.
func (s *Server) Close() error {
	s.closeListeners()
	s.closeConns()
	return s.hs.Close()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	for fc := range s.conns {
		fc.closeNow()
	}
	s.mu.Unlock()
	if s.loops != nil {
		s.loops.closeAll() // not under mu: a loop handing a connection over takes it
	}
	s.mu.Lock()
	for fc := range s.conns {
		fc.closeNow()
	}
	s.mu.Unlock()
}

// serveFront serves c, of which pre was read already (by an event
// loop), on the front loop from its start; opened is when it was
// accepted.
func (s *Server) serveFront(c net.Conn, pre []byte, opened time.Time) {
	fc := s.newFrontConn(c)
	fc.opened = opened
	if d := s.hs.ReadHeaderTimeout; d > 0 {
		fc.idleUntil = opened.Add(d)
	}
	if len(pre) > 0 {
		fc.pc = &prefixConn{Conn: c, pre: pre}
		fc.br.Reset(fc.pc)
	}
	if !s.trackConn(fc) {
		c.Close()
		return
	}
	go fc.serve()
}

// serveNetHTTP hands c, of which pre was read already, to net/http's
// server.
func (s *Server) serveNetHTTP(c net.Conn, pre []byte) {
	l := &oneConnListener{c: &framingConn{Conn: &prefixConn{Conn: c, pre: pre}, atLine: true}}
	_ = s.hs.Serve(l)
	if !l.taken() {
		c.Close()
	}
}

// Serve serves h on ln until ctx is done, then shuts down gracefully
// (requests in flight get grace to finish; then connections are closed).
// It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger zerolog.Logger, grace time.Duration, opts ...ServerOption) error {
	srv := NewServer(h, logger, opts...)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = srv.Shutdown(sctx) // a grace that ran out closed the rest
	return <-errc
}

type logWriter struct{ l zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn().Str("component", "http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}

// net/http accepts a request with both Content-Length and
// Transfer-Encoding (it drops Content-Length and reads the chunks, as RFC
// 9112 allows) but keeps the connection open, and hides from the handler
// that both were there. framingConn watches the bytes read for a header
// block that names both, so the answer to that request closes the
// connection: a front end and easlocal that disagree on where the request
// ended cannot smuggle a second request through. A body line that looks
// like such a header can only cause an early close, never a missed one.

type framingKey struct{}

type framingListener struct{ net.Listener }

func (l framingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framingConn{Conn: c, atLine: true}, nil
}

const (
	teName = "transfer-encoding:"
	clName = "content-length:"
)

// framingConn is read by net/http's connection goroutine (and its
// background reader, never at the same time); ambiguous is also read by
// the handler.
type framingConn struct {
	net.Conn
	atLine    bool              // the next byte read starts a line
	line      [len(teName)]byte // the start of the current line
	n         int               // bytes in line; len(line) when checked
	cl, te    bool              // seen in the current header block
	ambiguous atomic.Bool       // a block had both: close after the answer
}

// CloseWrite passes a half-close on (a relayed WebSocket's), or closes.
func (c *framingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan(p[:n])
	return n, err
}

// scan looks at the start of every line only (bytes.IndexByte skips the
// rest), so it costs little on bodies.
func (c *framingConn) scan(p []byte) {
	for len(p) > 0 {
		if !c.atLine {
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return
			}
			p = p[i+1:]
			c.atLine, c.n = true, 0
			continue
		}
		b := p[0]
		p = p[1:]
		if b == '\n' {
			if c.n == 0 || (c.n == 1 && c.line[0] == '\r') {
				c.cl, c.te = false, false // end of a header block
			} else {
				c.check()
			}
			c.n = 0
			continue
		}
		c.line[c.n] = b
		c.n++
		if c.n == len(c.line) {
			c.check()
			c.atLine = false
		}
	}
}

func (c *framingConn) check() {
	l := string(c.line[:c.n]) // no allocation: only compared
	switch {
	case len(l) >= len(clName) && strings.EqualFold(l[:len(clName)], clName):
		c.cl = true
	case len(l) >= len(teName) && strings.EqualFold(l[:len(teName)], teName):
		c.te = true
	}
	if c.cl && c.te {
		c.ambiguous.Store(true)
	}
}

// closeAmbiguous asks net/http to close the connection after answering a
// request that framingConn found ambiguous. Handlers must keep a
// Connection: close header they find set (the gateway does).
func closeAmbiguous(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fc, ok := r.Context().Value(framingKey{}).(*framingConn); ok && fc.ambiguous.Swap(false) {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}
