package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/examples/grpcapi"
)

// grpcUpstream serves the example service and the health service over
// h2c (what a gRPC server speaks without TLS) as instance name.
func grpcUpstream(t testing.TB, name string) endpoints.Endpoint {
	t.Helper()
	ln := listenLoopback(t)
	s := grpc.NewServer()
	grpcapi.Register(s, name)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return endpoints.Endpoint{IP: ap.Addr(), Port: int(ap.Port())}
}

// serveGRPCGateway serves a gateway for opts with h2c on loopback.
func serveGRPCGateway(t testing.TB, opts Options, h2c bool) (*Gateway, string) {
	t.Helper()
	opts.Service = "svc"
	g := New(opts)
	t.Cleanup(g.Close)
	var so []ServerOption
	if h2c {
		so = append(so, WithH2C())
	}
	return g, serveLoopback(t, g, nil, so...)
}

func grpcConn(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// gRPC through a gateway with EnableGRPC: unary calls go round robin per
// call with their trailers, a server-streaming call streams, the health
// service answers, errors keep their status and message, and the token
// is checked.
func TestGRPCThroughGateway(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	set := endpoints.New()
	set.Set("a", grpcUpstream(t, "a"))
	set.Set("b", grpcUpstream(t, "b"))
	_, addr := serveGRPCGateway(t, Options{Token: "tok", Endpoints: set, EnableGRPC: true, Keepalive: 5 * time.Second}, true)
	cc := grpcConn(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, _, err := grpcapi.Echo(ctx, cc, "hi"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC call without the token: want Unauthenticated (401), got %v", err)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer tok")
	got := map[string]int{}
	for range 6 {
		answer, instance, err := grpcapi.Echo(ctx, cc, "hi")
		if err != nil {
			t.Fatalf("unary gRPC call through the gateway: %v", err)
		}
		if answer != instance+": hi" {
			t.Errorf("Echo answered %q with trailer x-instance %q: the trailer was not relayed", answer, instance)
		}
		got[instance]++
	}
	if got["a"] != 3 || got["b"] != 3 {
		t.Errorf("round robin per call over one client connection: want 3 each, got %v", got)
	}

	msgs := make(chan string, 100)
	errc := make(chan error, 1)
	go func() { errc <- grpcapi.Count(ctx, cc, 5, msgs) }()
	var seq []string
	for m := range msgs {
		seq = append(seq, m)
	}
	if err := <-errc; err != nil || len(seq) != 5 || !strings.HasSuffix(seq[4], " 4") {
		t.Errorf("server-streaming call through the gateway: got %q, %v", seq, err)
	}

	hc := healthpb.NewHealthClient(cc)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check through the gateway: %v %v", r, err)
	}
	_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	if st := status.Convert(err); st.Code() != codes.NotFound || !strings.Contains(st.Message(), "unknown service") {
		t.Errorf("an error status through the gateway: want NotFound \"unknown service\", got %v", err)
	}
}

// Through a sidecar too; and a plain HTTP/2 request on the h2c front
// reaches an HTTP/1.1 instance as HTTP/1.1.
func TestGRPCThroughSidecarAndPlainHTTP2(t *testing.T) {
	set := endpoints.New()
	set.Set("a", grpcUpstream(t, "a"))
	sc, err := NewSidecars(Options{Service: "svc", Endpoints: set, EnableGRPC: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	addr, _ := sc.Addr("a")
	cc := grpcConn(t, addr.String())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if answer, _, err := grpcapi.Echo(ctx, cc, "hi"); err != nil || answer != "a: hi" {
		t.Errorf("gRPC through a sidecar: %q, %v", answer, err)
	}

	up, _ := echoUpstream(t, "plain")
	set2 := endpoints.New()
	set2.Set("p", endpointOf(t, up.URL))
	_, gw := serveGRPCGateway(t, Options{Endpoints: set2, EnableGRPC: true}, true)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("http://" + gw + "/api/predict/svc/x")
	if err != nil {
		t.Fatalf("HTTP/2 request on the h2c front: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(b) != "plain GET /x" {
		t.Errorf("plain HTTP/2 request: %s %d %q, want HTTP/2 200 from the HTTP/1.1 instance", resp.Proto, resp.StatusCode, b)
	}
}

// A service without EnableGRPC keeps HTTP/1.1: an h2c client gets no
// HTTP/2 from the gateway.
func TestGRPCOffKeepsHTTP1(t *testing.T) {
	set := endpoints.New()
	set.Set("a", grpcUpstream(t, "a"))
	_, addr := serveGRPCGateway(t, Options{Endpoints: set}, false)
	cc := grpcConn(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, _, err := grpcapi.Echo(ctx, cc, "hi"); err == nil {
		t.Error("a gRPC call reached an instance through a gateway without EnableGRPC")
	}
}

// Hostile: a client opens more streams than allowed and stalls them all
// (headers sent, the body never ends). The streams are bounded per
// connection, the stalled ones are ended by the body timeout, and
// another client is served meanwhile.
func TestGRPCStalledStreams(t *testing.T) {
	set := endpoints.New()
	set.Set("a", grpcUpstream(t, "a"))
	g, addr := serveGRPCGateway(t, Options{Endpoints: set, EnableGRPC: true, BodyTimeout: 500 * time.Millisecond}, true)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var wmu sync.Mutex
	c.Write([]byte(http2.ClientPreface))
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var hbuf strings.Builder
	enc := hpack.NewEncoder(&hbuf)
	const opened = MaxStreams + 50
	for i := range opened {
		hbuf.Reset()
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", "x"},
			{":path", "/" + grpcapi.ServiceName + "/Echo"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		wmu.Lock()
		err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: []byte(hbuf.String()), EndHeaders: true})
		wmu.Unlock()
		if err != nil {
			t.Fatalf("opening stream %d: %v", i, err)
		}
	}
	// Read what the gateway says: streams beyond the limit reset
	// (REFUSED_STREAM, or PROTOCOL_ERROR once our settings ACK is in),
	// the stalled ones ended by the body timeout, or the connection
	// closed after a GOAWAY (net/http's guard against many resets).
	refused, ended, goaway := 0, 0, false
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				if f.StreamID > 2*MaxStreams {
					refused++
				} else {
					ended++
				}
			case *http2.HeadersFrame:
				if f.StreamEnded() {
					ended++
				}
			case *http2.DataFrame:
				if f.StreamEnded() {
					ended++
				}
			case *http2.GoAwayFrame:
				goaway = true
			case *http2.SettingsFrame:
				if !f.IsAck() {
					wmu.Lock()
					fr.WriteSettingsAck()
					wmu.Unlock()
				}
			}
			if refused+ended >= opened {
				return
			}
		}
	}()

	// Another client is served while the streams stall.
	cc := grpcConn(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := grpcapi.Echo(ctx, cc, "hi"); err != nil {
		t.Errorf("another client while %d streams stall: %v", opened, err)
	}
	if n := g.InFlight("a"); n > MaxStreams+1 {
		t.Errorf("%d calls in flight to the instance from one connection; want at most %d", n, MaxStreams)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("stalled streams not ended by the body timeout: %d reset, %d ended of %d", refused, ended, opened)
	}
	t.Logf("%d streams opened: %d beyond the limit reset, %d ended by the body timeout, GOAWAY %v", opened, refused, ended, goaway)
	if !goaway && refused < opened-MaxStreams {
		t.Errorf("want the %d streams beyond the limit of %d reset, got %d", opened-MaxStreams, MaxStreams, refused)
	}
	waitFor(t, "the stalled calls to be released", func() bool { return g.InFlight("a") == 0 })
}

var _ = fmt.Sprint
