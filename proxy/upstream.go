package proxy

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The upstream side is a lean HTTP/1.1 client instead of http.Transport:
// the handler goroutine writes the request and reads the answer on a
// pooled keep-alive connection itself, so a request costs no goroutine
// hand-offs (http.Transport uses a read and a write goroutine per
// connection and channels between them; that, with ReverseProxy's header
// copies, was most of the gateway's cost beside nginx in BenchmarkGateway).

const (
	// maxIdlePerHost bounds idle keep-alive connections per instance.
	maxIdlePerHost = 512
	// idleTimeout closes connections idle longer than this.
	idleTimeout = 90 * time.Second
	// checkAfterIdle: a connection idle longer than this is checked for a
	// close by the instance (e.g. uvicorn's 5 s keep-alive) before reuse.
	checkAfterIdle = 500 * time.Millisecond
	// inlineBody: request bodies of known length up to this are written
	// by the handler before it reads the answer (they fit in the socket
	// buffers); larger or chunked ones are written by a goroutine so an
	// instance that answers while still reading cannot deadlock us.
	inlineBody = 64 << 10
	bufSize    = 16 << 10
)

// dialTimeout bounds connecting to an instance.
var dialTimeout = 10 * time.Second

// pool holds idle keep-alive connections per instance address. Safe for
// concurrent use; each hostPool's mutex is held only to push or pop.
type pool struct {
	dialer net.Dialer
	hosts  sync.Map // addr string → *hostPool
}

type hostPool struct {
	mu   sync.Mutex
	idle []*upConn // LIFO: the most recently used is reused first
}

// upConn is one connection to an instance. Owned by one request at a time
// (between pool.get and pool.put/close).
type upConn struct {
	c         net.Conn
	cr        countingReader
	br        *bufio.Reader
	bw        *bufio.Writer
	host      *hostPool
	idleSince time.Time
	abort     func() // sets a past deadline: unblocks I/O when the client leaves
	ex        exchange
	resp      http.Response // the answer being read, when readSimpleAnswer took it
	header    http.Header   // resp's, reused
	body      answerBody    // resp's
	ew        errWriter     // over bw, for an inline body (a field: saves an allocation)
}

// countingReader counts the bytes read from an instance and, while an
// answer's head is read, stops at limit: http.ReadResponse has no bound of
// its own and would hold an endless head in memory.
type countingReader struct {
	c     net.Conn
	n     int64
	limit int64 // no reads past this count; 0 = no limit
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.limit > 0 {
		left := r.limit - r.n
		if left <= 0 {
			return 0, errHeadTooLarge
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := r.c.Read(p)
	r.n += int64(n)
	return n, err
}

// MaxAnswerHead bounds the head of an instance's answer (status line,
// headers and any 1xx interim answers before it), as the servers bound a
// client's request head: 502 above it.
const MaxAnswerHead = 1 << 20

var errHeadTooLarge = errors.New("the instance's answer head is larger than 1 MiB")

func newPool() *pool {
	return &pool{dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
}

func (p *pool) hostFor(addr string) *hostPool {
	if h, ok := p.hosts.Load(addr); ok {
		return h.(*hostPool)
	}
	h, _ := p.hosts.LoadOrStore(addr, &hostPool{})
	return h.(*hostPool)
}

// get returns an idle connection to addr (reused=true) or dials a new one.
// check forces the liveness check on reuse (for bodies that cannot be
// replayed should the connection turn out to be dead).
func (p *pool) get(ctx context.Context, addr string, fresh, check bool) (uc *upConn, reused bool, err error) {
	h := p.hostFor(addr)
	if !fresh {
		for {
			h.mu.Lock()
			n := len(h.idle)
			if n == 0 {
				h.mu.Unlock()
				break
			}
			uc = h.idle[n-1]
			h.idle[n-1] = nil
			h.idle = h.idle[:n-1]
			h.mu.Unlock()
			idle := time.Since(uc.idleSince)
			if idle > idleTimeout || ((check || idle > checkAfterIdle) && !alive(uc.c)) {
				uc.c.Close()
				continue
			}
			return uc, true, nil
		}
	}
	c, err := p.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	uc = &upConn{c: c, host: h}
	uc.cr.c = c
	uc.abort = func() { c.SetDeadline(aLongTimeAgo) }
	uc.br = bufio.NewReaderSize(&uc.cr, bufSize)
	uc.bw = bufio.NewWriterSize(c, bufSize)
	return uc, false, nil
}

// put returns a connection whose exchange completed cleanly.
func (p *pool) put(uc *upConn) {
	if uc.br.Buffered() > 0 { // bytes beyond the answer: out of sync
		uc.c.Close()
		return
	}
	uc.idleSince = time.Now()
	h := uc.host
	h.mu.Lock()
	if len(h.idle) >= maxIdlePerHost {
		h.mu.Unlock()
		uc.c.Close()
		return
	}
	h.idle = append(h.idle, uc)
	var expired *upConn
	if oldest := h.idle[0]; uc.idleSince.Sub(oldest.idleSince) > idleTimeout {
		expired = oldest
		h.idle = h.idle[1:]
	}
	h.mu.Unlock()
	if expired != nil {
		expired.c.Close()
	}
}

// closeIdle closes every idle connection (for tests and shutdown).
func (p *pool) closeIdle() {
	p.hosts.Range(func(_, v any) bool {
		h := v.(*hostPool)
		h.mu.Lock()
		idle := h.idle
		h.idle = nil
		h.mu.Unlock()
		for _, uc := range idle {
			uc.c.Close()
		}
		return true
	})
}

// alive reports whether an idle connection is still open: no EOF and no
// unexpected bytes waiting (a non-blocking MSG_PEEK).
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && errors.Is(err, syscall.EAGAIN)
		return true
	})
	return err == nil && ok
}

