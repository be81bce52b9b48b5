package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

// Tests of the gateway under hostile clients (issue 6): slow readers and
// writers, oversized headers, clients that hang up mid-request or
// mid-response, thousands of idle connections. Each runs a well-behaved
// client (a prober) beside the hostile ones that must keep getting
// correct answers, and checks that memory stays bounded and that no
// goroutine is left once the hostile clients are gone.
//
// The gateway runs in a server built by NewServer (the production limits)
// on a 127.0.0.1 listener; a test that needs a shorter limit changes the
// returned server's field and says so.

// hostileUpstream is an instance with answers hostile clients ask for.
type hostileUpstream struct {
	srv *httptest.Server

	mu     sync.Mutex
	open   map[string]bool // remote addr → connection open (ConnState)
	served map[string]int  // remote addr → requests served on it

	sent     atomic.Int64 // bytes of /big answers written
	bigStart atomic.Int32
	done     chan result // one per /big, /stream or /sink request that ended
}

type result struct {
	path   string
	remote string
	n      int64 // bytes written (/big) or read (/sink)
	err    error
}

var filler = []byte(strings.Repeat("0123456789abcdef", 2048)) // 32 KiB

func newHostileUpstream(t *testing.T) *hostileUpstream {
	u := &hostileUpstream{open: map[string]bool{}, served: map[string]int{}, done: make(chan result, 1000)}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		u.mu.Lock()
		defer u.mu.Unlock()
		switch s {
		case http.StateNew:
			u.open[c.RemoteAddr().String()] = true
		case http.StateClosed, http.StateHijacked:
			u.open[c.RemoteAddr().String()] = false
		}
	}
	u.srv.Start()
	t.Cleanup(u.srv.Close)
	return u
}

func (u *hostileUpstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.served[r.RemoteAddr]++
	u.mu.Unlock()
	q := r.URL.Query()
	switch r.URL.Path {
	case "/ok":
		io.WriteString(w, "ok")
	case "/big": // ?n=<bytes>[&chunked=1]: n bytes of filler, streamed
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		if q.Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		u.bigStart.Add(1)
		var sent int64
		var err error
		for sent < n && err == nil {
			chunk := filler[:min(int64(len(filler)), n-sent)]
			var k int
			k, err = w.Write(chunk)
			sent += int64(k)
			u.sent.Add(int64(k))
		}
		u.done <- result{r.URL.Path, r.RemoteAddr, sent, err}
	case "/stream": // one chunk, then more when the client is gone or never
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		u.done <- result{r.URL.Path, r.RemoteAddr, 0, r.Context().Err()}
	case "/sink": // reads the whole body, answers its length
		n, err := io.Copy(io.Discard, r.Body)
		u.done <- result{r.URL.Path, r.RemoteAddr, n, err}
		if err == nil {
			fmt.Fprintf(w, "%d", n)
		}
	case "/echo":
		io.Copy(w, r.Body)
	default:
		http.NotFound(w, r)
	}
}

// closed reports whether the connection from remote was closed.
func (u *hostileUpstream) closed(remote string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	open, known := u.open[remote]
	return known && !open
}

func (u *hostileUpstream) requests() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, k := range u.served {
		n += k
	}
	return n
}

// waitDone waits for n ended /big, /stream or /sink requests.
func (u *hostileUpstream) waitDone(t *testing.T, n int) []result {
	t.Helper()
	var rs []result
	timeout := time.After(10 * time.Second)
	for len(rs) < n {
		select {
		case r := <-u.done:
			rs = append(rs, r)
		case <-timeout:
			t.Fatalf("only %d of %d upstream requests ended: %+v", len(rs), n, rs)
		}
	}
	return rs
}

// hostileGateway serves a gateway in front of up through NewServer on
// 127.0.0.1; tweak (optional) changes the server before it starts.
// It returns the gateway's address and the gateway.
func hostileGateway(t *testing.T, up *hostileUpstream, tweak func(*http.Server)) (string, *Gateway) {
	g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", up.srv.URL)})
	t.Cleanup(g.CloseIdle)
	return serveLoopback(t, g, tweak), g
}

