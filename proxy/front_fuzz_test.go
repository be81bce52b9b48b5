package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// seenLog records what the handler saw of each request, per client
// connection (by its remote address), so the two servers' views can be
// compared however many connections an earlier input left behind.
type seenLog struct {
	mu      sync.Mutex
	views   map[string][]seenRequest
	running map[string]int // handlers started and not yet recorded
}

type seenRequest struct {
	method string
	view   string
}

func newSeenLog() *seenLog {
	return &seenLog{views: map[string][]seenRequest{}, running: map[string]int{}}
}

// handler serves answers and records each request's view under its
// connection. A handler counts as running from before it writes anything,
// so a client that has read its answers can wait for the records.
func (l *seenLog) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.running[r.RemoteAddr]++
		l.mu.Unlock()
		ch := make(chan string, 1)
		defer func() {
			var v string
			select {
			case v = <-ch:
			default: // the handler panicked before it looked at the request
			}
			l.mu.Lock()
			l.views[r.RemoteAddr] = append(l.views[r.RemoteAddr], seenRequest{r.Method, v})
			l.running[r.RemoteAddr]--
			l.mu.Unlock()
		}()
		answers(ch).ServeHTTP(w, r)
	})
}

// take waits (until deadline) for the handlers of addr to finish and
// returns what they saw, forgetting addr.
func (l *seenLog) take(addr string, deadline time.Time) []seenRequest {
	for {
		l.mu.Lock()
		n := l.running[addr]
		if n == 0 || time.Now().After(deadline) {
			v := l.views[addr]
			delete(l.views, addr)
			delete(l.running, addr)
			l.mu.Unlock()
			return v
		}
		l.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// frontExchange is what one connection brought: the answers as text and the
// requests the handler saw.
type frontExchange struct {
	answers []string
	seen    []seenRequest
}

// fuzzExchange sends raw on a new connection to addr, half-closes it (so
// a partial head or body ends instead of waiting for a timeout), and reads
// every answer until the server closes; the connection's end is the last
// entry: "(closed)", "(hang)" past the deadline, or "(error ...)".
func fuzzExchange(addr string, raw []byte, seen *seenLog) (frontExchange, error) {
	deadline := time.Now().Add(3 * time.Second)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return frontExchange{}, err
	}
	defer c.Close()
	c.SetDeadline(deadline)
	local := c.LocalAddr().String()
	go func() {
		// A server that answers and closes early may reset the rest.
		c.Write(raw)
		c.(*net.TCPConn).CloseWrite()
	}()
	br := bufio.NewReader(c)
	var ex frontExchange
	for handled := 0; ; {
		// The answers of the handled requests come in their order; an
		// answer beyond them is one net/http wrote itself (an error), for
		// which GET framing is right.
		method := "GET"
		br.Peek(1) // the answer has started, so its handler has
		l := seen.peek(local)
		if handled < len(l) {
			method = l[handled].method
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				ex.answers = append(ex.answers, "(hang)")
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
				strings.Contains(err.Error(), "connection reset"):
				ex.answers = append(ex.answers, "(closed)")
			default:
				ex.answers = append(ex.answers, fmt.Sprintf("(error %v)", err))
			}
			break
		}
		body, berr := io.ReadAll(resp.Body)
		cut := "" // an error reading the body names the addresses: only say there was one
		if berr != nil {
			cut = " cut"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d len=%d te=%v close=%v body=%q%s", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Close, body, cut)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range resp.Header {
				if k != "Date" && !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, resp.Header[k])
		}
		if _, ok := resp.Header["Date"]; !ok {
			b.WriteString(" no-date")
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range resp.Trailer {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, " trailer %s=%q", k, resp.Trailer[k])
		}
		ex.answers = append(ex.answers, b.String())
		if resp.StatusCode >= 200 {
			handled++
		}
		if berr != nil {
			break
		}
	}
	ex.seen = seen.take(local, deadline)
	return ex, nil
}

