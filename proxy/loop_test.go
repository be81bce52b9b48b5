//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
)

// cannedUpstream answers each request with the raw answer named by its
// path's last element, closing the connection after answers without a
// length, and sends what it received (method, target, headers, body) on
// got.
func cannedUpstream(t *testing.T, answers map[string]string) (endpoints.Endpoint, chan string) {
	got := make(chan string, 16)
	ep := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			r, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, _ := io.ReadAll(r.Body)
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s %q\n", r.Method, r.RequestURI, body)
			for _, k := range slices.Sorted(maps.Keys(r.Header)) {
				fmt.Fprintf(&b, "%s: %q\n", k, r.Header[k])
			}
			fmt.Fprintf(&b, "Host: %s\n", r.Host)
			got <- b.String()
			name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
			ans, ok := answers[name]
			if !ok {
				ans = "HTTP/1.1 500 No Such Answer\r\nContent-Length: 0\r\n\r\n"
			}
			if _, err := io.WriteString(c, ans); err != nil || strings.Contains(ans, "Connection: close") {
				return
			}
		}
	})
	return ep, got
}

// answerSummary is what a client makes of an answer, minus its Date.
func answerSummary(t *testing.T, raw io.Reader, method string) string {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(raw), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	resp.Header.Del("Date")
	var b strings.Builder
	fmt.Fprintf(&b, "%s close=%v length=%d\n", resp.Status, resp.Close, resp.ContentLength)
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		fmt.Fprintf(&b, "%s: %q\n", k, resp.Header[k])
	}
	fmt.Fprintf(&b, "body %q\ntrailer %v\n", body, resp.Trailer)
	return b.String()
}

// Every answer the event loop relays reads, to a client, as the front
// loop's answer to the same request does (status, headers but Date,
// framing, body, trailers), and the instance sees the same request.
func TestLoopMatchesFront(t *testing.T) {
	answers := map[string]string{
		"len":     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A: 1\r\nKeep-Alive: timeout=5\r\nConnection: X-Drop\r\nX-Drop: 1\r\n\r\nhello",
		"chunked": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-T: 1\r\n\r\n",
		"close":   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end",
		"empty":   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"none":    "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
		"notmod":  "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n",
		"sniff":   "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n<html><body>hi</body></html>",
		"sniffch": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n<html><body>hi</body></html>\r\n0\r\n\r\n",
		"early":   "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
		"events":  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: x\n\n\r\n0\r\n\r\n",
		"teapot":  "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n",
		"odd":     "HTTP/1.1 299 Whatever\r\nContent-Length: 1\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n!",
		"dated":   "HTTP/1.1 200 OK\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 0\r\n\r\n",
	}
	ep, got := cannedUpstream(t, answers)
	serve := func(so ...ServerOption) string {
		set := endpoints.New()
		set.Set("i0", ep)
		g := New(Options{Service: "svc", Token: "tok", ControlToken: "ctl", Endpoints: set})
		t.Cleanup(g.CloseIdle)
		return serveLoopback(t, g, nil, so...)
	}
	loopAddr, frontAddr := serve(), serve(WithoutEventLoop())

	type request struct{ method, target, headers, body string }
	var reqs []request
	for name := range answers {
		reqs = append(reqs, request{"GET", "/api/predict/svc/" + name, "", ""})
	}
	slices.SortFunc(reqs, func(a, b request) int { return strings.Compare(a.target, b.target) })
	reqs = append(reqs,
		request{"HEAD", "/api/predict/svc/len", "", ""},
		request{"HEAD", "/api/predict/svc/chunked", "", ""},
		request{"POST", "/api/predict/svc/len", "Content-Type: application/json\r\n", `{"a":1}`},
		request{"POST", "/api/predict/svc/len", "", ""},
		request{"PUT", "/api/predict/svc", "", "x"},
		request{"GET", "/api/predict/svc/a%2Fb/len?q=1&r=%20", "", ""},
		request{"GET", "/api/predict/svc/len?", "", ""},
		request{"GET", "/api/predict/svc/len", "X-Forwarded-For: 1.2.3.4\r\nX-Real-Ip: 9.9.9.9\r\nX-Forwarded-Proto: https\r\n", ""},
		request{"GET", "/api/predict/svc/len", "Cookie: a=1; easlocal_s=2; b=ctl\r\nCookie: c=3\r\nX-Easlocal-Token: ctl\r\nTe: trailers\r\nProxy-Connection: keep-alive\r\n", ""},
		request{"GET", "/api/predict/svc/len", "Connection: close, X-Hop\r\nX-Hop: 1\r\nUpgrade-Insecure-Requests: 1\r\n", ""},
		request{"GET", "/api/predict/svc/len", "Pragma: no-cache\r\nAccept: */*\r\nAccept: text/plain\r\n", ""},
		request{"OPTIONS", "/api/predict/svc/len", "", ""},
		request{"DELETE", "/api/predict/svc/none", "", ""},
	)
	exchange := func(addr string, rq request) (answer, seen string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		length := ""
		if rq.body != "" || rq.method == "POST" {
			length = fmt.Sprintf("Content-Length: %d\r\n", len(rq.body))
		}
		fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: gw.test\r\nAuthorization: tok\r\n%s%s\r\n%s", rq.method, rq.target, rq.headers, length, rq.body)
		answer = answerSummary(t, c, rq.method)
		select {
		case seen = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s: the instance saw no request", rq.method, rq.target)
		}
		return answer, seen
	}
	for _, rq := range reqs {
		la, ls := exchange(loopAddr, rq)
		fa, fs := exchange(frontAddr, rq)
		if la != fa {
			t.Errorf("%s %s %q: answers differ\nevent loop:\n%s\nfront loop:\n%s", rq.method, rq.target, rq.headers, la, fa)
		}
		if ls != fs {
			t.Errorf("%s %s %q: the instance saw different requests\nevent loop:\n%s\nfront loop:\n%s", rq.method, rq.target, rq.headers, ls, fs)
		}
	}
}

