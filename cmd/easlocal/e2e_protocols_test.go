package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/examples/grpcapi"
	"github.com/easlocal/easlocal/examples/wsframe"
	"github.com/easlocal/easlocal/internal/testutil"
)

// wsDial opens a WebSocket to base+path (http://...) with the token.
func wsDial(t *testing.T, base, path, token string) *websocket.Conn {
	t.Helper()
	ws, err := wsframe.Dial(base, path, token)
	if err != nil {
		t.Fatalf("WebSocket to %s%s: %v (%s)", base, path, err, upgradeAnswer(base+path, token))
	}
	return ws
}

// upgradeAnswer is what a plain upgrade request to url is answered, for
// a failure message (the WebSocket client says only "bad status").
func upgradeAnswer(url, token string) string {
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Authorization": token} {
		req.Header.Set(k, v)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Sprintf("a plain upgrade request is answered %s %q", resp.Status, b)
}

// wsEcho dials base+path with the token, checks that a text and a binary
// message come back as sent, then closes the connection with the
// WebSocket close handshake.
func wsEcho(t *testing.T, base, path, token string) {
	t.Helper()
	ws := wsDial(t, base, path, token)
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	for _, f := range []wsframe.Frame{{Type: websocket.TextFrame, Data: []byte("hello")}, {Type: websocket.BinaryFrame, Data: []byte{0, 1, 0xfe, 0xff}}} {
		if err := wsframe.Codec.Send(ws, f); err != nil {
			t.Fatalf("WebSocket send via %s: %v", base, err)
		}
		var got wsframe.Frame
		if err := wsframe.Codec.Receive(ws, &got); err != nil {
			t.Fatalf("WebSocket receive via %s: %v", base, err)
		}
		if got.Type != f.Type || !bytes.Equal(got.Data, f.Data) {
			t.Errorf("WebSocket echo via %s: sent type %d %q, got type %d %q", base, f.Type, f.Data, got.Type, got.Data)
		}
	}
	// Close: the client's close frame reaches the app, whose close frame
	// (and the end of the connection) come back.
	if err := ws.Close(); err != nil {
		t.Errorf("WebSocket close via %s: %v", base, err)
	}
}