// outRequest is what is sent upstream for one client request.
type outRequest struct {
	r       *http.Request // the client's request: method, host, context
	uri     string        // request target after the prefix is stripped
	buf     []byte        // buffered body (signed requests), or nil
	body    io.Reader     // streamed body (raw-token requests), or nil
	length  int64         // body length; -1 = unknown (chunked)
	control string        // control-API token to keep from the instance, or ""
	upgrade bool          // a WebSocket upgrade: the instance may switch protocols
}

func (o *outRequest) replayable() bool { return o.body == nil }

var aLongTimeAgo = time.Unix(1, 0)

// errDeadline marks an rpc.keepalive expiry.
var errDeadline = errors.New("instance did not answer in time")

// exchange is one attempt on one connection: it writes the request and
// reads the answer's head. On success the caller streams resp.Body and
// then calls finish. The connection is closed on any error.
type exchange struct {
	uc      *upConn
	stop    func() bool // cancels the context watcher
	writeCh chan error  // body writer goroutine's result, or nil
	resp    *http.Response
	broken  bool // writing the request failed: the connection is not reused
}

// errWriter keeps the error of its writer, so a copy's error tells the
// writer's apart from its reader's.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}

// roundTrip sends o to addr. A stale pooled connection (closed by the
// instance while idle: nothing at all came back) is replaced by a new one
// once when the request can be replayed.
func (p *pool) roundTrip(o *outRequest, addr string, keepalive time.Duration) (*exchange, error) {
	fresh := false
	for {
		uc, reused, err := p.get(o.r.Context(), addr, fresh, !o.replayable())
		if err != nil {
			return nil, err
		}
		start := uc.cr.n
		ex, err := uc.exchange(o, keepalive)
		if err == nil {
			return ex, nil
		}
		if reused && uc.cr.n == start && o.replayable() && o.r.Context().Err() == nil && !errors.Is(err, errDeadline) {
			fresh = true
			continue
		}
		return nil, err
	}
}

