package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/websocket"

	"github.com/easlocal/easlocal/examples/wsframe"
)

// wsEchoUpstream echoes every WebSocket message as it came (text as text,
// binary as binary) with "<name>:" in front, and reports on closed when
// a connection ended.
func wsEchoUpstream(t testing.TB, name string) (*httptest.Server, <-chan struct{}) {
	closed := make(chan struct{}, 16)
	srv := httptest.NewServer(websocket.Server{Handler: func(ws *websocket.Conn) {
		defer func() { closed <- struct{}{} }()
		defer ws.Close()
		for {
			var f wsframe.Frame
			if err := wsframe.Codec.Receive(ws, &f); err != nil {
				return
			}
			f.Data = append([]byte(name+":"), f.Data...)
			if err := wsframe.Codec.Send(ws, f); err != nil {
				return
			}
		}
	}})
	t.Cleanup(srv.Close)
	return srv, closed
}

// wsGateway is serveGateway whose gateway is closed at the end of the
// test (which ends its WebSockets) before the server is.
func wsGateway(t testing.TB, opts Options) (*Gateway, *testServer) {
	g, srv := serveGateway(t, opts)
	t.Cleanup(g.Close)
	return g, srv
}

// checkEcho sends a text and a binary message and expects them back as
// the same types from instance name.
func checkEcho(t *testing.T, ws *websocket.Conn, name string) {
	t.Helper()
	for _, f := range []wsframe.Frame{{Type: websocket.TextFrame, Data: []byte("hello")}, {Type: websocket.BinaryFrame, Data: []byte{0, 1, 2, 0xff}}} {
		if err := wsframe.Codec.Send(ws, f); err != nil {
			t.Fatalf("sending a frame through the relay: %v", err)
		}
		var got wsframe.Frame
		if err := wsframe.Codec.Receive(ws, &got); err != nil {
			t.Fatalf("receiving the echo through the relay: %v", err)
		}
		want := append([]byte(name+":"), f.Data...)
		if got.Type != f.Type || !bytes.Equal(got.Data, want) {
			t.Errorf("echo: want type %d %q, got type %d %q", f.Type, want, got.Type, got.Data)
		}
	}
}

// A WebSocket through the gateway: the token is checked, text and binary
// frames go both ways, the connection counts as in flight for its
// instance while open, and closing it reaches the instance.
func TestWebSocketThroughGateway(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs after the other cleanups
	up, closed := wsEchoUpstream(t, "a")
	g, srv := wsGateway(t, Options{Token: "tok", Endpoints: oneInstance(t, "a", up.URL)})

	if _, err := wsframe.Dial(srv.URL, "/api/predict/svc/ws", ""); err == nil || !strings.Contains(err.Error(), "bad status") {
		t.Fatalf("WebSocket without the token: want the upgrade refused, got %v", err)
	}
	ws, err := wsframe.Dial(srv.URL, "/api/predict/svc/ws", "tok")
	if err != nil {
		t.Fatalf("WebSocket with the token through the gateway: %v", err)
	}
	checkEcho(t, ws, "a")
	if n := g.InFlight("a"); n != 1 {
		t.Errorf("an open WebSocket counts as in flight for its instance: want 1, got %d", n)
	}
	ws.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the client's close did not reach the instance")
	}
	waitFor(t, "the tunnel to end after the close", func() bool { return g.InFlight("a") == 0 && g.tunnels.count() == 0 })
}

// The same through a direct-mode sidecar; closing the sidecars (the
// instance left) ends the WebSocket after the grace.
func TestWebSocketThroughSidecar(t *testing.T) {
	up, closed := wsEchoUpstream(t, "b")
	sc, err := NewSidecars(Options{Service: "svc", Token: "tok", Endpoints: oneInstance(t, "b", up.URL)})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	addr, _ := sc.Addr("b")
	ws, err := wsframe.Dial("http://"+addr.String(), "/api/predict/svc/ws", "tok")
	if err != nil {
		t.Fatalf("WebSocket through the sidecar: %v", err)
	}
	defer ws.Close()
	checkEcho(t, ws, "b")
	done := make(chan error, 1)
	go func() { done <- sc.Close() }()
	// The tunnel stays usable during the grace...
	checkEcho(t, ws, "b")
	ws.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the client's close did not reach the instance through the sidecar")
	}
	// ...and the sidecars' Close returns once it ended, before the grace.
	select {
	case <-done:
	case <-time.After(SidecarGrace / 2):
		t.Fatal("Sidecars.Close waited past the end of the last WebSocket")
	}
}

