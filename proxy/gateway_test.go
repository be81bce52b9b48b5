package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// threeUpstreams returns a set with instances i0..i2 and their recorders.
func threeUpstreams(t *testing.T) (*endpoints.Set, []*seen) {
	set := endpoints.New()
	var recs []*seen
	for i := range 3 {
		srv, rec := echoUpstream(t, fmt.Sprintf("i%d", i))
		set.Set(fmt.Sprintf("i%d", i), endpointOf(t, srv.URL))
		recs = append(recs, rec)
	}
	return set, recs
}

// Round robin over the snapshot spreads sequential requests exactly evenly.
func TestRoundRobinEven(t *testing.T) {
	set, recs := threeUpstreams(t)
	gw := startGateway(t, Options{Endpoints: set})
	for i := range 300 {
		code, body := get(t, gw.URL+"/api/predict/svc/x")
		want := fmt.Sprintf("i%d GET /x", i%3)
		if code != 200 || body != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, code, body, want)
		}
	}
	for i, rec := range recs {
		if rec.count() != 100 {
			t.Errorf("i%d got %d requests, want 100", i, rec.count())
		}
	}
}

// The /api/predict/<service> prefix is stripped; the query string and the
// exact escaping of the rest of the path are kept.
func TestPathRewrite(t *testing.T) {
	srv, _ := echoUpstream(t, "i0")
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", srv.URL)})
	for in, want := range map[string]string{
		"/api/predict/svc":                 "/",
		"/api/predict/svc/":                "/",
		"/api/predict/svc?x=1&y=%20":       "/?x=1&y=%20",
		"/api/predict/svc/v1/predict?a=b":  "/v1/predict?a=b",
		"/api/predict/svc/a%2Fb/c":         "/a%2Fb/c",
		"/api/predict/svc/deep/er/path/":   "/deep/er/path/",
		"/api/predict/svc/with%20space/ok": "/with%20space/ok",
	} {
		code, body := get(t, gw.URL+in)
		if code != 200 || body != "i0 GET "+want {
			t.Errorf("%s: %d %q, want upstream URI %q", in, code, body, want)
		}
	}
}

// An instance removed from the set leaves the rotation at once and comes
// back when set again.
func TestUnreadyRemovalAndReturn(t *testing.T) {
	set, recs := threeUpstreams(t)
	gw := startGateway(t, Options{Endpoints: set})
	i1 := set.Snapshot().Endpoints[1]
	set.Remove("i1")
	for range 20 {
		get(t, gw.URL+"/api/predict/svc/")
	}
	if recs[1].count() != 0 || recs[0].count() != 10 || recs[2].count() != 10 {
		t.Fatalf("after removal: %d %d %d, want 10 0 10", recs[0].count(), recs[1].count(), recs[2].count())
	}
	set.Set("i1", i1)
	for range 30 {
		get(t, gw.URL+"/api/predict/svc/")
	}
	if recs[1].count() != 10 {
		t.Fatalf("after return i1 got %d of 30, want 10", recs[1].count())
	}
}

// Paths outside the prefix and other services' names are 404 with a hint.
func TestNotFound(t *testing.T) {
	set, recs := threeUpstreams(t)
	gw := startGateway(t, Options{Service: "demo", Endpoints: set})
	code, body := get(t, gw.URL+"/predict")
	if code != 404 || !strings.Contains(body, "/api/predict/demo/") {
		t.Errorf("outside prefix: %d %q", code, body)
	}
	code, body = get(t, gw.URL+"/api/predict/other/x")
	if code != 404 || !strings.Contains(body, `"other"`) || !strings.Contains(body, `"demo"`) {
		t.Errorf("other service: %d %q", code, body)
	}
	code, _ = get(t, gw.URL+"/api/predict/demox")
	if code != 404 {
		t.Errorf("service name prefix matched: %d", code)
	}
	for _, r := range recs {
		if r.count() != 0 {
			t.Fatal("a 404 reached an upstream")
		}
	}
}

// With no ready instance the gateway answers 503 "no healthy upstream".
func TestNoHealthyUpstream(t *testing.T) {
	gw := startGateway(t, Options{Endpoints: endpoints.New()})
	code, body := get(t, gw.URL+"/api/predict/svc/")
	if code != 503 || body != "no healthy upstream" {
		t.Fatalf("got %d %q", code, body)
	}
}

