package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/easlocal/easlocal/endpoints"
)

// floodingUpstream accepts connections, reads each request's head and
// then writes head, followed by fill over and over, until the gateway
// closes the connection or limit bytes were written. It reports, per
// connection, how many bytes it wrote and whether the gateway closed
// the connection (a write failed) before the limit.
type floodResult struct {
	n      int64
	closed bool
}

func floodingUpstream(t *testing.T, head, fill string, limit int64) (endpoints.Endpoint, <-chan floodResult) {
	t.Helper()
	res := make(chan floodResult, 4)
	ep := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if line == "\r\n" {
				break
			}
		}
		var r floodResult
		chunk := []byte(strings.Repeat(fill, (32<<10)/len(fill)))
		n, err := io.WriteString(c, head)
		r.n += int64(n)
		for err == nil && r.n < limit {
			n, err = c.Write(chunk)
			r.n += int64(n)
		}
		r.closed = err != nil
		res <- r
	})
	return ep, res
}

// An instance whose answer head never ends (one endless header line,
// endless header lines, or endless 1xx interim answers) gets the client
// a prompt 502; the gateway reads about 1 MiB of it (as much as it
// accepts from clients), holds no more than that in memory, and closes
// the connection to the instance.
func TestEndlessAnswerHead(t *testing.T) {
	const limit = 64 << 20 // the flood ends here if nothing stops it
	for _, tc := range []struct {
		name, head, fill string
		sidecar          bool
	}{
		{"one endless line", "HTTP/1.1 200 OK\r\nX-Flood: ", "a", false},
		{"endless lines", "HTTP/1.1 200 OK\r\n", "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", false},
		{"endless interim answers", "", "HTTP/1.1 100 Continue\r\n\r\n", false},
		{"endless lines, sidecar", "HTTP/1.1 200 OK\r\n", "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, res := floodingUpstream(t, tc.head, tc.fill, limit)
			set := endpoints.New()
			set.Set("i0", ep)
			url := startGateway(t, Options{Endpoints: set}).URL
			if tc.sidecar {
				addr, _ := newSidecars(t, Options{Service: "svc", Endpoints: set}).Addr("i0")
				url = "http://" + addr.String()
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			code, body := get(t, url+"/api/predict/svc/x")
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			var r floodResult
			select {
			case r = <-res:
			case <-time.After(10 * time.Second):
				t.Fatal("the instance was still writing its answer head 10 s after the client got its answer")
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d after %v; the instance wrote %d KiB; the gateway allocated %d KiB", code, took, r.n>>10, alloc>>10)
			if code != http.StatusBadGateway {
				t.Errorf("got %d %q, want 502", code, body)
			}
			if took > 5*time.Second {
				t.Errorf("the 502 took %v", took)
			}
			if !r.closed {
				t.Errorf("the gateway read all %d MiB of the answer head instead of closing the connection", r.n>>20)
			}
			// 1 MiB read, plus what loopback socket buffers soak up.
			if r.n > 32<<20 {
				t.Errorf("the instance could write %d MiB of answer head", r.n>>20)
			}
			if alloc > 32<<20 {
				t.Errorf("the gateway allocated %d MiB for one answer head", alloc>>20)
			}
		})
	}
}

// limitGateway serves a gateway for opts (Endpoints: up) through
// NewServer on 127.0.0.1 and returns its address.
func limitGateway(t *testing.T, up *hostileUpstream, opts Options) (string, *Gateway) {
	t.Helper()
	if opts.Endpoints == nil { // up is used only then
		opts.Endpoints = oneInstance(t, "i0", up.srv.URL)
	}
	opts.Service = "svc"
	g := New(opts)
	t.Cleanup(g.CloseIdle)
	return serveLoopback(t, g, nil), g
}

// readAnswer reads one answer from c (within 10 s) and, with waitClose,
// then whether the gateway closed the connection after it.
func readAnswer(c net.Conn, waitClose bool) (status int, body string, closed bool, err error) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, string(b), false, err
	}
	if !waitClose {
		return resp.StatusCode, string(b), false, nil
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	return resp.StatusCode, string(b), err == io.EOF, nil
}

