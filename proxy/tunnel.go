package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// WebSocket: the upgrade request goes to one instance on a connection of
// its own; when the instance answers 101 the client's connection is taken
// over from the server and relay copies bytes both ways. relay and
// tunnels know nothing of net/http: another front end hands them the
// client's connection and what it had read ahead.

// isWebSocket reports whether r asks to switch to the WebSocket protocol
// (RFC 6455 section 4.1). Other upgrades (h2c) are not relayed: the
// request is forwarded without its Upgrade header.
func isWebSocket(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.Method != http.MethodGet || r.ContentLength != 0 {
		return false
	}
	ws := false
	for _, v := range r.Header["Upgrade"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "websocket") {
				ws = true
			}
		}
	}
	return ws && namedIn(r.Header["Connection"], "Upgrade")
}

// tunnel relays a WebSocket upgrade to endpoint idx of snap and, once the
// instance switched protocols, the connection's bytes until either side
// closes it. An instance that answers anything else is relayed as for any
// request.
func (g *Gateway) tunnel(w http.ResponseWriter, r *http.Request, uri string, snap *endpoints.Snapshot, idx int, keepalive time.Duration) {
	upstream := snap.Addr(idx)
	instance := snap.Endpoints[idx].Instance
	o := outRequest{r: r, uri: uri, control: g.control, upgrade: true}
	uc, _, err := g.pool.get(r.Context(), upstream, true, false)
	var ex *exchange
	if err == nil {
		ex, err = uc.exchange(&o, keepalive)
	}
	if g.observe != nil {
		status := 0
		if err == nil {
			status = ex.resp.StatusCode
		}
		g.observe(instance, attemptStatus(r, status, err), false)
	}
	if err != nil {
		g.answerError(w, r, upstream, err)
		return
	}
	ex.stop() // from here the tunnel, not the request, owns the connection
	inst := ex.uc.c
	resp := ex.resp
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer inst.Close()
		copyResponseHeader(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		if err := g.copyBody(w, resp); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		inst.Close()
		g.log.Warn().Err(err).Str("path", r.URL.Path).Msg("cannot take over the connection for a WebSocket")
		http.Error(w, "bad gateway: the connection cannot be switched to WebSocket", http.StatusBadGateway)
		return
	}
	_ = client.SetDeadline(time.Time{}) // the server's header and body deadlines
	writeSwitch(brw.Writer, resp)
	if err := brw.Writer.Flush(); err != nil {
		client.Close()
		inst.Close()
		return
	}
	t := g.tunnels.add(instance, client, inst)
	defer g.tunnels.remove(t)
	g.log.Debug().Str("path", r.URL.Path).Str("upstream", upstream).Msg("WebSocket connected")
	up, down := relay(client, brw.Reader, inst, ex.uc.br, sendTimeout)
	g.log.Debug().Str("path", r.URL.Path).Str("upstream", upstream).Int64("sent", up).Int64("received", down).Msg("WebSocket closed")
}

// writeSwitch writes the instance's 101 answer to the client: its headers
// minus hop-by-hop ones, and the upgrade itself.
func writeSwitch(bw *bufio.Writer, resp *http.Response) {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n")
	h := make(http.Header, len(resp.Header))
	copyResponseHeader(h, resp.Header)
	_ = h.Write(bw)
	bw.WriteString("\r\n")
}

// relay copies bytes from client (read through fromClient, which may hold
// bytes read ahead) to inst and from inst (through fromInst) to client
// until either side closes, then closes both connections. A side that
// ends cleanly has its close passed on as a half-close where the
// connection has one, and the other side gets relayLinger to finish, so
// a WebSocket closing handshake completes. Each write must complete
// within wait (0 = no limit): a side that stops reading is cut off rather
// than holding the other. It returns the bytes copied each way. One
// goroutine besides the caller's.
func relay(client net.Conn, fromClient io.Reader, inst net.Conn, fromInst io.Reader, wait time.Duration) (up, down int64) {
	done := make(chan int64, 1)
	go func() {
		n, clean := copyTimed(inst, fromClient, wait)
		endHalf(inst, client, clean)
		done <- n
	}()
	down, clean := copyTimed(client, fromInst, wait)
	endHalf(client, inst, clean)
	up = <-done
	client.Close()
	inst.Close()
	return up, down
}

// relayLinger is how long the other side of a relay may still send after
// one side closed.
const relayLinger = 5 * time.Second

// endHalf ends the direction that wrote to dst and read from src: on a
// clean end dst gets a half-close and its own reads relayLinger; else (or
// without half-close) both connections are closed, which ends the other
// direction too.
func endHalf(dst, src net.Conn, clean bool) {
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && clean && cw.CloseWrite() == nil {
		_ = dst.SetReadDeadline(time.Now().Add(relayLinger))
		return
	}
	dst.Close()
	src.Close()
}

// copyTimed copies src to dst until either fails, giving each write wait.
// clean reports an end by EOF from src.
func copyTimed(dst net.Conn, src io.Reader, wait time.Duration) (n int64, clean bool) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			if wait > 0 {
				_ = dst.SetWriteDeadline(time.Now().Add(wait))
			}
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, false
			}
		}
		if rerr != nil {
			return n, errors.Is(rerr, io.EOF)
		}
	}
}

// tunnels are the WebSocket connections a gateway is relaying, so they
// can be closed when their instance goes away or the gateway stops (the
// server no longer knows them once they were taken over).
type tunnels struct {
	mu      sync.Mutex
	open    map[*tunnelConn]struct{}
	drained chan struct{} // closed when open becomes empty; nil = nobody waits
}

type tunnelConn struct {
	instance     string
	client, inst net.Conn
}

func (t *tunnels) add(instance string, client, inst net.Conn) *tunnelConn {
	c := &tunnelConn{instance: instance, client: client, inst: inst}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = make(map[*tunnelConn]struct{})
	}
	t.open[c] = struct{}{}
	return c
}

func (t *tunnels) remove(c *tunnelConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.open, c)
	if len(t.open) == 0 && t.drained != nil {
		close(t.drained)
		t.drained = nil
	}
}

// empty returns a channel closed once no tunnel is open.
func (t *tunnels) empty() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.open) == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if t.drained == nil {
		t.drained = make(chan struct{})
	}
	return t.drained
}

// count returns the tunnels open (for tests).
func (t *tunnels) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

func (t *tunnels) closeInstance(instance string) {
	t.closeMatching(func(c *tunnelConn) bool { return c.instance == instance })
}

func (t *tunnels) closeAll() { t.closeMatching(func(*tunnelConn) bool { return true }) }

// closeMatching closes both connections of the matching tunnels; their
// relays then end and remove them.
func (t *tunnels) closeMatching(match func(*tunnelConn) bool) {
	t.mu.Lock()
	var doomed []*tunnelConn
	for c := range t.open {
		if match(c) {
			doomed = append(doomed, c)
		}
	}
	t.mu.Unlock()
	for _, c := range doomed {
		c.client.Close()
		c.inst.Close()
	}
}