// An upstream that does not answer within rpc.keepalive gets 408; one that
// answers in time is passed through.
func TestKeepalive408(t *testing.T) {
	release := make(chan struct{})
	slow := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	})
	defer close(release)
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", slow.URL), Keepalive: 50 * time.Millisecond})
	code, body := get(t, gw.URL+"/api/predict/svc/slow")
	if code != http.StatusRequestTimeout || !strings.Contains(body, "keepalive") {
		t.Fatalf("slow: %d %q, want 408", code, body)
	}
	if code, body := get(t, gw.URL+"/api/predict/svc/fast"); code != 200 || body != "ok" {
		t.Fatalf("fast: %d %q", code, body)
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) *httptestServerT {
	srv := newHTTPTest(h)
	t.Cleanup(srv.Close)
	return srv
}

// A connection refused is retried on the next endpoint (body included,
// since none of it was read); NoRetry turns that off.
func TestRetryOnRefused(t *testing.T) {
	srv, rec := echoUpstream(t, "live")
	set := endpoints.New()
	set.Set("a-dead", closedPort(t))
	set.Set("b-live", endpointOf(t, srv.URL))

	gw := startGateway(t, Options{Endpoints: set})
	for i := range 4 {
		req, _ := http.NewRequest("POST", gw.URL+"/api/predict/svc/p", strings.NewReader("payload"))
		code, body, _ := do(t, req)
		if code != 200 || body != "live POST /p" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if rec.count() != 4 {
		t.Fatalf("live upstream got %d, want 4", rec.count())
	}
	if _, b := rec.last(); b != "payload" {
		t.Fatalf("retried body = %q", b)
	}

	gw = startGateway(t, Options{Endpoints: set, NoRetry: true})
	codes := map[int]int{}
	for range 4 {
		code, _ := get(t, gw.URL+"/api/predict/svc/p")
		codes[code]++
	}
	if codes[502] != 2 || codes[200] != 2 {
		t.Fatalf("NoRetry codes = %v, want 2×502 and 2×200", codes)
	}
}

// Every endpoint refusing ends in 502 after trying each once.
func TestAllRefused(t *testing.T) {
	set := endpoints.New()
	set.Set("a", closedPort(t))
	set.Set("b", closedPort(t))
	gw := startGateway(t, Options{Endpoints: set})
	if code, _ := get(t, gw.URL+"/api/predict/svc/"); code != 502 {
		t.Fatalf("got %d, want 502", code)
	}
}

// droppingUpstream accepts one connection, reads the request line, sends
// it on got and hangs up without answering: an instance killed mid-request.
func droppingUpstream(t *testing.T) (net.Listener, <-chan string) {
	t.Helper()
	ln := listenLoopback(t)
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- line
		c.Close()
	}()
	return ln, got
}

// dropThenLive is a set of two instances in this order: a-drops, a
// droppingUpstream (its listener and the request line it saw), and
// b-live, an echoUpstream (what it received).
func dropThenLive(t *testing.T) (set *endpoints.Set, ln net.Listener, got <-chan string, live *seen) {
	ln, got = droppingUpstream(t)
	srv, live := echoUpstream(t, "live")
	set = endpoints.New()
	set.Set("a-drops", endpointOf(t, "http://"+ln.Addr().String()))
	set.Set("b-live", endpointOf(t, srv.URL))
	return set, ln, got, live
}

// An upstream that took the request and then dropped the connection is not
// retried (it may have acted on it): 502, and the next endpoint sees nothing.
func TestNoRetryAfterSend(t *testing.T) {
	set, _, got, rec := dropThenLive(t)
	gw := startGateway(t, Options{Endpoints: set})
	req, _ := http.NewRequest("POST", gw.URL+"/api/predict/svc/once", strings.NewReader("x"))
	code, _, _ := do(t, req)
	if code != 502 {
		t.Fatalf("got %d, want 502", code)
	}
	if line := <-got; !strings.HasPrefix(line, "POST /once ") {
		t.Fatalf("dropping upstream saw %q", line)
	}
	if rec.count() != 0 {
		t.Fatal("request was retried after it had been sent")
	}
}

