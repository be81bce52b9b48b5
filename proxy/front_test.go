package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// view is what a handler saw of a request, as text to compare.
func view(r *http.Request, body []byte, bodyErr error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%q uri=%q path=%q rawpath=%q query=%q len=%d close=%v remote=%v\n",
		r.Method, r.Proto, r.URL, r.Host, r.RequestURI, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.ContentLength, r.Close, r.RemoteAddr != "")
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "body=%q err=%v", body, bodyErr)
	return b.String()
}

// answers is a handler with one kind of answer per path; it reports what
// it saw of each request on seen.
func answers(seen chan<- string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		var err error
		if r.URL.Path != "/unread" {
			body, err = io.ReadAll(r.Body)
		}
		seen <- view(r, body, err)
		h := w.Header()
		switch r.URL.Path {
		case "/small":
			h.Set("X-Kind", "small")
			io.WriteString(w, "hello")
		case "/large": // over the buffer that picks a Content-Length
			io.WriteString(w, strings.Repeat("x", 10000))
		case "/length":
			h.Set("Content-Length", "6")
			io.WriteString(w, "sized!")
		case "/short": // fewer bytes than declared
			h.Set("Content-Length", "10")
			io.WriteString(w, "abc")
		case "/flush":
			io.WriteString(w, "one,")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "two")
		case "/trailer":
			io.WriteString(w, "body")
			h.Set(http.TrailerPrefix+"X-Sum", "42")
		case "/error":
			http.Error(w, "nope", http.StatusTeapot)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/empty":
		case "/html":
			io.WriteString(w, "<!DOCTYPE html><html><body>hi</body></html>")
		case "/html-then-more": // sniffed from the first write, held back
			io.WriteString(w, "<!DOCTYPE html><html><body>")
			io.WriteString(w, strings.Repeat("x", 3000))
		case "/close":
			h.Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/unread":
			io.WriteString(w, "did not read")
		case "/status":
			w.WriteHeader(499)
			io.WriteString(w, "odd")
		default:
			io.WriteString(w, "default")
		}
	})
}

// rawExchange sends raw on one connection to addr and reads every answer up
// to the connection's end (or want answers, then a short wait), as text.
func rawExchange(t *testing.T, addr, raw string, head bool) []string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go io.WriteString(c, raw)
	br := bufio.NewReader(c)
	var out []string
	for {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				out = append(out, "(open)")
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				out = append(out, "(closed)")
			default:
				out = append(out, fmt.Sprintf("(error %v)", err))
			}
			return out
		}
		body, berr := io.ReadAll(resp.Body)
		var b strings.Builder
		fmt.Fprintf(&b, "%d len=%d te=%v close=%v body=%q err=%v", resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Close, body, berr)
		for _, k := range []string{"Content-Type", "Content-Length", "X-Kind", "X-Content-Type-Options"} {
			if v, ok := resp.Header[k]; ok {
				fmt.Fprintf(&b, " %s=%q", k, v)
			}
		}
		if _, ok := resp.Header["Date"]; ok {
			b.WriteString(" date")
		}
		for k, v := range resp.Trailer {
			fmt.Fprintf(&b, " trailer %s=%q", k, v)
		}
		out = append(out, b.String())
	}
}

