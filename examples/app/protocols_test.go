package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/easlocal/easlocal/examples/grpcapi"
	"github.com/easlocal/easlocal/examples/wsframe"
)

// serveTest runs serve on loopback until the test ends.
func serveTest(t *testing.T, cfg config) (*server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := testServer(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, s, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, ln.Addr().String()
}

// /ws echoes text as text and binary as binary; the port is the HTTP one.
func TestWebSocketEcho(t *testing.T) {
	_, addr := serveTest(t, defaultConfig())
	ws, err := websocket.Dial("ws://"+addr+"/ws", "", "http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, f := range []wsframe.Frame{{Type: websocket.TextFrame, Data: []byte("hello")}, {Type: websocket.BinaryFrame, Data: []byte{0, 0xff, 7}}} {
		if err := wsframe.Codec.Send(ws, f); err != nil {
			t.Fatal(err)
		}
		var got wsframe.Frame
		if err := wsframe.Codec.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got.Type != f.Type || !bytes.Equal(got.Data, f.Data) {
			t.Errorf("echo of type %d %q: got type %d %q", f.Type, f.Data, got.Type, got.Data)
		}
	}
}

// gRPC on the same port (h2c): Echo names the instance in its answer and
// trailer, Count streams, the health service follows /ready.
func TestGRPC(t *testing.T) {
	s, addr := serveTest(t, defaultConfig())
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	answer, instance, err := grpcapi.Echo(ctx, cc, "hi")
	if err != nil || answer != "demo-0: hi" || instance != "demo-0" {
		t.Errorf("Echo: %q (trailer %q), %v", answer, instance, err)
	}
	got := make(chan string, 10)
	errc := make(chan error, 1)
	go func() { errc <- grpcapi.Count(ctx, cc, 3, got) }()
	var msgs []string
	for m := range got {
		msgs = append(msgs, m)
	}
	if err := <-errc; err != nil || strings.Join(msgs, ",") != "demo-0 0,demo-0 1,demo-0 2" {
		t.Errorf("Count(3): %q, %v", msgs, err)
	}
	hc := healthpb.NewHealthClient(cc)
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	if st := check(); st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health of a ready server: %v", st)
	}
	post(t, "http://"+addr+"/control/ready?ok=false")
	if st := check(); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after /control/ready?ok=false: %v", st)
	}
	_ = s
}