// Server-sent events and chunked answers arrive as written: the client
// reads the first event while the upstream is still holding the second.
func TestStreamingPassThrough(t *testing.T) {
	for _, ctype := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(ctype, func(t *testing.T) {
			release := make(chan struct{})
			up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ctype)
				io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "data: two\n\n")
			})
			gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL)})
			resp := getStream(t, gw.URL+"/api/predict/svc/events")
			if resp.Header.Get("Content-Type") != ctype {
				t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
			}
			br := bufio.NewReader(resp.Body)
			first, err := readEvent(br)
			if err != nil || first != "data: one\n\n" {
				t.Fatalf("first event %q, %v (buffered until the upstream finished?)", first, err)
			}
			close(release)
			second, err := readEvent(br)
			if err != nil || second != "data: two\n\n" {
				t.Fatalf("second event %q, %v", second, err)
			}
		})
	}
}

// getStream sends a GET to url that is given up after 5 s and returns
// the answer with its body open for reading as it arrives (closed when
// the test ends).
func getStream(t *testing.T, url string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp := sendReq(t, req)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readEvent(br *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\n" {
			return b.String(), nil
		}
	}
}

// The request body streams too: the upstream reads the first part before
// the client has sent the rest (raw-token requests are not buffered).
func TestRequestBodyStreams(t *testing.T) {
	gotFirst := make(chan struct{})
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
			t.Errorf("first part %q %v", buf, err)
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s+%s", buf, rest)
	})
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL), Token: "tok"})
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("first"))
		select {
		case <-gotFirst:
			pw.Write([]byte("second"))
			pw.Close()
		case <-time.After(5 * time.Second):
			pw.CloseWithError(fmt.Errorf("upstream never saw the first part: body buffered"))
		}
	}()
	req, _ := http.NewRequest("POST", gw.URL+"/api/predict/svc/", pr)
	req.Header.Set("Authorization", "tok")
	code, body, _ := do(t, req)
	if code != 200 || body != "first+second" {
		t.Fatalf("%d %q", code, body)
	}
}

// X-Forwarded-For gets the client address appended; hop-by-hop headers
// (and those named in Connection) are dropped both ways; others pass.
func TestHeaders(t *testing.T) {
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("X-Resp", "2")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "xff=%s secret=%s custom=%s ka=%s ua=%q host=%s",
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Secret"), r.Header.Get("X-Custom"),
			r.Header.Get("Keep-Alive"), r.Header.Get("User-Agent"), r.Host)
	})
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL)})

	req, _ := http.NewRequest("GET", gw.URL+"/api/predict/svc/", nil)
	req.Header.Set("X-Custom", "c")
	req.Header.Set("User-Agent", "")
	code, body, h := do(t, req)
	if code != http.StatusTeapot || h.Get("X-Resp") != "2" || h.Get("X-Resp-Hop") != "" {
		t.Errorf("answer %d headers %v", code, h)
	}
	host := strings.TrimPrefix(gw.URL, "http://")
	if want := `xff=127.0.0.1 secret= custom=c ka= ua="" host=` + host; body != want {
		t.Errorf("upstream saw %q, want %q", body, want)
	}

	req, _ = http.NewRequest("GET", gw.URL+"/api/predict/svc/", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "s")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("User-Agent", "curl/8")
	_, body, _ = do(t, req)
	if want := `xff=203.0.113.7, 127.0.0.1 secret= custom= ka= ua="curl/8" host=` + host; body != want {
		t.Errorf("upstream saw %q, want %q", body, want)
	}
}

// A client that hangs up before the answer is logged as 499 and the
// upstream request is cancelled.
func TestClientHangup499(t *testing.T) {
	arrived := make(chan struct{})
	cancelled := make(chan struct{})
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
		close(cancelled)
	})
	set := oneInstance(t, "i0", up.URL)
	logger, lines := chanLogger()
	gw := startGateway(t, Options{Endpoints: set, Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", gw.URL+"/api/predict/svc/", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("request succeeded after cancel")
	}
	<-cancelled
	select {
	case line := <-lines:
		if !strings.Contains(line, `"status":499`) {
			t.Fatalf("log line %q lacks status 499", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no 499 log line")
	}
}

// Large answers with a known length pass through intact.
func TestLargeBody(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	})
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL)})
	req, _ := http.NewRequest("GET", gw.URL+"/api/predict/svc/", nil)
	code, body, h := do(t, req)
	if code != 200 || body != string(big) || h.Get("Content-Length") != fmt.Sprint(len(big)) {
		t.Fatalf("%d len %d cl %q", code, len(body), h.Get("Content-Length"))
	}
}