func (l *seenLog) peek(addr string) []seenRequest {
	// The handler of the answer being read has started (it writes after
	// it looks at the request) but may not have recorded yet: wait for
	// the running ones.
	deadline := time.Now().Add(time.Second)
	for {
		l.mu.Lock()
		n, v := l.running[addr], slices.Clone(l.views[addr])
		l.mu.Unlock()
		if n == 0 || time.Now().After(deadline) {
			return v
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// fuzzSeeds are client byte streams for FuzzFront: the cases of
// TestFrontMatchesNetHTTP and hostile ones.
func fuzzSeeds() []string {
	get := func(path string, extra ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: example\r\n" + strings.Join(extra, "") + "\r\n"
	}
	post := func(path, length, body string, extra ...string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Length: " + length + "\r\n" + strings.Join(extra, "") + "\r\n" + body
	}
	// pad fills a header so that the head of get(path, pad) is n bytes.
	pad := func(path string, n int) string {
		base := len(get(path, "X-Pad: \r\n"))
		return get(path, "X-Pad: "+strings.Repeat("p", n-base)+"\r\n")
	}
	return []string{
		// TestFrontMatchesNetHTTP
		get("/small"), get("/large"), get("/length"), get("/short"), get("/flush"), get("/trailer"),
		get("/error"), get("/nocontent"), get("/empty"), get("/html"), get("/close") + get("/small"),
		get("/small", "Connection: close\r\n") + get("/small"), get("/status"),
		"HEAD /small HTTP/1.1\r\nHost: h\r\n\r\n", "HEAD /large HTTP/1.1\r\nHost: h\r\n\r\n",
		get("/small") + get("/length") + get("/flush"),
		"POST /small?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-type: text/plain\r\n\r\nhello" + get("/small"),
		post("/unread", "10", "0123456789") + get("/small"),
		get("/a%2Fb/c%20d?x=%2F"),
		get("/small", "X-A: 1\r\nx-a: 2\r\nX-B:  padded \t\r\nX-Empty:\r\n"),
		get("/small", "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"),
		"GET /small HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET /small HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n" + get("/small"),
		"POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/small"),
		post("/small", "5", "hello", "Expect: 100-continue\r\n"),
		get("/small") + "GET /small HTTP/1.0\r\nHost: h\r\n\r\n",
		"GET http://h/small HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small HTTP/1.1\nHost: h\n\n",
		get("/small", "X-A: 1\r\n  continued\r\n"), get("/small", "X-A : 1\r\n"), get("/small", "X(A): 1\r\n"),
		get("/small", "X-A: a\x01b\r\n"), "GET /small HTTP/1.1\r\n\r\n", get("/small", "Host: other\r\n"),
		"GET /small HTTP/1.1\r\nHost: a b\r\n\r\n", post("/small", "+5", "hello"),
		"POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"G(T /small HTTP/1.1\r\nHost: h\r\n\r\n", "GET /small HTTP/1.2\r\nHost: h\r\n\r\n",
		get("/small", "X-Big: "+strings.Repeat("b", 6000)+"\r\n") + get("/small"),
		get("/small", "Connection: Upgrade\r\nUpgrade: websocket\r\n"),

		// Hostile: pipelining, partial heads and bodies, odd bytes.
		strings.Repeat(get("/small"), 20),
		post("/small", "5", "hel"),                      // body cut short
		post("/small", "5", "hello"+get("/small")[:10]), // next head cut short
		"GET /small HTTP/1.1\r\nHost: h\r\n",            // head without its end
		"GET /small HTT",
		"GET /sm\x00all HTTP/1.1\r\nHost: h\r\n\r\n",
		get("/small", "X-A: a\x00b\r\n"),
		get("/small", "X\x00A: 1\r\n"),
		"\x00\x00\x00\x00\r\n\r\n",
		"\r\n" + get("/small"),
		"\r\n\r\n" + get("/small"),
		post("/small", "99999999999999999", "hello"),   // huge, 17 digits
		post("/small", "999999999999999999", "hello"),  // 18 digits
		post("/small", "9999999999999999999", "hello"), // overflows int64
		post("/small", "-1", "hello"),
		post("/small", "-0", ""),
		post("/small", "0x5", "hello"),
		post("/small", "5 5", "hello"),
		post("/small", "00005", "hello"),
		post("/small", "", "hello"),
		post("/unread", "262144", ""), // exactly the most that is drained of an unread body
		post("/unread", "262145", ""),
		post("/unread", "1000", "short"),
		pad("/small", frontBufSize-1) + get("/small"),
		pad("/small", frontBufSize) + get("/small"),
		pad("/small", frontBufSize+1) + get("/small"),
		get("/small") + pad("/small", frontBufSize),
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + get("/small"),
		"PRI /small HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small HTTP/1.1\r\nHost: h\r\n\r", // split inside the final CRLF
		"GET /small HTTP/1.1\r\nHost: h\r\r\n\r\n",
		"GET /small HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n\n",
		"GET /small HTTP/1.1\r\nHost: h\n\r\n",
		"GET  /small HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small  HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small HTTP/1.1 \r\nHost: h\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT /small HTTP/1.1\r\nHost: h\r\n\r\n",
		"CONNECT h:80 HTTP/1.1\r\nHost: h\r\n\r\n",
		"get /small HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET //h/small HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small#frag HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small HTTP/1.1\r\nHost:\r\n\r\n",
		"GET /small HTTP/1.1\r\nHost: h:99999\r\n\r\n",
		"GET /small HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
		"GET /small HTTP/1.1\r\nhost: h\r\nHOST: h\r\n\r\n",
		get("/small", "Connection: close, keep-alive\r\n") + get("/small"),
		get("/small", "Connection: keep-alive\r\nConnection: close\r\n") + get("/small"),
		get("/small", "Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + get("/small"),
		get("/small", "Transfer-Encoding: identity\r\n") + get("/small"),
		post("/small", "5", "hello", "Transfer-Encoding: chunked\r\n") + get("/small"), // CL and TE
		"POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + get("/small"),
		post("/small", "0", "", "X-Transfer-Encoding: x\r\n") + get("/small"),
		get("/small", "Expect: 100-continue\r\n"),
		get("/small", "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nConnection: Upgrade, HTTP2-Settings\r\n"),
		get("/small", "Trailer: X-T\r\n"),
		get("/small", "Content-Type: text/plain\r\n", "Content-Length: 0\r\n") + get("/small"),
		get("/small", ": empty\r\n"),
		get("/small", "X-A:\t\ttabs\t\r\n"),
		get("/small", "X-A: \xff\xfe\r\n"),
		"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /small?\r\n HTTP/1.1\r\nHost: h\r\n\r\n",
		post("/small", "5", "he\nlo") + get("/small"), // a bare LF in a body
	}
}

// FuzzFront sends a client byte stream (one or more requests on one
// connection) to a NewServer and to a plain net/http server with the same
// handler and limits, and requires the same answers (status, headers but
// Date, body, trailers, and where the connection ended) and the same view
// of every request in the handler (view).
//
// One difference is intended: a request that has both Content-Length and
// Transfer-Encoding closes the connection after its answer on NewServer
// (RFC 9112 section 6.1), and framingConn may close earlier when a body
// line looks like either header. So when the stream names both headers,
// NewServer's answers and requests need only be a start of net/http's
// (at least the first), ignoring the Connection header.
func FuzzFront(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	seenFront, seenPlain := newSeenLog(), newSeenLog()
	srv := NewServer(seenFront.handler(), zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Close() })
	// The plain server has NewServer's limits.
	hs := &http.Server{
		Handler:           seenPlain.handler(),
		ReadHeaderTimeout: srv.hs.ReadHeaderTimeout,
		IdleTimeout:       srv.hs.IdleTimeout,
		MaxHeaderBytes:    srv.hs.MaxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go hs.Serve(pln)
	f.Cleanup(func() { hs.Close() })
	front, plain := ln.Addr().String(), pln.Addr().String()

	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 1<<20 {
			return
		}
		var got, want frontExchange
		var ferr, perr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); got, ferr = fuzzExchange(front, raw, seenFront) }()
		go func() { defer wg.Done(); want, perr = fuzzExchange(plain, raw, seenPlain) }()
		wg.Wait()
		if ferr != nil || perr != nil {
			t.Fatalf("dial: %v, %v", ferr, perr)
		}
		if slices.Contains(got.answers, "(hang)") {
			t.Errorf("NewServer hung: %q", got.answers)
		}
		lower := bytes.ToLower(raw)
		if bytes.Contains(lower, []byte("content-length")) && bytes.Contains(lower, []byte("transfer-encoding")) {
			comparePrefix(t, got, want)
			return
		}
		if ga, wa := settle(got.answers, want.answers); !slices.Equal(ga, wa) {
			t.Errorf("answers differ\nfront:    %q\nnet/http: %q", got.answers, want.answers)
		}
		if !slices.Equal(got.seen, want.seen) {
			t.Errorf("handler saw different requests\nfront:    %q\nnet/http: %q", got.seen, want.seen)
		}
	})
}