func (uc *upConn) exchange(o *outRequest, keepalive time.Duration) (*exchange, error) {
	// The exchange lives in the connection (one request at a time owns it)
	// to save an allocation per request.
	uc.ex = exchange{uc: uc}
	ex := &uc.ex
	c := uc.c
	ex.stop = context.AfterFunc(o.r.Context(), uc.abort)
	if keepalive > 0 {
		c.SetDeadline(time.Now().Add(keepalive))
	}

	uc.writeHead(o)
	// werr: writing to the instance failed. It may have answered before
	// it closed (a 400 or 413 without reading the body): that answer is
	// in the receive queue, and is what the client gets.
	var werr error
	switch {
	case o.buf != nil:
		uc.bw.Write(o.buf)
	case o.body != nil && o.length > 0 && o.length <= inlineBody:
		uc.ew = errWriter{w: uc.bw}
		if _, err := io.Copy(&uc.ew, io.LimitReader(o.body, o.length)); err != nil {
			if uc.ew.err == nil { // reading the client's body failed
				return uc.fail(o, keepalive, err)
			}
			werr = err
		}
	case o.body != nil:
		ex.writeCh = make(chan error, 1)
		go func() {
			err := uc.writeBody(o)
			if errors.Is(err, errBodyTimeout) {
				uc.abort() // the instance waits for the rest: stop reading its answer
			}
			ex.writeCh <- err
		}()
	}
	if ex.writeCh == nil && werr == nil {
		werr = uc.bw.Flush()
	}
	ex.broken = werr != nil
	// Bytes of the head already buffered were counted when read.
	uc.cr.limit = uc.cr.n - int64(uc.br.Buffered()) + MaxAnswerHead
	for {
		resp, err := uc.readSimpleAnswer(o.r)
		if err == nil && resp == nil {
			resp, err = http.ReadResponse(uc.br, o.r)
		}
		if err != nil {
			if uc.cr.limit > 0 && uc.cr.n >= uc.cr.limit {
				err = errHeadTooLarge
			} else if werr != nil {
				err = werr // no answer came: the write's error says why
			}
			return uc.fail(o, keepalive, err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			ex.resp = resp
			break
		}
		// 1xx interim answers (100 Continue, 103 Early Hints) are not relayed.
	}
	uc.cr.limit = 0
	if ex.resp.StatusCode == http.StatusSwitchingProtocols && !o.upgrade {
		return uc.fail(o, keepalive, errors.New("instance switched protocols, which the gateway does not relay"))
	}
	if keepalive > 0 {
		c.SetDeadline(time.Time{}) // keepalive bounds the wait for the answer only
	}
	return ex, nil
}

// fail ends a failed exchange: the connection is closed (a body writer
// still running is waited for) and a deadline expiry becomes errDeadline.
func (uc *upConn) fail(o *outRequest, keepalive time.Duration, err error) (*exchange, error) {
	uc.ex.stop()
	uc.c.Close()
	if uc.ex.writeCh != nil {
		if werr := <-uc.ex.writeCh; errors.Is(werr, errBodyTimeout) {
			err = werr // the cause of the abort
		}
	}
	if errors.Is(err, errBodyTimeout) {
		return nil, err
	}
	var ne net.Error
	if keepalive > 0 && o.r.Context().Err() == nil && errors.As(err, &ne) && ne.Timeout() {
		return nil, errDeadline
	}
	return nil, err
}

// finish returns the connection to the pool when the answer was read to
// the end and the request fully written, or closes it.
func (ex *exchange) finish(p *pool, bodyDone bool) {
	watcherRan := !ex.stop()
	ok := bodyDone && !watcherRan && !ex.resp.Close && !ex.broken
	if ex.writeCh != nil {
		select {
		case err := <-ex.writeCh:
			ok = ok && err == nil
		default:
			// Still writing a body the instance did not wait for.
			ok = false
			ex.uc.c.Close()
			<-ex.writeCh
		}
	}
	if ok {
		p.put(ex.uc)
	} else {
		ex.uc.c.Close()
	}
}

// writeHead buffers the request line and headers: the client's headers
// minus hop-by-hop ones (and those named in Connection), X-Forwarded-For
// with the client's address appended, and our own framing. Filtering
// while writing saves copying the header map.
func (uc *upConn) writeHead(o *outRequest) { writeRequestHead(uc.bw, o) }

// writeRequestHead is writeHead on any buffered writer (the event loop's
// too).
func writeRequestHead(bw *bufio.Writer, o *outRequest) {
	r := o.r
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(o.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	bw.WriteString(clean(host))
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if k == "Cookie" {
			for _, v := range vv {
				if v = keptCookies(v, o.control); v != "" {
					bw.WriteString("Cookie: ")
					bw.WriteString(clean(v))
					bw.WriteString("\r\n")
				}
			}
			continue
		}
		if !forwarded(k, vv, conn, o.control) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(clean(v))
			bw.WriteString("\r\n")
		}
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = ""
	}
	if ip != "" {
		// The peer, whatever the client claimed.
		bw.WriteString("X-Real-IP: ")
		bw.WriteString(clean(ip))
		bw.WriteString("\r\n")
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 || ip != "" {
		bw.WriteString("X-Forwarded-For: ")
		for i, v := range prior {
			if i > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(clean(v))
		}
		if ip != "" {
			if len(prior) > 0 {
				bw.WriteString(", ")
			}
			bw.WriteString(clean(ip))
		}
		bw.WriteString("\r\n")
	}
	if o.upgrade {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: websocket\r\n")
	}
	switch {
	case o.buf != nil:
		writeLength(bw, int64(len(o.buf)))
	case o.body != nil && o.length > 0:
		writeLength(bw, o.length)
	case o.body != nil:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		switch r.Method {
		case "POST", "PUT", "PATCH":
			bw.WriteString("Content-Length: 0\r\n")
		}
	}
	bw.WriteString("\r\n")
}

// ControlCookiePrefix starts the names reserved for easlocal's own
// cookies (it sets none today); they are never forwarded to an instance.
const ControlCookiePrefix = "easlocal_"

// controlHeaderPrefix starts header names reserved for easlocal's own
// credentials; such headers are never forwarded to an instance.
const controlHeaderPrefix = "X-Easlocal-"

func isControlHeader(k string) bool {
	return len(k) >= len(controlHeaderPrefix) && strings.EqualFold(k[:len(controlHeaderPrefix)], controlHeaderPrefix)
}

// isControlAuth reports whether an Authorization header carries the
// control token (raw or as a Bearer token).
func isControlAuth(vv []string, control string) bool {
	for _, v := range vv {
		v = strings.TrimSpace(v)
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			v = strings.TrimSpace(v[7:])
		}
		if subtle.ConstantTimeCompare([]byte(v), []byte(control)) == 1 {
			return true
		}
	}
	return false
}