// 20 clients that promise a body (small, large or chunked) and send
// nothing are answered 408 once BodyTimeout passes without a byte, their
// connections are closed, and so are the gateway's connections to the
// instance, which saw its request bodies end.
func TestBodyTimeoutStalledClients(t *testing.T) {
	const clients = 20
	up := newHostileUpstream(t)
	addr, g := limitGateway(t, up, Options{BodyTimeout: 300 * time.Millisecond})
	leakBase := goleak.IgnoreCurrent()
	heads := []string{
		"Content-Length: 100",     // written by the handler itself
		"Content-Length: 1000000", // by a body writer
		"Transfer-Encoding: chunked",
	}
	type answer struct {
		status int
		body   string
		closed bool
		err    error
	}
	answers := make(chan answer, clients)
	start := time.Now()
	for i := range clients {
		go func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", heads[i%len(heads)])
			if i%len(heads) == 2 {
				io.WriteString(c, "5\r\nhello\r\n") // one chunk, then silence
			}
			var a answer
			a.status, a.body, a.closed, a.err = readAnswer(c, true)
			answers <- a
		}()
	}
	for range clients {
		a := <-answers
		if a.err != nil || a.status != http.StatusRequestTimeout || !a.closed {
			t.Errorf("stalled client: %d %q, connection closed %v, error %v; want 408 and closed", a.status, a.body, a.closed, a.err)
		}
	}
	t.Logf("%d stalled clients answered within %v", clients, time.Since(start))
	// Requests with large or chunked bodies reached the instance (their
	// bodies stream) and it saw each body cut short when the gateway let
	// go; small bodies are read before the request is sent, so those
	// never reached it.
	for _, r := range up.waitDone(t, clients-(clients+2)/3) {
		if r.err == nil {
			t.Errorf("the instance read a whole body (%d bytes) from a client that sent none", r.n)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		up.mu.Lock()
		open := 0
		for _, o := range up.open {
			if o {
				open++
			}
		}
		up.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to the instance still open", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
	settleGoroutines(t, g, leakBase)
}

// A body that keeps arriving, 1 KiB every 10 ms, is not cut by a
// BodyTimeout much longer than the gaps but much shorter than the upload.
func TestBodyTimeoutSpareProgress(t *testing.T) {
	up := newHostileUpstream(t)
	addr, _ := limitGateway(t, up, Options{BodyTimeout: 300 * time.Millisecond})
	const size = 64 << 10 // ~650 ms at this pace
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
	for range size >> 10 {
		if _, err := c.Write(filler[:1<<10]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	status, body, _, err := readAnswer(c, false)
	if err != nil || status != 200 || body != fmt.Sprint(size) {
		t.Fatalf("slow upload: %d %q %v, want 200 %d", status, body, err, size)
	}
}

// A client that stops sending its body after the instance's answer began
// gets that answer cut (its connection closed: a status was already
// sent), and the instance's connection is closed so the instance stops
// waiting for the rest.
func TestBodyTimeoutDuringAnswer(t *testing.T) {
	upErr := make(chan error, 1)
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		io.WriteString(w, "started\n")
		w.(http.Flusher).Flush()
		_, err := io.Copy(io.Discard, r.Body)
		upErr <- err
	})
	addr, _ := limitGateway(t, nil, Options{Endpoints: oneInstance(t, "i0", up.URL), BodyTimeout: 300 * time.Millisecond})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /api/predict/svc/up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "started\n" || err == nil {
		t.Errorf("got %d %q, end %v; want 200 \"started\\n\" and then the connection cut", resp.StatusCode, b, err)
	}
	select {
	case err := <-upErr:
		if err == nil {
			t.Error("the instance read the body to its end")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the instance still waits for the body")
	}
}

// The same holds for a signed request (whose body the gateway buffers to
// check it) and for a direct-mode sidecar.
func TestBodyTimeoutSignedAndSidecar(t *testing.T) {
	up := newHostileUpstream(t)
	opts := Options{Token: "tok", Endpoints: oneInstance(t, "i0", up.srv.URL), BodyTimeout: 300 * time.Millisecond}
	gw, _ := limitGateway(t, up, opts)
	opts.Service = "svc"
	sc := newSidecars(t, opts)
	side, ok := sc.Addr("i0")
	if !ok {
		t.Fatal("no sidecar")
	}
	req, _ := http.NewRequest("POST", "http://x/api/predict/svc/sink", nil)
	sdkSign(req, "tok", "/api/predict/svc", []byte("never sent"), "Mon, 02 Jan 2006 15:04:05 GMT")
	for name, addr := range map[string]string{"signed, gateway": gw, "signed, sidecar": side.String()} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n")
		req.Header.Write(c)
		io.WriteString(c, "\r\nnever") // half the body, then silence
		status, body, closed, err := readAnswer(c, true)
		c.Close()
		if err != nil || status != http.StatusRequestTimeout || !closed {
			t.Errorf("%s: %d %q, closed %v, %v; want 408 and closed", name, status, body, closed, err)
		}
	}
	if n := up.requests(); n != 0 {
		t.Errorf("the instance got %d requests whose signed bodies never arrived", n)
	}
}

// A request with both Content-Length and Transfer-Encoding is read by its
// chunks alone (the instance sees the chunked body, never the
// Content-Length), answered, and then the connection is closed (RFC 9112
// section 6.1), whatever the case of the header names and however the
// head is split across packets. Requests with one framing keep the
// connection open.
func TestAmbiguousFraming(t *testing.T) {
	srv, rec := echoUpstream(t, "a")
	addr, _ := limitGateway(t, nil, Options{Endpoints: oneInstance(t, "i0", srv.URL)})
	for _, tc := range []struct {
		name, head string
		wantClose  bool
	}{
		{"both", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", true},
		{"both, reversed, odd case", "transfer-ENCODING: chunked\r\ncontent-length: 3\r\n", true},
		{"both, split in a name", "Content-Length: 5\r\nTransfer-Enc", true},
		{"chunked only", "Transfer-Encoding: chunked\r\n", false},
		{"names in other headers", "X-Content-Length: 5\r\nX-Note: transfer-encoding: chunked\r\nTransfer-Encoding: chunked\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			head := "POST /api/predict/svc/x HTTP/1.1\r\nHost: x\r\n" + tc.head
			if strings.HasSuffix(tc.head, "Transfer-Enc") {
				io.WriteString(c, head)
				time.Sleep(20 * time.Millisecond) // a separate read on the server
				head = "oding: chunked\r\n"
			}
			io.WriteString(c, head+"\r\n3\r\nabc\r\n0\r\n\r\n")
			status, body, closed, err := readAnswer(c, tc.wantClose)
			if err != nil || status != 200 || body != "a POST /x" {
				t.Fatalf("got %d %q %v, want 200 \"a POST /x\"", status, body, err)
			}
			r, got := rec.last()
			if r == nil || got != "abc" || r.Header.Get("Content-Length") != "" {
				t.Errorf("the instance got body %q, Content-Length %q; want the chunks alone", got, r.Header.Get("Content-Length"))
			}
			if tc.wantClose && !closed {
				t.Error("the connection stayed open after a request with both Content-Length and Transfer-Encoding")
			}
			if !tc.wantClose {
				// Still usable: a second request on it is answered.
				io.WriteString(c, "GET /api/predict/svc/again HTTP/1.1\r\nHost: x\r\n\r\n")
				if status, body, _, err := readAnswer(c, false); err != nil || status != 200 || body != "a GET /again" {
					t.Errorf("second request: %d %q %v", status, body, err)
				}
			}
		})
	}
}

// framingConn finds both framing headers in one head wherever the reads
// split it, and not in consecutive heads that each carry one.
func TestFramingScanSplits(t *testing.T) {
	both := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\ntransfer-encoding: chunked\r\n\r\n"
	apart := "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	for i := range len(both) + 1 {
		c := &framingConn{atLine: true}
		c.scan([]byte(both[:i]))
		c.scan([]byte(both[i:]))
		if !c.ambiguous.Load() {
			t.Fatalf("split at %d (%q): not found", i, both[:i])
		}
	}
	for i := range len(apart) + 1 {
		c := &framingConn{atLine: true}
		c.scan([]byte(apart[:i]))
		c.scan([]byte(apart[i:]))
		if c.ambiguous.Load() {
			t.Fatalf("split at %d: two heads with one framing each taken for one with both", i)
		}
	}
}

// The Content-Length a signed request claims is not memory the gateway
// sets aside before the bytes arrive: a client that claims the largest
// body the gateway buffers and sends a few bytes costs a few bytes.
func TestSignedBodyClaimNotReserved(t *testing.T) {
	up := newHostileUpstream(t)
	addr, _ := limitGateway(t, up, Options{Token: "tok", BodyTimeout: 300 * time.Millisecond})
	req, _ := http.NewRequest("POST", "http://x/api/predict/svc/sink", nil)
	sdkSign(req, "tok", "/api/predict/svc", []byte("never sent"), "Mon, 02 Jan 2006 15:04:05 GMT")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/predict/svc/sink HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", MaxSignedBody)
	req.Header.Write(c)
	io.WriteString(c, "\r\nabc")
	status, _, _, err := readAnswer(c, false)
	runtime.ReadMemStats(&after)
	if err != nil || status != http.StatusRequestTimeout {
		t.Fatalf("got %d %v, want 408", status, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("a signed request that sent 3 bytes of a claimed %d MiB cost %d MiB", MaxSignedBody>>20, alloc>>20)
	}
}