// The event loop serves keep-alive connections without a goroutine each,
// and pipelined requests in order.
func TestLoopServesWithoutGoroutines(t *testing.T) {
	srv, _ := echoUpstream(t, "i0")
	g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", srv.URL)})
	t.Cleanup(g.CloseIdle)
	addr := serveLoopback(t, g, nil)
	before := runtime.NumGoroutine()
	var conns []net.Conn
	for i := range 100 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// Two pipelined requests in one write.
		fmt.Fprintf(c, "GET /api/predict/svc/a%d HTTP/1.1\r\nHost: x\r\n\r\nGET /api/predict/svc/b%d HTTP/1.1\r\nHost: x\r\n\r\n", i, i)
		br := bufio.NewReader(c)
		for _, want := range []string{fmt.Sprintf("i0 GET /a%d", i), fmt.Sprintf("i0 GET /b%d", i)} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != want {
				t.Fatalf("got %q, want %q", b, want)
			}
		}
	}
	// The instance's own server (httptest) runs a goroutine per
	// connection the gateway holds to it; those are few: requests were
	// sequential.
	if grew := runtime.NumGoroutine() - before; grew > 20 {
		t.Errorf("%d goroutines more with %d open keep-alive connections; the event loop should need none per connection", grew, len(conns))
	}
}