// serveHandler serves h with NewServer on loopback until the test ends.
func serveHandler(t *testing.T, h http.Handler, logger zerolog.Logger) (*Server, string) {
	srv := NewServer(h, logger)
	ln := listenLoopback(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func serveBoth(t *testing.T) (front, plain string, seenFront, seenPlain chan string) {
	seenFront, seenPlain = make(chan string, 16), make(chan string, 16)
	_, front = serveHandler(t, answers(seenFront), zerolog.Nop())
	hs := &http.Server{Handler: answers(seenPlain), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 1 << 20}
	pln := listenLoopback(t)
	go hs.Serve(pln)
	t.Cleanup(func() { hs.Close() })
	return front, pln.Addr().String(), seenFront, seenPlain
}

func drain(ch chan string) []string {
	var out []string
	for {
		select {
		case s := <-ch:
			out = append(out, s)
		default:
			return out
		}
	}
}

// The server answers every request as net/http's own server does and its
// handler sees the same request: the plain requests its loop serves, and
// the ones it hands over (other versions, chunked bodies, odd heads).
func TestFrontMatchesNetHTTP(t *testing.T) {
	get := func(path string, extra ...string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: example\r\n" + strings.Join(extra, "") + "\r\n"
	}
	cases := []struct {
		name string
		raw  string
		head bool
	}{
		{"small", get("/small"), false},
		{"large", get("/large"), false},
		{"length", get("/length"), false},
		{"short", get("/short"), false},
		{"flush", get("/flush"), false},
		{"trailer", get("/trailer"), false},
		{"error", get("/error"), false},
		{"no content", get("/nocontent"), false},
		{"empty", get("/empty"), false},
		{"sniffed type", get("/html"), false},
		{"sniffed from held-back bytes", get("/html-then-more"), false},
		{"handler closes", get("/close") + get("/small"), false},
		{"client closes", get("/small", "Connection: close\r\n") + get("/small"), false},
		{"odd status", get("/status"), false},
		{"head", "HEAD /small HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"head large", "HEAD /large HTTP/1.1\r\nHost: h\r\n\r\n", true},
		{"pipelined", get("/small") + get("/length") + get("/flush"), false},
		{"post", "POST /small?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-type: text/plain\r\n\r\nhello" + get("/small"), false},
		{"unread body", "POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789" + get("/small"), false},
		{"escaped path", get("/a%2Fb/c%20d?x=%2F"), false},
		{"repeated and folded-looking headers", get("/small", "X-A: 1\r\nx-a: 2\r\nX-B:  padded \t\r\nX-Empty:\r\n"), false},
		{"connection tokens", get("/small", "Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"), false},
		// Handed over to net/http.
		{"http/1.0", "GET /small HTTP/1.0\r\nHost: h\r\n\r\n", false},
		{"http/1.0 keep-alive", "GET /small HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n" + get("/small"), false},
		{"chunked body", "POST /small HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/small"), false},
		{"expect", "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", false},
		{"after a served request", get("/small") + "GET /small HTTP/1.0\r\nHost: h\r\n\r\n", false},
		{"absolute form", "GET http://h/small HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"bare LF", "GET /small HTTP/1.1\nHost: h\n\n", false},
		{"obsolete folding", get("/small", "X-A: 1\r\n  continued\r\n"), false},
		{"space before colon", get("/small", "X-A : 1\r\n"), false},
		{"invalid name", get("/small", "X(A): 1\r\n"), false},
		{"control in value", get("/small", "X-A: a\x01b\r\n"), false},
		{"missing host", "GET /small HTTP/1.1\r\n\r\n", false},
		{"two hosts", get("/small", "Host: other\r\n"), false},
		{"bad host", "GET /small HTTP/1.1\r\nHost: a b\r\n\r\n", false},
		{"bad length", "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", false},
		{"two lengths", "POST /small HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", false},
		{"bad method", "G(T /small HTTP/1.1\r\nHost: h\r\n\r\n", false},
		{"bad version", "GET /small HTTP/1.2\r\nHost: h\r\n\r\n", false},
		{"large head", get("/small", "X-Big: "+strings.Repeat("b", 6000)+"\r\n") + get("/small"), false},
		{"upgrade", get("/small", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			front, plain, seenFront, seenPlain := serveBoth(t)
			gotPlain := rawExchange(t, plain, tc.raw, tc.head)
			gotFront := rawExchange(t, front, tc.raw, tc.head)
			if !slices.Equal(gotFront, gotPlain) {
				t.Errorf("answers differ\nfront:    %q\nnet/http: %q", gotFront, gotPlain)
			}
			vf, vp := drain(seenFront), drain(seenPlain)
			if !slices.Equal(vf, vp) {
				t.Errorf("handler saw different requests\nfront:    %q\nnet/http: %q", vf, vp)
			}
			if len(gotFront) == 0 {
				t.Error("no answer")
			}
		})
	}
}

// A body the handler left unread is read and dropped when small, so the
// connection serves the next request; a large one closes the connection.
func TestFrontUnreadBody(t *testing.T) {
	front, _, seen, _ := serveBoth(t)
	small := "POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("s", 1000)
	got := rawExchange(t, front, small+"GET /small HTTP/1.1\r\nHost: h\r\n\r\n", false)
	if len(got) != 3 || got[2] != "(open)" {
		t.Errorf("small unread body: %q; want two answers on an open connection", got)
	}
	big := "POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("b", 1000000)
	got = rawExchange(t, front, big, false)
	if len(got) != 2 || !strings.Contains(got[0], "close=true") || got[1] != "(closed)" {
		t.Errorf("large unread body: %q; want Connection: close and the connection closed", got)
	}
	drain(seen)
}
