package proxy

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
)

// seen records what an upstream received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (s *seen) add(r *http.Request, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, body)
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

func (s *seen) last() (*http.Request, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return nil, ""
	}
	return s.reqs[len(s.reqs)-1], s.body[len(s.body)-1]
}

// echoUpstream answers "<name> <method> <request URI>" and records the request.
func echoUpstream(t testing.TB, name string) (*httptest.Server, *seen) {
	rec := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.add(r, string(b))
		w.Header().Set("X-Upstream", name)
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.RequestURI)
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// endpointOf turns an httptest server into an endpoint.
func endpointOf(t testing.TB, u string) endpoints.Endpoint {
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(u, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return endpoints.Endpoint{IP: ap.Addr(), Port: int(ap.Port())}
}

// listenLoopback listens on a free loopback port until the test ends.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// rawUpstream is an instance written by hand: it accepts connections on
// loopback until the test ends and runs serve for each in a goroutine of
// its own, closing the connection when serve returns.
func rawUpstream(t testing.TB, serve func(c net.Conn)) endpoints.Endpoint {
	t.Helper()
	ln := listenLoopback(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return endpointOf(t, "http://"+ln.Addr().String())
}

// serveLoopback serves g through NewServer (with so) on loopback until the
// test ends and returns its address; tweak (optional) changes the server
// before it starts. The caller registers what closes g itself; it runs
// after the server is closed.
func serveLoopback(t testing.TB, g *Gateway, tweak func(*http.Server), so ...ServerOption) string {
	t.Helper()
	srv := NewServer(g, zerolog.Nop(), so...)
	if tweak != nil {
		tweak(srv.hs)
	}
	ln := listenLoopback(t)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dialGateway serves a gateway for service "svc" over the one instance ep
// (named i0) and returns a client connection to it, closed when the test
// ends, whose deadline is within from now.
func dialGateway(t testing.TB, ep endpoints.Endpoint, within time.Duration) net.Conn {
	t.Helper()
	set := endpoints.New()
	set.Set("i0", ep)
	g := New(Options{Service: "svc", Endpoints: set})
	t.Cleanup(g.CloseIdle)
	c, err := net.Dial("tcp", serveLoopback(t, g, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(within))
	return c
}

// oneInstance is a set of one ready instance, name, at the httptest
// server URL u.
func oneInstance(t testing.TB, name, u string) *endpoints.Set {
	set := endpoints.New()
	set.Set(name, endpointOf(t, u))
	return set
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t testing.TB) endpoints.Endpoint {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return endpoints.Endpoint{IP: ap.Addr(), Port: int(ap.Port())}
}

// serveGateway serves a gateway for opts (service "svc" unless opts
// names one) with NewServer (what easlocal runs) on loopback until the
// test ends, when its idle connections are closed after the server.
func serveGateway(t testing.TB, opts Options) (*Gateway, *testServer) {
	if opts.Service == "" {
		opts.Service = "svc"
	}
	g := New(opts)
	t.Cleanup(g.CloseIdle)
	return g, &testServer{URL: "http://" + serveLoopback(t, g, nil)}
}

// testServer is where a test gateway listens.
type testServer struct{ URL string }

// startGateway is serveGateway for tests that need only the server.
func startGateway(t testing.TB, opts Options) *testServer {
	_, srv := serveGateway(t, opts)
	return srv
}

var client = &http.Client{Timeout: 10 * time.Second}

// sendReq sends req with client, failing the test when no answer came; the
// caller closes the answer's body.
func sendReq(t testing.TB, req *http.Request) *http.Response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

func do(t testing.TB, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp := sendReq(t, req)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := do(t, req)
	return code, body
}

// sdkSign signs req as the EAS SDKs do, written from the SDK sources
// (pai-eas/eas-golang-sdk eas/predict_client.go generateSignature + eas/util.go;
// pai-eas/eas-python-sdk eas_prediction/predict_client.py generate_singaure):
//
//	auth = "POST\n" + hex(md5(body)) + "\n" + "application/octet-stream\n" + date + "\n" + resource
//	Authorization: "EAS " + base64(HMAC-SHA1(key=token, auth))
//
// with headers Content-MD5, Date ("Mon, 02 Jan 2006 15:04:05 GMT"),
// Content-Type. The Go SDK's resource is "/api/predict/<service><requestPath>",
// the Python SDK's "/api/predict/<service>".
func sdkSign(req *http.Request, token, resource string, body []byte, date string) {
	sum := md5.Sum(body)
	contentMD5 := hex.EncodeToString(sum[:])
	ctype := "application/octet-stream"
	auth := "POST" + "\n" + contentMD5 + "\n" + ctype + "\n" + date + "\n" + resource
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(auth))
	req.Header.Set("Content-MD5", contentMD5)
	req.Header.Set("Date", date)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "EAS "+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// chanWriter turns zerolog lines into channel messages for tests that
// must wait for a log line.
type chanWriter chan string

func (c chanWriter) Write(p []byte) (int, error) {
	select {
	case c <- string(p):
	default:
	}
	return len(p), nil
}

func chanLogger() (zerolog.Logger, chanWriter) {
	c := make(chanWriter, 100)
	return zerolog.New(c).Level(zerolog.InfoLevel), c
}

type httptestServerT = httptest.Server

func newHTTPTest(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