// Two instances with metadata.enable_grpc behind the gateway: WebSocket
// echo through the gateway and a sidecar (token checked), gRPC unary and
// server-streaming calls through the gateway (round robin per call,
// trailers, the health service), server-sent events under 16
// concurrent streams arriving as written (first-byte times logged),
// gateway_policy.concurrency_limit, and WebSockets ending with their
// instance.
func TestE2EProtocols(t *testing.T) {
	const token = "e2e-proto-token"
	s := upSvc(t, "e2e_proto", "protocols", "--token", token)

	// WebSocket.
	if _, err := wsframe.Dial(s.gateway, "/api/predict/"+s.name+"/ws", ""); err == nil {
		t.Error("a WebSocket without the token was let through")
	}
	wsEcho(t, s.gateway, "/api/predict/"+s.name+"/ws", token)
	direct := discover(t, s)
	if len(direct) != 2 {
		t.Fatalf("discovery: want 2 sidecars, got %v", direct)
	}
	wsEcho(t, "http://"+direct[0], "/api/predict/"+s.name+"/ws", token)

	// gRPC.
	cc, err := grpc.NewClient("passthrough:///"+strings.TrimPrefix(s.gateway, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := grpcapi.Echo(ctx, cc, "x"); err == nil {
		t.Error("a gRPC call without the token was let through")
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	got := map[string]int{}
	for range 4 {
		answer, instance, err := grpcapi.Echo(ctx, cc, "hi")
		if err != nil {
			t.Fatalf("unary gRPC through the gateway: %v", err)
		}
		if instance == "" || answer != instance+": hi" {
			t.Errorf("Echo answered %q with trailer x-instance %q", answer, instance)
		}
		got[instance]++
	}
	if len(got) != 2 || slices.Contains(mapValues(got), 1) || slices.Contains(mapValues(got), 3) {
		t.Errorf("gRPC round robin per call over 2 instances: want 2 calls each, got %v", got)
	}
	msgs := make(chan string, 64)
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- grpcapi.Count(ctx, cc, 20, msgs) }()
	var seq []string
	var firstAt time.Duration
	for m := range msgs {
		if seq == nil {
			firstAt = time.Since(start)
		}
		seq = append(seq, m)
	}
	total := time.Since(start)
	if err := <-errc; err != nil || len(seq) != 20 || !strings.HasSuffix(seq[19], " 19") {
		t.Errorf("server-streaming gRPC through the gateway: %q, %v", seq, err)
	}
	if firstAt >= total/2 {
		t.Errorf("the stream's first message came after %v of %v: not streamed", firstAt, total)
	}
	t.Logf("gRPC Count(20) through the gateway: first message after %v, all after %v", firstAt, total)
	if r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("grpc.health.v1 Check through the gateway: %v, %v", r, err)
	}

	// Server-sent events: 16 streams at once, direct to an instance and
	// through the gateway; the first event's arrival times are compared.
	in := s.ps().Instances[0]
	directURL := "http://" + in.IP + ":8000/stream?n=5&interval=200ms"
	viaURL := s.predict("/stream?n=5&interval=200ms")
	d := firstBytes(t, directURL, "", 16)
	g := firstBytes(t, viaURL, token, 16)
	t.Logf("SSE time to first event, 16 concurrent streams: direct p50 %v max %v; through the gateway p50 %v max %v",
		d[len(d)/2], d[len(d)-1], g[len(g)/2], g[len(g)-1])
	// The next event is 200ms later: a relay that held events back
	// would be that late. A loaded machine may add a few tens of ms.
	if g[len(g)/2]-d[len(d)/2] > 100*time.Millisecond {
		t.Errorf("first event through the gateway %v later than direct (p50): not streamed", g[len(g)/2]-d[len(d)/2])
	}

	// gateway_policy.concurrency_limit 18: with 18 streams open through
	// the gateway the next request gets 429; once they end, 200.
	// The gateway sees the SSE clients above leave a moment after they
	// did (a hang-up is watched for once a request has run 50 ms), so
	// the 18 streams are retried until all are admitted.
	var ctxStreams context.Context
	var stopStreams context.CancelFunc
	var open sync.WaitGroup
	testutil.WaitFor(t, 10*time.Second, 20*time.Millisecond, "18 streams to be admitted under concurrency_limit 18", func() bool {
		ctxStreams, stopStreams = context.WithCancel(context.Background())
		for i := range 18 {
			req, _ := http.NewRequestWithContext(ctxStreams, "GET", s.predict("/stream?n=1000&interval=100ms"), nil)
			req.Header.Set("Authorization", token)
			resp, err := httpc.Transport.RoundTrip(req)
			if err != nil {
				t.Fatalf("stream %d under the concurrency limit: %v", i, err)
			}
			if resp.StatusCode != 200 {
				resp.Body.Close()
				stopStreams()
				open.Wait()
				return false
			}
			open.Add(1)
			go func() { defer open.Done(); io.Copy(io.Discard, resp.Body); resp.Body.Close() }()
		}
		return true
	})
	if code, body := doReq(t, authReq(t, "GET", s.predict("/"), token)); code != http.StatusTooManyRequests || !strings.Contains(body, "concurrency_limit") {
		t.Errorf("a 19th request with 18 in flight and concurrency_limit 18: want 429, got %d %q", code, body)
	}
	stopStreams()
	open.Wait()
	// The gateway sees the clients leave a moment after they did.
	testutil.WaitFor(t, 10*time.Second, 20*time.Millisecond, "a request to pass once the streams ended", func() bool {
		code, _ := doReq(t, authReq(t, "GET", s.predict("/"), token))
		return code == 200
	})

	// Termination: two WebSockets, one per instance (round robin);
	// scaling to 1 terminates one instance, whose WebSocket ends within
	// the stop grace, while the other keeps echoing.
	path := "/api/predict/" + s.name + "/ws"
	conns := []*websocket.Conn{wsDial(t, s.gateway, path, token), wsDial(t, s.gateway, path, token)}
	type read struct {
		i   int
		f   wsframe.Frame
		err error
	}
	reads := make(chan read, 2)
	for i, ws := range conns {
		defer ws.Close()
		go func() {
			for {
				var f wsframe.Frame
				err := wsframe.Codec.Receive(ws, &f)
				reads <- read{i, f, err}
				if err != nil {
					return
				}
			}
		}()
	}
	scaled := time.Now()
	s.mustCtl("scale", s.name, "1")
	var gone read
	select {
	case gone = <-reads:
	case <-time.After(30 * time.Second):
		t.Fatal("no WebSocket ended after its instance was terminated")
	}
	if gone.err == nil {
		t.Fatalf("a WebSocket received %q nobody sent", gone.f.Data)
	}
	t.Logf("the terminated instance's WebSocket ended %v after scale 1 (stop grace 3s)", time.Since(scaled).Round(time.Millisecond))
	other := conns[1-gone.i]
	if err := wsframe.Codec.Send(other, wsframe.Frame{Type: websocket.TextFrame, Data: []byte("still")}); err != nil {
		t.Fatalf("the surviving WebSocket: %v", err)
	}
	select {
	case r := <-reads:
		if r.i != 1-gone.i || r.err != nil || string(r.f.Data) != "still" {
			t.Errorf("the surviving WebSocket after the other instance left: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Error("the surviving WebSocket no longer echoes")
	}
}

// doReq sends req with httpc and returns the status and body.
func doReq(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mapValues(m map[string]int) []int {
	var v []int
	for _, n := range m {
		v = append(v, n)
	}
	return v
}

// firstBytes opens n event streams at once and returns, sorted, how long
// each took from its request to its first event.
func firstBytes(t *testing.T, url, token string, n int) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var out []time.Duration
	var wg sync.WaitGroup
	tr := &http.Transport{Proxy: nil, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 20 * time.Second, Transport: tr}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", url, nil)
			if token != "" {
				req.Header.Set("Authorization", token)
			}
			start := time.Now()
			resp, err := c.Do(req)
			if err != nil {
				t.Errorf("GET %s: %v", url, err)
				return
			}
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			took := time.Since(start)
			if err != nil || !strings.HasPrefix(line, "id: 0") {
				t.Errorf("first event of %s: %q %v", url, line, err)
				return
			}
			mu.Lock()
			out = append(out, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(out) == 0 {
		t.Fatalf("no stream of %s answered", url)
	}
	slices.Sort(out)
	return out
}

// admitted sends GET url one request after the other, at most every
// 5ms (200 a second, well above the limits tested, without flooding a
// shared machine), for d and returns how many were answered 200 and 429,
// and the time from the first to the last request.
func admitted(t *testing.T, url string, d time.Duration) (ok, limited int, elapsed time.Duration) {
	t.Helper()
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var last time.Time
	for time.Since(start) < d {
		<-tick.C
		last = time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case 200:
			ok++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("GET %s: unexpected %d", url, resp.StatusCode)
		}
	}
	return ok, limited, last.Sub(start)
}

// checkRate compares what a token bucket of rate (burst = rate) admits
// over elapsed with what passed, within 10% (at least 2 requests).
func checkRate(t *testing.T, what string, rate, ok, limited int, elapsed time.Duration) {
	t.Helper()
	want := float64(rate) + float64(rate)*elapsed.Seconds()
	tol := math.Max(2, want*0.10)
	t.Logf("%s: %d admitted and %d answered 429 in %v; the bucket allows %.1f (%.1f%% off)", what, ok, limited, elapsed.Round(time.Millisecond), want, 100*(float64(ok)-want)/want)
	if math.Abs(float64(ok)-want) > tol {
		t.Errorf("%s: %d admitted, want %.0f±%.0f", what, ok, want, tol)
	}
	if limited == 0 {
		t.Errorf("%s: no 429 although requests were sent far above the rate", what)
	}
}

// One instance with metadata.rpc.rate_limit 20, worker_threads 1,
// max_queue_size 1, keepalive 2 s and gateway_policy.rate_limit 10:
// the gateway admits 10 a second, the sidecar (no service-wide limit in
// direct mode) 20; with the worker busy one request waits and the next
// gets 450, and the waiting one 408 once keepalive passes in the queue;
// the first refusals are Limited events.
func TestE2ELimits(t *testing.T) {
	s := upSvc(t, "e2e_limits", "limits")

	ok, limited, elapsed := admitted(t, s.predict("/"), 3*time.Second)
	checkRate(t, "gateway, gateway_policy.rate_limit 10/s", 10, ok, limited, elapsed)
	direct := discover(t, s)
	if len(direct) != 1 {
		t.Fatalf("discovery: want 1 sidecar, got %v", direct)
	}
	ok, limited, elapsed = admitted(t, "http://"+direct[0]+"/api/predict/"+s.name+"/", 3*time.Second)
	checkRate(t, "sidecar, metadata.rpc.rate_limit 20/s", 20, ok, limited, elapsed)

	time.Sleep(1100 * time.Millisecond) // the service bucket refills
	// The worker: a stream that answers at once and runs 4 s.
	started := make(chan struct{})
	streamDone := make(chan error, 1)
	go func() {
		resp, err := httpc.Get(s.predict("/stream?n=40&interval=100ms"))
		close(started)
		if err != nil {
			streamDone <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			streamDone <- fmt.Errorf("status %d", resp.StatusCode)
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		streamDone <- err
	}()
	<-started
	// Two more at once: one waits in the queue (and gets 408 when
	// keepalive passes), the other finds the queue full (450).
	type answer struct {
		code int
		body string
		took time.Duration
	}
	answers := make(chan answer, 2)
	for range 2 {
		go func() {
			start := time.Now()
			code, body := get(t, s.predict("/"))
			answers <- answer{code, body, time.Since(start)}
		}()
	}
	var full, timedOut *answer
	for range 2 {
		a := <-answers
		switch a.code {
		case StatusQueueFull:
			full = &a
		case http.StatusRequestTimeout:
			timedOut = &a
		default:
			t.Errorf("a request behind the busy worker: want 450 or 408, got %d %q", a.code, a.body)
		}
	}
	if full == nil || !strings.Contains(full.body, "max_queue_size") {
		t.Errorf("no 450 naming max_queue_size for the request that found the queue full: %+v", full)
	}
	if timedOut == nil || !strings.Contains(timedOut.body, "queue") {
		t.Errorf("no 408 for the request that waited in the queue: %+v", timedOut)
	} else {
		t.Logf("the queued request got 408 after %v (keepalive 2s)", timedOut.took.Round(time.Millisecond))
		if timedOut.took < 2*time.Second || timedOut.took > 3500*time.Millisecond {
			t.Errorf("408 after %v in the queue; want about keepalive (2s)", timedOut.took)
		}
	}
	if err := <-streamDone; err != nil {
		t.Errorf("the stream holding the worker: %v", err)
	}

	seen := map[string]bool{}
	for _, e := range s.events() {
		if e.Reason == events.Limited {
			seen[e.Message] = true
		}
	}
	var msgs []string
	for m := range seen {
		msgs = append(msgs, m)
	}
	all := strings.Join(msgs, " | ")
	for _, want := range []string{"gateway_policy.rate_limit", "rpc.rate_limit", "queue is full", "keepalive"} {
		if !strings.Contains(all, want) {
			t.Errorf("no Limited event naming %s; got %q", want, all)
		}
	}
}

// StatusQueueFull is EAS's answer when an instance's queue is full.
const StatusQueueFull = 450