// withoutConnection drops the Connection header and the close flag from
// an answer's text.
func withoutConnection(a string) string {
	a = strings.Replace(a, "close=true", "close=false", 1)
	if i := strings.Index(a, " Connection="); i >= 0 {
		if j := strings.Index(a[i+1:], " "); j >= 0 {
			return a[:i] + a[i+1+j:]
		}
		return a[:i]
	}
	return a
}

// netHTTPCutHead starts the answer net/http writes itself when the
// stream ends inside a request head.
const netHTTPCutHead = `400 len=-1 te=[] close=true body="400 Bad Request"`

// settle removes the differences between the two servers' answers that
// do not matter, where the connection ends after them on both:
//
//   - a stream that ends inside a request head: net/http answers 400
//     before it closes, the loop only closes (no request was served, and
//     the client can send nothing more), or the other way round when the
//     loop handed such a head over and net/http answers it on what is to
//     it a new connection;
//   - whether the last answer says Connection: close: net/http drains an
//     unread request body before it answers and says close when that
//     fails (the client is gone), the loop answers first and finds out
//     after; both close.
func settle(got, want []string) ([]string, []string) {
	got, want = slices.Clone(got), slices.Clone(want)
	n, m := len(got), len(want)
	if n == 0 || m == 0 || got[n-1] != "(closed)" || want[m-1] != "(closed)" {
		return got, want
	}
	if m == n+1 && strings.HasPrefix(want[m-2], netHTTPCutHead) {
		want = slices.Delete(want, m-2, m-1)
		m--
	}
	if n == m+1 && strings.HasPrefix(got[n-2], netHTTPCutHead) {
		// The loop handed the rest over (a bare LF) and net/http, on a
		// connection that is new to it, answers the cut head.
		got = slices.Delete(got, n-2, n-1)
		n--
	}
	if n >= 2 && m >= 2 {
		got[n-2], want[m-2] = withoutConnection(got[n-2]), withoutConnection(want[m-2])
	}
	return got, want
}

// comparePrefix checks that NewServer's exchange is a start of net/http's
// (with at least its first answer and request), the Connection header and
// close flag aside.
func comparePrefix(t *testing.T, got, want frontExchange) {
	t.Helper()
	norm := func(as []string) []string {
		var out []string
		for _, a := range as {
			if strings.HasPrefix(a, "(") {
				break // the connection's end
			}
			out = append(out, withoutConnection(a))
		}
		return out
	}
	ga, wa := settle(got.answers, want.answers)
	ga, wa = norm(ga), norm(wa)
	if len(ga) > len(wa) || !slices.Equal(ga, wa[:len(ga)]) || (len(ga) == 0 && len(wa) > 0) {
		t.Errorf("answers differ (ambiguous framing: a start of net/http's is allowed)\nfront:    %q\nnet/http: %q", got.answers, want.answers)
	}
	if len(got.seen) > len(want.seen) || !slices.Equal(got.seen, want.seen[:len(got.seen)]) || (len(got.seen) == 0 && len(want.seen) > 0) {
		t.Errorf("handler saw different requests (ambiguous framing: a start of net/http's is allowed)\nfront:    %q\nnet/http: %q", got.seen, want.seen)
	}
}