// prober is the well-behaved client: it asks for /ok in a loop on its own
// keep-alive connections and checks every answer.
type prober struct {
	cancel context.CancelFunc
	done   chan struct{}
	tr     *http.Transport
	n      atomic.Int32 // requests done; errs and worst are read after done
	errs   []string
	took   []time.Duration
}

func startProber(addr string) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, done: make(chan struct{}), tr: &http.Transport{}}
	c := &http.Client{Transport: p.tr, Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			start := time.Now()
			resp, err := c.Get("http://" + addr + "/api/predict/svc/ok")
			if err == nil {
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil || resp.StatusCode != 200 || string(b) != "ok" {
					err = fmt.Errorf("%d %q %v", resp.StatusCode, b, rerr)
				}
			}
			p.took = append(p.took, time.Since(start))
			if err != nil && len(p.errs) < 5 {
				p.errs = append(p.errs, err.Error())
			}
			p.n.Add(1)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// stop ends the prober (once it made at least 10 requests) and fails t
// unless every answer was right, the median took under 250 ms and none
// over 5 s (bounds loose enough for -race on a 2-core machine loaded 4x
// by other tests, tight enough to catch a gateway that stalls its other
// clients).
func (p *prober) stop(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for p.n.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.cancel()
	<-p.done
	p.tr.CloseIdleConnections()
	n := int(p.n.Load())
	slices.Sort(p.took)
	median, worst := p.took[n/2], p.took[n-1]
	t.Logf("well-behaved client: %d requests, median %v, slowest %v", n, median, worst)
	if n < 10 || len(p.errs) > 0 || median > 250*time.Millisecond || worst > 5*time.Second {
		t.Errorf("well-behaved client: %d requests, errors %q, median %v, slowest %v", n, p.errs, median, worst)
	}
}

// leakWatch is the well-behaved client of a hostile test with the
// goroutines that ran before it started.
type leakWatch struct {
	g    *Gateway
	base goleak.Option
	p    *prober
}

// watchGateway takes the goroutine baseline and then starts the prober
// on the gateway g serves at addr.
func watchGateway(addr string, g *Gateway) *leakWatch {
	base := goleak.IgnoreCurrent()
	return &leakWatch{g: g, base: base, p: startProber(addr)}
}

// check stops the prober, checking its answers, and then checks that no
// goroutine started since the baseline is left (settleGoroutines).
func (w *leakWatch) check(t *testing.T) {
	t.Helper()
	w.p.stop(t)
	settleGoroutines(t, w.g, w.base)
}

// settleGoroutines closes the gateway's idle connections to the instance
// (whose server goroutines would count) and checks that no goroutine
// started since base (goleak.IgnoreCurrent at the test's start) is left:
// the gateway's handlers, the server's connections, body writers and
// context watchers all gone.
//
// A handler that relayed its answer's last byte may return its
// connection to the pool just after the client saw the end, so the idle
// connections are closed again on every try.
func settleGoroutines(t *testing.T, g *Gateway, base goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.CloseIdle()
		err := goleak.Find(base)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutine leak: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// memInUse is the heap and stack memory in use after a collection.
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// dialSmall connects with a 4 KiB receive buffer, so what the peer sends
// is not soaked up by the kernel of a client that does not read.
func dialSmall(addr string) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	return d.Dial("tcp", addr)
}

// getBig asks for /big?n= as a well-behaved client and checks the length.
func getBig(t *testing.T, addr string, n int64, chunked bool) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	url := fmt.Sprintf("http://%s/api/predict/svc/big?n=%d", addr, n)
	if chunked {
		url += "&chunked=1"
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("well-behaved /big: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != 200 || got != n {
		t.Fatalf("well-behaved /big: %d, %d of %d bytes, %v", resp.StatusCode, got, n, err)
	}
}

// Production limits: what NewServer sets (and so Serve uses).
func TestServerLimits(t *testing.T) {
	srv := NewServer(http.NotFoundHandler(), zerolog.Nop())
	if hs := srv.hs; hs.ReadHeaderTimeout != 10*time.Second || hs.IdleTimeout != 2*time.Minute || hs.MaxHeaderBytes != 1<<20 {
		t.Fatalf("NewServer limits: header timeout %v, idle timeout %v, max header bytes %d; want 10s, 2m, 1 MiB",
			srv.hs.ReadHeaderTimeout, srv.hs.IdleTimeout, srv.hs.MaxHeaderBytes)
	}
}

// Clients that ask for a large answer and then read it at 1 byte/s or not
// at all: the gateway does not buffer the answer (its memory grows by
// its copy buffers only, and the instance is held back), and when they
// hang up the connections to the instance are closed, not pooled.
func TestSlowReaders(t *testing.T) {
	const (
		clients = 6
		size    = 64 << 20 // more than the loopback socket buffers hold
	)
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	getBig(t, addr, 1<<20, false) // warm up the pools
	up.waitDone(t, 1)
	leakBase := goleak.IgnoreCurrent()
	heap0, stack0 := memInUse()
	p := startProber(addr)

	var conns []net.Conn
	var readers sync.WaitGroup
	for i := range clients {
		c, err := dialSmall(addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		chunked := ""
		if i%2 == 1 {
			chunked = "&chunked=1" // answers of unknown length take the flushing path
		}
		fmt.Fprintf(c, "GET /api/predict/svc/big?n=%d%s HTTP/1.1\r\nHost: x\r\n\r\n", size, chunked)
		if i < clients/2 {
			readers.Add(1)
			go func() { // 1 byte a second
				defer readers.Done()
				var b [1]byte
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for range tick.C {
					if _, err := c.Read(b[:]); err != nil {
						return
					}
				}
			}()
		}
	}
	// Wait until the instance is held back: every answer started and the
	// bytes sent stop growing.
	var last int64 = -1
	stable := 0
	deadline := time.Now().Add(10 * time.Second)
	for stable < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the instance never stopped sending: %d bytes, %d answers started", up.sent.Load(), up.bigStart.Load())
		}
		time.Sleep(100 * time.Millisecond)
		if s := up.sent.Load(); s == last && up.bigStart.Load() == clients+1 {
			stable++
		} else {
			last, stable = s, 0
		}
	}
	heap1, stack1 := memInUse()
	sent := up.sent.Load() - 1<<20
	perClient := (int64(heap1) - int64(heap0)) / clients
	t.Logf("slow readers: %d clients of %d MiB answers: instance sent %.1f MiB per client before being held back; heap growth %d KiB per client, stack growth %d KiB per client",
		clients, size>>20, float64(sent)/clients/(1<<20), perClient>>10, (int64(stack1)-int64(stack0))/clients>>10)
	if sent >= clients*size {
		t.Errorf("the instance sent every answer in full (%d bytes) to clients that do not read: held in memory somewhere", sent)
	}
	if perClient > 2<<20 {
		t.Errorf("heap grew by %d KiB per slow client, want < 2 MiB: the gateway buffers answers", perClient>>10)
	}

	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	for _, r := range up.waitDone(t, clients) {
		if r.err == nil || r.n >= size {
			t.Errorf("instance answer to a client that left: %d bytes, err %v; want cut short", r.n, r.err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !up.closed(r.remote) {
			if time.Now().After(deadline) {
				t.Fatalf("connection %s to the instance still open after its client left", r.remote)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	getBig(t, addr, 8<<20, false)
	getBig(t, addr, 8<<20, true)
	p.stop(t)
	settleGoroutines(t, g, leakBase)
}

// Slowloris: clients that send their headers a byte at a time are cut off
// when the server's ReadHeaderTimeout passes (shortened here from
// production's 10 s, checked in TestServerLimits), never reach the
// instance, and leave nothing behind.
func TestSlowHeaders(t *testing.T) {
	const (
		clients = 50
		timeout = 500 * time.Millisecond
	)
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, func(s *http.Server) { s.ReadHeaderTimeout = timeout })
	leakBase := goleak.IgnoreCurrent()
	reqs := up.requests() // before the prober's, which are counted apart
	p := startProber(addr)

	type cut struct {
		after time.Duration
		got   string
	}
	cuts := make(chan cut, clients)
	for range clients {
		start := time.Now() // before the server's clock starts
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { // a byte every 20 ms, until the server hangs up
			head := "GET /api/predict/svc/ok HTTP/1.1\r\nHost: x\r\nX-Slow: "
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				b := byte('a')
				if i < len(head) {
					b = head[i]
				}
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				<-tick.C
			}
		}()
		go func() {
			b, _ := io.ReadAll(c)
			c.Close()
			cuts <- cut{time.Since(start), string(b)}
		}()
	}
	var slowest time.Duration
	for range clients {
		c := <-cuts
		slowest = max(slowest, c.after)
		// net/http closes silently, or answers 400 when the timeout
		// cut the request line (a busy machine delays the client's bytes).
		if c.after < timeout || c.after > timeout+3*time.Second || (c.got != "" && !strings.HasPrefix(c.got, "HTTP/1.1 400 ")) {
			t.Errorf("slowloris client cut after %v (ReadHeaderTimeout %v) with %q", c.after, timeout, c.got)
		}
	}
	t.Logf("slowloris: %d clients cut off, the last %v after connecting (ReadHeaderTimeout %v)", clients, slowest, timeout)
	p.stop(t)
	if n := up.requests() - reqs - int(p.n.Load()); n != 0 {
		t.Errorf("%d slowloris requests reached the instance", n)
	}
	settleGoroutines(t, g, leakBase)
}

// Headers over MaxHeaderBytes (one huge header, or very many) get 431
// without reaching the instance; headers under it pass.
func TestOversizedHeaders(t *testing.T) {
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	leakBase := goleak.IgnoreCurrent()
	reqs := up.requests() // before the prober's, which are counted apart
	p := startProber(addr)

	send := func(header string) (int, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		go func() { // the server stops reading early: write beside the read
			io.WriteString(c, "GET /api/predict/svc/ok HTTP/1.1\r\nHost: x\r\n"+header+"\r\n")
		}()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	huge := "X-Huge: " + strings.Repeat("a", 2<<20) + "\r\n"
	many := strings.Repeat("X-Many: "+strings.Repeat("b", 56)+"\r\n", 20000) // 1.3 MB
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for i := range 4 {
		wg.Go(func() {
			h := huge
			if i%2 == 1 {
				h = many
			}
			if code, err := send(h); err != nil || code != http.StatusRequestHeaderFieldsTooLarge {
				errs <- fmt.Sprintf("oversized headers (%d bytes): %d, %v; want 431", len(h), code, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	p.stop(t)
	if n := up.requests() - reqs - int(p.n.Load()); n != 0 {
		t.Errorf("%d oversized requests reached the instance", n)
	}
	if code, err := send("X-Large: " + strings.Repeat("c", 900<<10) + "\r\n"); err != nil || code != 200 {
		t.Errorf("900 KiB of headers: %d, %v; want 200", code, err)
	}
	settleGoroutines(t, g, leakBase)
}

// Clients that hang up with their body half sent, at once or after
// sending it slowly, whatever its framing (small enough to be written by
// the handler, large, chunked): the instance sees the body cut short,
// the connection to it is closed (not pooled), nothing is left behind,
// and the next requests with bodies are answered.
func TestHangUpMidRequest(t *testing.T) {
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	w := watchGateway(addr, g)
	for _, tc := range []struct {
		name   string
		header string // framing
		length int    // whole body; half is sent
		slow   bool   // 1 KiB every 10 ms
	}{
		{"small", "Content-Length: 60000", 60000, false},
		{"small slowly", "Content-Length: 60000", 60000, true},
		{"large", "Content-Length: 1048576", 1 << 20, false},
		{"large slowly", "Content-Length: 1048576", 1 << 20, true},
		{"chunked", "Transfer-Encoding: chunked", 1 << 20, false},
		{"chunked slowly", "Transfer-Encoding: chunked", 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", tc.header)
			piece := len(filler)
			if tc.slow {
				piece = 1 << 10
			}
			chunked := strings.HasPrefix(tc.header, "Transfer")
			half := tc.length / 2
			if tc.slow {
				half = min(half, 32<<10) // 32 KiB over 320 ms
			}
			for sent := 0; sent < half; sent += piece {
				b := filler[:min(piece, half-sent)]
				if chunked {
					fmt.Fprintf(c, "%x\r\n%s\r\n", len(b), b)
				} else {
					c.Write(b)
				}
				if tc.slow {
					time.Sleep(10 * time.Millisecond) // the client's pace, not a wait for the gateway
				}
			}
			c.Close()
			t0 := time.Now()
			r := up.waitDone(t, 1)[0]
			t.Logf("the instance saw the cut %v after the client left", time.Since(t0))
			if r.err == nil || r.n >= int64(tc.length) {
				t.Errorf("the instance read %d of %d bytes, err %v: want the body cut short", r.n, tc.length, r.err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !up.closed(r.remote) {
				if time.Now().After(deadline) {
					t.Fatalf("connection %s to the instance still open after the client left", r.remote)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The next request with the same framing is answered in full.
			req, _ := http.NewRequest("POST", "http://"+addr+"/api/predict/svc/sink", strings.NewReader(strings.Repeat("y", tc.length)))
			if chunked {
				req.ContentLength = -1
				req.Body = io.NopCloser(req.Body)
			}
			code, body, _ := do(t, req)
			if code != 200 || body != strconv.Itoa(tc.length) {
				t.Errorf("next request: %d %q, want 200 %d", code, body, tc.length)
			}
			up.waitDone(t, 1)
		})
	}
	client.CloseIdleConnections()
	w.check(t)
}

// Clients that hang up once the answer started (a stream waiting for
// more, or a large answer read in part): the instance's request is
// cancelled, its connection closed (not pooled), nothing is left behind,
// and the next requests are answered.
func TestHangUpMidResponse(t *testing.T) {
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	w := watchGateway(addr, g)
	for _, path := range []string{"/stream", "/big?n=67108864", "/big?n=67108864&chunked=1"} {
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /api/predict/svc%s HTTP/1.1\r\nHost: x\r\n\r\n", path)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, 6)); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %d, first bytes: %v", path, resp.StatusCode, err)
			}
			c.Close()
			r := up.waitDone(t, 1)[0]
			if r.err == nil {
				t.Errorf("%s: the instance's answer ended normally after the client left", path)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !up.closed(r.remote) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: connection %s to the instance still open after the client left", path, r.remote)
				}
				time.Sleep(10 * time.Millisecond)
			}
			getBig(t, addr, 1<<20, false)
			getBig(t, addr, 1<<20, true)
			up.waitDone(t, 2)
		}
	}
	w.check(t)
}

// Thousands of idle keep-alive connections: each costs the gateway a few
// KiB and one goroutine, a new client is still answered at once, idle
// ones can still be used, and all is released when they close.
func TestIdleConnections(t *testing.T) {
	const conns = 2000 // 2 descriptors each in this process
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 3*conns {
		t.Fatalf("open files limit %d (%v): this test needs %d; raise ulimit -n", rl.Cur, err, 3*conns)
	}
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	getBig(t, addr, 1, false) // warm up the pool and buffers
	up.waitDone(t, 1)
	leakBase := goleak.IgnoreCurrent()
	goroutines := runtime.NumGoroutine() // per-connection cost, measured below
	heap0, stack0 := memInUse()

	idle := make([]net.Conn, conns)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	next := atomic.Int32{}
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < conns; i = int(next.Add(1)) - 1 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				idle[i] = c
				if err := askOK(c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("opening idle connections: %v", err)
	}
	heap1, stack1 := memInUse()
	perConn := (int64(heap1) - int64(heap0) + int64(stack1) - int64(stack0)) / conns
	perConnG := float64(runtime.NumGoroutine()-goroutines) / conns
	t.Logf("idle connections: %d; %d bytes each (heap %d + stack %d, the test client's socket object included), %.2f goroutines each",
		conns, perConn, (int64(heap1)-int64(heap0))/conns, (int64(stack1)-int64(stack0))/conns, perConnG)
	if perConn > 32<<10 || perConnG > 1.05 {
		t.Errorf("an idle connection costs %d bytes and %.2f goroutines; want under 32 KiB and 1", perConn, perConnG)
	}

	start := time.Now()
	p := startProber(addr)
	for _, c := range idle[:50] { // idle connections still work
		if err := askOK(c); err != nil {
			t.Errorf("request on an idle connection: %v", err)
		}
	}
	t.Logf("idle connections: 50 requests on them answered in %v", time.Since(start))
	p.stop(t)
	for _, c := range idle {
		c.Close()
	}
	settleGoroutines(t, g, leakBase)
}

// askOK sends GET /ok on c and reads the answer, keeping c open.
func askOK(c net.Conn) error {
	if _, err := io.WriteString(c, "GET /api/predict/svc/ok HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 256), nil)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
		return fmt.Errorf("answer %d %q, %v", resp.StatusCode, b, err)
	}
	return nil
}

// A client that stops reading and stays connected is cut off after
// sendTimeout (nginx's send_timeout; shortened here from production's
// 60 s), also behind a middleware that wraps the ResponseWriter: its
// connection is closed and so is the instance's, whose worker would
// otherwise stay blocked writing the answer for as long as the client
// stays.
func TestStalledReaderCutOff(t *testing.T) {
	defer func(d time.Duration) { sendTimeout = d }(sendTimeout)
	sendTimeout = 300 * time.Millisecond
	if sendTimeoutDefault != 60*time.Second {
		t.Errorf("production send timeout %v, want nginx's 60s", sendTimeoutDefault)
	}
	for _, wrapped := range []bool{false, true} {
		t.Run(fmt.Sprintf("wrapped=%v", wrapped), func(t *testing.T) {
			up := newHostileUpstream(t)
			addr, g := hostileGateway(t, up, func(s *http.Server) {
				if wrapped {
					h := s.Handler
					s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						h.ServeHTTP(unwrapper{w}, r)
					})
				}
			})
			w := watchGateway(addr, g)
			var conns []net.Conn
			for i := range 4 {
				c, err := dialSmall(addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
				chunked := ""
				if i%2 == 1 {
					chunked = "&chunked=1"
				}
				fmt.Fprintf(c, "GET /api/predict/svc/big?n=%d%s HTTP/1.1\r\nHost: x\r\n\r\n", 64<<20, chunked)
			}
			start := time.Now()
			for _, r := range up.waitDone(t, len(conns)) {
				if r.err == nil {
					t.Errorf("the instance sent its whole answer (%d bytes) to a client that does not read", r.n)
				}
			}
			t.Logf("stalled readers: the instance's answers cut %v after they were asked for (send timeout %v)", time.Since(start), sendTimeout)
			for _, c := range conns { // the gateway closed them: they read to EOF
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("a stalled client's connection was not closed: %v", err)
				}
			}
			getBig(t, addr, 8<<20, false)
			up.waitDone(t, 1)
			w.check(t)
		})
	}
}

// unwrapper is a middleware's ResponseWriter: it hides the server's
// methods but offers Unwrap.
type unwrapper struct{ w http.ResponseWriter }

func (u unwrapper) Header() http.Header         { return u.w.Header() }
func (u unwrapper) WriteHeader(code int)        { u.w.WriteHeader(code) }
func (u unwrapper) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u unwrapper) Unwrap() http.ResponseWriter { return u.w }

// A body sent slowly (1 KiB every 10 ms) but in full is relayed and
// answered, whatever its framing: the server has no whole-request read
// timeout, so slow uploads and client streams are not cut.
func TestSlowBodyCompletes(t *testing.T) {
	up := newHostileUpstream(t)
	addr, g := hostileGateway(t, up, nil)
	leakBase := goleak.IgnoreCurrent()
	for _, chunked := range []bool{false, true} {
		const size = 32 << 10
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		framing := fmt.Sprintf("Content-Length: %d", size)
		if chunked {
			framing = "Transfer-Encoding: chunked"
		}
		fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", framing)
		for range size >> 10 {
			if chunked {
				fmt.Fprintf(c, "400\r\n%s\r\n", filler[:1<<10])
			} else {
				c.Write(filler[:1<<10])
			}
			time.Sleep(10 * time.Millisecond) // the client's pace
		}
		if chunked {
			io.WriteString(c, "0\r\n\r\n")
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 200 || string(b) != strconv.Itoa(size) {
			t.Errorf("slow body, chunked=%v: %d %q, want 200 %d", chunked, resp.StatusCode, b, size)
		}
		up.waitDone(t, 1)
	}
	settleGoroutines(t, g, leakBase)
}