// forwarded reports whether header k (values vv) goes on to an instance:
// not hop-by-hop or named in Connection (conn), TE only as "trailers"
// (gRPC), and none of easlocal's credentials (X-Easlocal-*, an
// Authorization holding the control token). Host, the body's framing and
// the client-address headers are written by the caller; Cookie goes
// through keptCookies.
func forwarded(k string, vv, conn []string, control string) bool {
	switch k {
	case "Host", "Content-Length", "Transfer-Encoding", "Expect", "X-Forwarded-For", "X-Real-Ip",
		"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Trailer", "Upgrade", "Cookie":
		return false
	case "Te":
		if len(vv) != 1 || !strings.EqualFold(vv[0], "trailers") {
			return false
		}
	case "Authorization":
		if control != "" && isControlAuth(vv, control) {
			return false
		}
	}
	return !(len(conn) > 0 && namedIn(conn, k)) && !isControlHeader(k)
}

// keptCookies is Cookie value v without easlocal's own cookies ("" when
// nothing is left). A value without one is returned as it is, without
// allocating: the common case on the request path.
func keptCookies(v, control string) string {
	if !controlCookieIn(v, control) {
		return v
	}
	var b strings.Builder
	for pair := range strings.SplitSeq(v, ";") {
		if pair = strings.TrimSpace(pair); pair == "" || isControlCookie(pair, control) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(pair)
	}
	return b.String()
}

// controlCookieIn is a quick check for a Cookie value that may hold one
// of easlocal's cookies.
func controlCookieIn(v, control string) bool {
	for pair := range strings.SplitSeq(v, ";") {
		if isControlCookie(strings.TrimSpace(pair), control) {
			return true
		}
	}
	return false
}

func isControlCookie(pair, control string) bool {
	name, value, _ := strings.Cut(pair, "=")
	name = strings.TrimSpace(name)
	if len(name) >= len(ControlCookiePrefix) && strings.EqualFold(name[:len(ControlCookiePrefix)], ControlCookiePrefix) {
		return true
	}
	value = strings.Trim(strings.TrimSpace(value), `"`)
	return control != "" && subtle.ConstantTimeCompare([]byte(value), []byte(control)) == 1
}

// namedIn reports whether header key k is listed in Connection values.
func namedIn(conn []string, k string) bool {
	for _, v := range conn {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), k) {
				return true
			}
		}
	}
	return false
}

func writeLength(bw *bufio.Writer, n int64) {
	bw.WriteString("Content-Length: ")
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10)) // formats in place: no allocation
	bw.WriteString("\r\n")
}

// clean keeps a header value on one line (values parsed by net/http never
// contain CR or LF; this guards the ones we build).
func clean(v string) string {
	if strings.ContainsAny(v, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
	}
	return v
}

// writeBody streams a large or chunked body, flushing after every read so
// a body the client sends slowly (a stream) reaches the instance as sent.
func (uc *upConn) writeBody(o *outRequest) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var w io.Writer = uc.bw
	var cw io.WriteCloser
	src := o.body
	if o.length > 0 {
		src = io.LimitReader(o.body, o.length)
	} else {
		cw = httputil.NewChunkedWriter(uc.bw)
		w = cw
	}
	if err := uc.bw.Flush(); err != nil { // the head
		return err
	}
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if err := uc.bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if cw != nil {
		if err := cw.Close(); err != nil {
			return err
		}
		uc.bw.WriteString("\r\n")
	}
	return uc.bw.Flush()
}
