package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
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
func hostileGateway(t *testing.T, up *hostileUpstream, tweak func(*http.Server)) (addr string, srv *http.Server) {
	set := endpoints.New()
	set.Set("i0", endpointOf(t, up.srv.URL))
	g := New(Options{Service: "svc", Endpoints: set})
	srv = NewServer(g, zerolog.Nop())
	if tweak != nil {
		tweak(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		g.CloseIdle()
	})
	return ln.Addr().String(), srv
}

// prober is the well-behaved client: it asks for /ok in a loop on its own
// keep-alive connections and checks every answer.
type prober struct {
	cancel context.CancelFunc
	done   chan struct{}
	tr     *http.Transport
	n      int
	errs   []string
	worst  time.Duration
}

func startProber(addr string) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{cancel: cancel, done: make(chan struct{}), tr: &http.Transport{}}
	c := &http.Client{Transport: p.tr, Timeout: 5 * time.Second}
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
			p.worst = max(p.worst, time.Since(start))
			p.n++
			if err != nil && len(p.errs) < 5 {
				p.errs = append(p.errs, err.Error())
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// stop ends the prober and fails t unless every answer was right and
// none took longer than a second.
func (p *prober) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	<-p.done
	p.tr.CloseIdleConnections()
	t.Logf("well-behaved client: %d requests, slowest %v", p.n, p.worst)
	if p.n < 3 || len(p.errs) > 0 || p.worst > time.Second {
		t.Errorf("well-behaved client: %d requests, errors %q, slowest %v", p.n, p.errs, p.worst)
	}
}

// settleGoroutines waits for the goroutine count to come back to before
// (the gateway's handlers, the server's connections, body writers and
// context watchers all gone); it dumps the stacks if it does not.
func settleGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutine leak: %d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:n])
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
	if srv.ReadHeaderTimeout != 10*time.Second || srv.IdleTimeout != 2*time.Minute || srv.MaxHeaderBytes != 1<<20 {
		t.Fatalf("NewServer limits: header timeout %v, idle timeout %v, max header bytes %d; want 10s, 2m, 1 MiB",
			srv.ReadHeaderTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
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
	addr, _ := hostileGateway(t, up, nil)
	getBig(t, addr, 1<<20, false) // warm up the pools
	up.waitDone(t, 1)
	goroutines := runtime.NumGoroutine()
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
	settleGoroutines(t, goroutines)
}