// A Shutdown lets a request in flight finish (its answer closes the
// connection), closes idle connections at once and ends the loops.
func TestLoopShutdown(t *testing.T) {
	release := make(chan struct{})
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "done")
	})
	g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", up.URL)})
	t.Cleanup(g.CloseIdle)
	srv := NewServer(g, zerolog.Nop())
	if srv.loops == nil {
		t.Fatal("the server runs no event loops for a gateway")
	}
	ln := listenLoopback(t)
	go srv.Serve(ln)
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	fmt.Fprintf(idle, "GET /api/predict/svc/fast HTTP/1.1\r\nHost: x\r\n\r\n")
	idleBr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleBr, nil); err != nil {
		t.Fatal(err)
	} else {
		io.ReadAll(resp.Body)
	}
	busy, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	fmt.Fprintf(busy, "GET /api/predict/svc/slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the request reaches the instance

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleBr.ReadByte(); err != io.EOF {
		t.Errorf("idle connection during shutdown: read %v, want EOF", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" || !resp.Close {
		t.Errorf("in flight: got %q close=%v, want \"done\" and Connection: close", b, resp.Close)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if !srv.loops.hasEnded() {
		t.Error("the event loops still run after Shutdown")
	}
}

// Requests the loop serves are counted through LoopGateway's served, and
// those it hands over (a 404 here) by the wrapper.
func TestLoopGatewayServed(t *testing.T) {
	srv, _ := echoUpstream(t, "i0")
	g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", srv.URL)})
	t.Cleanup(g.CloseIdle)
	var loopCount, wrapped atomic.Int32
	h := testLoopGateway{g: g, served: func(status int, _ time.Duration) {
		if status == 200 {
			loopCount.Add(1)
		}
	}, wrapped: &wrapped}
	s := NewServer(h, zerolog.Nop())
	ln := listenLoopback(t)
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	base := "http://" + ln.Addr().String()
	for range 3 {
		get(t, base+"/api/predict/svc/x")
	}
	get(t, base+"/api/predict/other/x")
	if loopCount.Load() != 3 || wrapped.Load() != 1 {
		t.Errorf("served by the loop %d (want 3), by the wrapper %d (want 1)", loopCount.Load(), wrapped.Load())
	}
}

type testLoopGateway struct {
	g       *Gateway
	served  func(int, time.Duration)
	wrapped *atomic.Int32
}

func (h testLoopGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.wrapped.Add(1)
	h.g.ServeHTTP(w, r)
}

func (h testLoopGateway) LoopGateway() (*Gateway, func(int, time.Duration)) { return h.g, h.served }

// readAnswers reads n answers from c: status, body, and the length of
// trailer X-T.
func readAnswers(t *testing.T, c net.Conn, n int) []string {
	t.Helper()
	br := bufio.NewReader(c)
	var out []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return append(out, "error: "+err.Error())
		}
		b, err := io.ReadAll(resp.Body)
		out = append(out, fmt.Sprintf("%d %q %v X-T:%d", resp.StatusCode, b, err, len(resp.Trailer.Get("X-T"))))
	}
	return out
}

// pipelined sends raw to a gateway in front of an echo instance, on the
// event loops and on the front loop, optionally half-closing after it,
// and returns both servers' n answers.
func pipelined(t *testing.T, raw string, n int, halfClose bool) (loop, front []string) {
	srv, _ := echoUpstream(t, "i0")
	return bothServers(t, srv.URL, func(c net.Conn) []string {
		io.WriteString(c, raw)
		if halfClose {
			c.(*net.TCPConn).CloseWrite()
		}
		return readAnswers(t, c, n)
	})
}

// bothServers runs talk on a connection to a gateway over the one
// instance at u, served by the event loop and then by the front loop.
func bothServers(t *testing.T, u string, talk func(c net.Conn) []string) (loop, front []string) {
	for i, so := range [][]ServerOption{nil, {WithoutEventLoop()}} {
		g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", u)})
		t.Cleanup(g.CloseIdle)
		c, err := net.Dial("tcp", serveLoopback(t, g, nil, so...))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if got := talk(c); i == 0 {
			loop = got
		} else {
			front = got
		}
	}
	return loop, front
}