// rpc.keepalive bounds the wait for the answer's head only: a stream that
// started in time is not cut when it runs longer. (This needs real time:
// the limit is a socket deadline, outside any fake clock.)
func TestKeepaliveDoesNotCutStreams(t *testing.T) {
	const keepalive = 20 * time.Millisecond
	release := make(chan struct{})
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
	})
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL), Keepalive: keepalive})
	resp, err := client.Get(gw.URL + "/api/predict/svc/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if ev, err := readEvent(br); err != nil || ev != "data: one\n\n" {
		t.Fatalf("first event %q %v", ev, err)
	}
	time.Sleep(3 * keepalive)
	close(release)
	if ev, err := readEvent(br); err != nil || ev != "data: two\n\n" {
		t.Fatalf("second event after the keepalive: %q %v", ev, err)
	}
}

// Observe sees every attempt: the refused one (502, not a retry) and the
// one that answered (its status, a retry).
func TestObserve(t *testing.T) {
	srv, _ := echoUpstream(t, "live")
	set := endpoints.New()
	set.Set("a-dead", closedPort(t))
	set.Set("b-live", endpointOf(t, srv.URL))
	type obs struct {
		inst    string
		status  int
		retried bool
	}
	var mu sync.Mutex // requests are sequential, but Observe runs on the server's threads
	var got []obs
	gw := startGateway(t, Options{Endpoints: set, Observe: func(inst string, status int, retried bool) {
		mu.Lock()
		got = append(got, obs{inst, status, retried})
		mu.Unlock()
	}})
	get(t, gw.URL+"/api/predict/svc/")
	get(t, gw.URL+"/api/predict/svc/")
	want := []obs{{"a-dead", 502, false}, {"b-live", 200, true}, {"b-live", 200, false}}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
}

// unwrapWriter is a middleware's writer that hides http.Flusher but
// offers Unwrap, as the metrics middleware does.
type unwrapWriter struct{ http.ResponseWriter }

func (w unwrapWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Streaming still flushes through a middleware that wraps the writer.
func TestStreamingThroughMiddleware(t *testing.T) {
	release := make(chan struct{})
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	g := New(Options{Service: "svc", Endpoints: oneInstance(t, "i0", up.URL)})
	t.Cleanup(g.CloseIdle)
	srv := httptestServer(t, func(w http.ResponseWriter, r *http.Request) { g.ServeHTTP(unwrapWriter{w}, r) })
	resp := getStream(t, srv.URL+"/api/predict/svc/")
	if ev, err := readEvent(bufio.NewReader(resp.Body)); err != nil || ev != "data: one\n\n" {
		t.Fatalf("first event %q %v", ev, err)
	}
	close(release)
}

// A GET whose instance dropped the connection before answering (killed
// mid-request) is retried on the next instance, as nginx's default
// proxy_next_upstream does for idempotent requests: the client sees 200.
func TestRetryIdempotentLostBeforeAnswer(t *testing.T) {
	set, ln, got, rec := dropThenLive(t)
	gw := startGateway(t, Options{Endpoints: set})
	if code, _ := get(t, gw.URL+"/api/predict/svc/again"); code != 200 {
		t.Fatalf("got %d, want 200 from the retry", code)
	}
	if line := <-got; !strings.HasPrefix(line, "GET /again ") {
		t.Fatalf("dropping upstream saw %q", line)
	}
	if rec.count() != 1 {
		t.Fatalf("live upstream saw %d requests, want the one retry", rec.count())
	}
	// With --no-retry the same loss is the client's 502.
	gw2 := startGateway(t, Options{Endpoints: set, NoRetry: true})
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	for range 2 { // round robin: one of two requests lands on a-drops
		if code, _ := get(t, gw2.URL+"/api/predict/svc/again"); code == 502 {
			return
		}
	}
	t.Fatal("with NoRetry no request failed on the dropping upstream")
}