// An instance that refuses the upgrade is answered as for any request.
func TestWebSocketRefusedByInstance(t *testing.T) {
	up, _ := echoUpstream(t, "plain")
	srv := startGateway(t, Options{Endpoints: oneInstance(t, "a", up.URL)})
	req, _ := http.NewRequest("GET", srv.URL+"/api/predict/svc/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	code, body, _ := do(t, req)
	if code != 200 || !strings.HasPrefix(body, "plain GET /ws") {
		t.Errorf("upgrade refused by the instance: want its 200 relayed, got %d %q", code, body)
	}
}

// Hostile: a WebSocket client that never reads while the instance keeps
// sending. Each write to the client gets the send timeout, so the tunnel
// is cut (its instance connection closed) instead of holding it, and the
// gateway keeps serving others meanwhile.
func TestWebSocketClientNeverReads(t *testing.T) {
	saved := sendTimeout
	t.Cleanup(func() { sendTimeout = saved }) // after the gateway has closed
	sendTimeout = 300 * time.Millisecond
	instGone := make(chan int64, 1)
	up := httptest.NewServer(websocket.Server{Handler: func(ws *websocket.Conn) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		var n int64
		for {
			if err := websocket.Message.Send(ws, chunk); err != nil {
				instGone <- n
				return
			}
			n += int64(len(chunk))
		}
	}})
	t.Cleanup(up.Close)
	plain, _ := echoUpstream(t, "plain")
	set := oneInstance(t, "a", up.URL)
	g, srv := wsGateway(t, Options{Endpoints: set})

	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(c, "GET /api/predict/svc/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://x\r\n\r\n")
	br := bufio.NewReaderSize(c, 4096)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 101 ") {
		t.Fatalf("upgrade through the gateway: %q %v", status, err)
	}
	// Never read again. Others are served meanwhile.
	set.Set("b", endpointOf(t, plain.URL))
	for range 4 {
		req, _ := http.NewRequest("GET", srv.URL+"/api/predict/svc/", nil)
		if code, _, _ := do(t, req); code != 200 && code != 400 {
			t.Errorf("another client while a WebSocket reader is stuck: got %d", code)
		}
	}
	select {
	case n := <-instGone:
		t.Logf("the instance wrote %d KiB before the stuck reader was cut off", n>>10)
		if n > 64<<20 {
			t.Errorf("the relay buffered %d MiB for a client that never reads", n>>20)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a WebSocket client that never reads was not cut off")
	}
	waitFor(t, "the stuck tunnel to be released", func() bool { return g.tunnels.count() == 0 && g.InFlight("a") == 0 })
}

// Gateway.Close ends the WebSockets the server no longer knows of.
func TestWebSocketClosedWithGateway(t *testing.T) {
	up, closed := wsEchoUpstream(t, "a")
	g, srv := wsGateway(t, Options{Endpoints: oneInstance(t, "a", up.URL)})
	ws, err := wsframe.Dial(srv.URL, "/api/predict/svc/ws", "")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	checkEcho(t, ws, "a")
	g.CloseTunnels("other")
	checkEcho(t, ws, "a")
	g.CloseTunnels("a")
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseTunnels did not end the instance's WebSocket")
	}
	var f wsframe.Frame
	if err := wsframe.Codec.Receive(ws, &f); err == nil {
		t.Error("the client's WebSocket is still open after CloseTunnels")
	}
}

// waitFor polls cond (state owned by other goroutines) for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
		runtime.Gosched()
	}
	t.Fatalf("timed out waiting for %s", what)
}