// An answer the loop still has to write is not lost when the next
// pipelined request is handed over (here a 404 the gateway's handler
// answers).
func TestLoopPipelinedHandover(t *testing.T) {
	loop, front := pipelined(t, "GET /api/predict/svc/a HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 2, false)
	if fmt.Sprint(loop) != fmt.Sprint(front) || !strings.HasPrefix(loop[0], `200 "i0 GET /a"`) {
		t.Errorf("event loop: %q\nfront loop: %q", loop, front)
	}
}

// Requests sent before a half-close are all answered: the client waits.
func TestLoopPipelinedHalfClose(t *testing.T) {
	loop, front := pipelined(t, "GET /api/predict/svc/a HTTP/1.1\r\nHost: x\r\n\r\nGET /api/predict/svc/b HTTP/1.1\r\nHost: x\r\n\r\n", 2, true)
	if fmt.Sprint(loop) != fmt.Sprint(front) || len(loop) != 2 || !strings.HasPrefix(loop[1], `200 "i0 GET /b"`) {
		t.Errorf("event loop: %q\nfront loop: %q", loop, front)
	}
}

// A half-close that comes while the last of pipelined requests is being
// answered is not a hang-up either: that request was sent together with
// the others, so the client is waiting for it, whenever the end is read.
func TestLoopPipelinedHalfCloseDuringLast(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/b" {
			time.Sleep(300 * time.Millisecond) // the half-close comes meanwhile
		}
		fmt.Fprintf(w, "i0 %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	loop, front := bothServers(t, srv.URL, func(c net.Conn) []string {
		io.WriteString(c, "GET /api/predict/svc/a HTTP/1.1\r\nHost: x\r\n\r\nGET /api/predict/svc/b HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		var got []string
		for i := range 2 {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return append(got, "error: "+err.Error())
			}
			b, _ := io.ReadAll(resp.Body)
			got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, b))
			if i == 0 {
				c.(*net.TCPConn).CloseWrite() // /b is with the instance now
			}
		}
		return got
	})
	want := fmt.Sprint([]string{"200 i0 GET /a", "200 i0 GET /b"})
	if fmt.Sprint(loop) != want || fmt.Sprint(front) != want {
		t.Errorf("answers: event loop %q, front loop %q; want %s from both", loop, front, want)
	}
}

// A chunked answer's trailer line longer than the loop's read buffer is
// relayed (it used to stall the answer).
func TestLoopLongTrailer(t *testing.T) {
	ep := rawUpstream(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: %s\r\nBad Name: x\r\n\r\n", strings.Repeat("v", 3*loopUpBuf/2))
		time.Sleep(5 * time.Second) // the answer ends by its framing, not by a close
	})
	c := dialGateway(t, ep, 3*time.Second)
	io.WriteString(c, "GET /api/predict/svc/a HTTP/1.1\r\nHost: x\r\n\r\n")
	// Read raw: Go's client refuses trailers this long.
	end := "3\r\nabc\r\n0\r\nX-T: " + strings.Repeat("v", 3*loopUpBuf/2) + "\r\n\r\n"
	var got []byte
	buf := make([]byte, 64<<10)
	for !bytes.HasSuffix(got, []byte(end)) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("after %d bytes (%q...): %v; want the answer to end with the trailer and no invalid field", len(got), got[:min(len(got), 80)], err)
		}
	}
}

// A new connection's first head is due ReadHeaderTimeout after it was
// accepted, as in net/http, even when the loop's clock was read well
// before it took the connection (it was busy with a batch of events).
func TestLoopHeadDueFromAccept(t *testing.T) {
	const timeout = 500 * time.Millisecond
	g := New(Options{Service: "svc", Endpoints: endpoints.New()})
	srv := NewServer(g, zerolog.Nop(), WithoutEventLoop())
	srv.hs.ReadHeaderTimeout = timeout
	ls := &loops{srv: srv, gw: g}
	l, err := newEvLoop(ls)
	if err != nil {
		t.Fatal(err)
	}
	ls.all = []*evLoop{l}
	defer l.closeFDs()

	ln := listenLoopback(t)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted := time.Now()
	if !ls.adopt(conn) {
		t.Fatal("the loop did not take a TCP connection")
	}
	l.now = accepted.Add(-300 * time.Millisecond) // read before the batch that took the connection
	for _, c := range l.cmds {
		l.command(c)
	}
	defer l.closeEverything()
	if len(l.timers) != 1 {
		t.Fatalf("%d deadlines set, want the new connection's", len(l.timers))
	}
	if due := l.timers[0].due; due.Before(accepted.Add(timeout)) {
		t.Errorf("first head due %v after the accept, want at least the ReadHeaderTimeout %v", due.Sub(accepted), timeout)
	}
}
