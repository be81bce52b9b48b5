package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// Tests of the front loop's connections: hang-ups, shutdown, panics and
// the timeouts of waiting connections.

// A client that hangs up while its request waits for an answer cancels
// the request's context (the gateway then lets go of the instance); a
// client that sends its next request meanwhile is still there.
func TestFrontHangUpCancels(t *testing.T) {
	cancelled := make(chan bool, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(time.Duration(3) * watchAfter):
			cancelled <- false
			io.WriteString(w, "done")
		}
	})
	_, addr := serveHandler(t, h, zerolog.Nop())

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(watchAfter / 5)
	c.Close()
	if !<-cancelled {
		t.Error("the handler's context was not cancelled when the client hung up")
	}

	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("pipelined answer %d: %v", i, err)
		}
		resp.Body.Close()
		if <-cancelled {
			t.Errorf("pipelined request %d: context cancelled with the client still there", i)
		}
	}
	// The connection serves on after requests that were watched.
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request after watched ones: %v", err)
	}
	resp.Body.Close()
	<-cancelled
}

// Shutdown lets a request in flight finish (its answer says the
// connection closes), closes idle connections at once and refuses new
// ones; a grace that runs out closes the rest.
func TestFrontShutdown(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started.Add(1)
			<-release
		}
		io.WriteString(w, "ok")
	})
	srv, addr := serveHandler(t, h, zerolog.Nop())

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	ibr := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(ibr, nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	for started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ibr.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection during shutdown: %v; want it closed", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("request in flight during shutdown: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "ok" || !resp.Close {
		t.Errorf("request in flight: %q, close %v; want ok and Connection: close", body, resp.Close)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}

	// A grace that runs out.
	srv2, addr2 := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), zerolog.Nop())
	c, err := net.Dial("tcp", addr2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv2.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its grace: %v; want the context's error", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection after the grace ran out: %v; want it closed", err)
	}
}

// A handler that panics loses its connection (with http.ErrAbortHandler
// the client sees the answer cut short), is logged unless it asked for
// the abort, and the server goes on serving.
func TestFrontPanics(t *testing.T) {
	var logged sync.Mutex
	var logs strings.Builder
	logger := zerolog.New(zerolog.SyncWriter(writerFunc(func(p []byte) (int, error) {
		logged.Lock()
		defer logged.Unlock()
		return logs.Write(p)
	})))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			io.WriteString(w, strings.Repeat("x", 5000))
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		case "/panic":
			panic("boom")
		}
		io.WriteString(w, "ok")
	})
	_, addr := serveHandler(t, h, logger)

	got := rawExchange(t, addr, "GET /abort HTTP/1.1\r\nHost: h\r\n\r\n", false)
	if len(got) != 2 || !strings.Contains(got[0], "unexpected EOF") || got[1] != "(closed)" {
		t.Errorf("aborted answer: %q; want it cut short", got)
	}
	got = rawExchange(t, addr, "GET /panic HTTP/1.1\r\nHost: h\r\n\r\n", false)
	if !slices.Equal(got, []string{"(closed)"}) {
		t.Errorf("panicking handler: %q; want the connection closed", got)
	}
	got = rawExchange(t, addr, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", false)
	if len(got) == 0 || !strings.Contains(got[0], `body="ok"`) {
		t.Errorf("after the panics: %q", got)
	}
	logged.Lock()
	defer logged.Unlock()
	if s := logs.String(); !strings.Contains(s, "boom") || strings.Count(s, "panic serving") != 1 {
		t.Errorf("log: %s; want one panic logged, with its value", s)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// pipeListener hands out the server ends of net.Pipe connections, so the
// server runs inside a synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// A connection that sends nothing is closed ReadHeaderTimeout after it
// opened, and one waiting between requests IdleTimeout after its last
// answer; one that keeps sending requests stays open.
func TestFrontIdleTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), zerolog.Nop())
		srv.hs.ReadHeaderTimeout = 2 * time.Second
		srv.hs.IdleTimeout = 10 * time.Second
		ln := newPipeListener()
		go srv.Serve(ln)
		defer srv.Close()

		closedAt := func(c net.Conn, br *bufio.Reader) <-chan time.Duration {
			start := time.Now()
			ch := make(chan time.Duration, 1)
			go func() {
				for {
					if _, err := br.ReadByte(); err != nil {
						ch <- time.Since(start)
						return
					}
				}
			}()
			return ch
		}
		ask := func(c net.Conn, br *bufio.Reader) {
			t.Helper()
			go io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}

		silent := ln.dial()
		silentClosed := closedAt(silent, bufio.NewReader(silent))

		idle := ln.dial()
		ibr := bufio.NewReader(idle)
		ask(idle, ibr)
		idleClosed := closedAt(idle, ibr)

		busy := ln.dial()
		bbr := bufio.NewReader(busy)
		for range 30 { // 30 s of a request a second
			ask(busy, bbr)
			time.Sleep(time.Second)
		}
		synctest.Wait()
		for name, ch := range map[string]<-chan time.Duration{"silent new connection": silentClosed, "idle connection": idleClosed} {
			want := 2 * time.Second
			if name == "idle connection" {
				want = 10 * time.Second
			}
			select {
			case d := <-ch:
				if d < want || d > want+time.Second {
					t.Errorf("%s closed after %v; want %v (and less than a second more)", name, d, want)
				}
			default:
				t.Errorf("%s still open after 30 s", name)
			}
		}
		ask(busy, bbr) // still served
		for _, c := range []net.Conn{silent, idle, busy} {
			c.Close()
		}
	})
}

// A body the handler left unread is dropped under a deadline, which must
// not outlive it: the connection then waits for its next request as long
// as any idle one, and a next body may take its time.
func TestFrontDrainLeavesNoDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/unread" {
				io.Copy(io.Discard, r.Body)
			}
			io.WriteString(w, "ok")
		}), zerolog.Nop())
		srv.hs.ReadHeaderTimeout = time.Second
		srv.hs.IdleTimeout = time.Minute
		ln := newPipeListener()
		go srv.Serve(ln)
		defer srv.Close()
		c := ln.dial()
		defer c.Close()
		br := bufio.NewReader(c)
		ask := func(what string, parts ...string) {
			t.Helper()
			go func() {
				for i, p := range parts {
					if i > 0 {
						time.Sleep(3 * time.Second)
					}
					io.WriteString(c, p)
				}
			}()
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		ask("unread body", "POST /unread HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
		time.Sleep(5 * time.Second) // past ReadHeaderTimeout, within IdleTimeout
		ask("slow body after the drain", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", "hello")
	})
}

// A client that sends requests pipelined and then half-closes its side
// gets every answer (as from net/http), though the requests are slow
// enough to be watched for a hang-up: only the last one's context ends
// with the client's half-close.
func TestFrontPipelinedThenHalfClose(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * watchAfter)
		io.WriteString(w, "done")
	})
	_, addr := serveHandler(t, h, zerolog.Nop())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, strings.Repeat("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 3))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i := range 3 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d of 3: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "done" {
			t.Fatalf("answer %d of 3: %q", i+1, body)
		}
	}
}
