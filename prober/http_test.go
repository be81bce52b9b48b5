package prober

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests run the real http_get checker against real servers on
// 127.0.0.1 (outside any synctest bubble).

// testTimeout is the probe timeout of the tests that time out on purpose;
// the others use roomyTimeout so a loaded CI machine cannot fail them.
const (
	testTimeout  = 300 * time.Millisecond
	roomyTimeout = 10 * time.Second
)

func serve(t testing.TB, h http.HandlerFunc) (*httptest.Server, netip.Addr, int) {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	return s, ap.Addr(), int(ap.Port())
}

func checkHTTPOnce(t *testing.T, host netip.Addr, port int, path string) (outcome, string, error, time.Duration) {
	return checkHTTPWithin(t, host, port, path, roomyTimeout)
}

func checkHTTPWithin(t *testing.T, host netip.Addr, port int, path string, timeout time.Duration) (outcome, string, error, time.Duration) {
	t.Helper()
	m := NewManager(Options{})
	begin := time.Now()
	out, output, err := m.checkHTTP(t.Context(), host, port, path, timeout)
	return out, output, err, time.Since(begin)
}

func TestHTTPStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		code   int
		want   outcome
		output string
	}{
		{200, outSuccess, "body 200"},
		{204, outSuccess, ""},
		{399, outWarning, "Probe terminated redirects, Response body: body 399"},
		{400, outFailure, "HTTP probe failed with statuscode: 400"},
		{404, outFailure, "HTTP probe failed with statuscode: 404"},
		{500, outFailure, "HTTP probe failed with statuscode: 500"},
		{503, outFailure, "HTTP probe failed with statuscode: 503"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.code)
				fmt.Fprintf(w, "body %d", tc.code)
			})
			out, output, err, _ := checkHTTPOnce(t, host, port, "/")
			if out != tc.want || output != tc.output || err != nil {
				t.Errorf("got (%v, %q, %v), want (%v, %q, nil)", out, output, err, tc.want, tc.output)
			}
		})
	}
}

// A final 3xx (here 302 without a Location, which the client cannot
// follow) is a success with a warning, as the kubelet reports it.
func TestHTTPFinalRedirectIsWarning(t *testing.T) {
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
		fmt.Fprint(w, "no location")
	})
	out, output, err, _ := checkHTTPOnce(t, host, port, "/")
	if out != outWarning || output != "Probe terminated redirects, Response body: no location" || err != nil {
		t.Errorf("got (%v, %q, %v), want a warning", out, output, err)
	}
}

// The kubelet's headers are sent (also on followed redirects), the path
// and query are kept, and keep-alive is off.
func TestHTTPRequestHeaders(t *testing.T) {
	type seen struct{ path, ua, accept, conn, enc string }
	var mu sync.Mutex
	var got []seen
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.RequestURI(), r.UserAgent(), r.Header.Get("Accept"), r.Header.Get("Connection"), r.Header.Get("Accept-Encoding")})
		mu.Unlock()
		if r.URL.Path == "/first" {
			http.Redirect(w, r, "/second", http.StatusFound)
		}
	})
	if out, _, err, _ := checkHTTPOnce(t, host, port, "/first?x=1"); out != outSuccess || err != nil {
		t.Fatalf("got %v %v, want success", out, err)
	}
	want := []seen{
		{"/first?x=1", "kube-probe/1.33", "*/*", "close", ""},
		{"/second", "kube-probe/1.33", "*/*", "close", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests seen:\n got %+v\nwant %+v", got, want)
	}
}

// Every probe opens a new connection (no keep-alive), even through one
// shared Manager.
func TestHTTPNewConnectionPerProbe(t *testing.T) {
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	ap := netip.MustParseAddrPort(s.Listener.Addr().String())
	m := NewManager(Options{})
	for range 5 {
		if out, _, err := m.checkHTTP(t.Context(), ap.Addr(), int(ap.Port()), "/", roomyTimeout); out != outSuccess || err != nil {
			t.Fatalf("probe: %v %v", out, err)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("5 probes opened %d connections, want 5", n)
	}
}

// redirectChain serves /r/N -> /r/N-1 -> ... -> /r/0 (200).
func redirectChain(w http.ResponseWriter, r *http.Request) {
	var n int
	if _, err := fmt.Sscanf(r.URL.Path, "/r/%d", &n); err != nil {
		http.NotFound(w, r)
		return
	}
	if n == 0 {
		fmt.Fprint(w, "end")
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/r/%d", n-1), http.StatusFound)
}

// Same-host redirects are followed within 10 requests, with the kubelet's
// own check (len(via) >= 10, as Go's default policy): a chain of 9
// redirects ends in success, the 10th redirect (and an 11th) is a failure.
func TestHTTPRedirectLimit(t *testing.T) {
	_, host, port := serve(t, redirectChain)
	if out, output, err, _ := checkHTTPOnce(t, host, port, "/r/9"); out != outSuccess || output != "end" || err != nil {
		t.Errorf("9 redirects: got (%v, %q, %v), want success", out, output, err)
	}
	for _, path := range []string{"/r/10", "/r/11"} {
		out, output, err, _ := checkHTTPOnce(t, host, port, path)
		if out != outFailure || !strings.Contains(output, "stopped after 10 redirects") || err != nil {
			t.Errorf("%s: got (%v, %q, %v), want failure 'stopped after 10 redirects'", path, out, output, err)
		}
	}
}

// A redirect to another host name is not followed: the 3xx is the final
// answer (success with a warning) and the other host is never contacted.
func TestHTTPRedirectToOtherHostNotFollowed(t *testing.T) {
	var otherHits atomic.Int32
	other, _, otherPort := serve(t, func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) })
	_ = other
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		// Same address, different host name: the kubelet compares names.
		http.Redirect(w, r, fmt.Sprintf("http://localhost:%d/", otherPort), http.StatusMovedPermanently)
	})
	out, output, err, _ := checkHTTPOnce(t, host, port, "/")
	if out != outWarning || !strings.HasPrefix(output, "Probe terminated redirects, Response body: ") || err != nil {
		t.Errorf("got (%v, %q, %v), want a warning", out, output, err)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
}

// hangingServer never answers a request until the test ends.
func hangingServer(t *testing.T) (netip.Addr, int) {
	release := make(chan struct{})
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	// Registered after serve's Close, so it runs first and Close does
	// not wait for the handlers.
	t.Cleanup(func() { close(release) })
	return host, port
}

// A server that never answers fails the probe at its timeout.
func TestHTTPSlowHeadersTimeOut(t *testing.T) {
	host, port := hangingServer(t)
	out, output, err, took := checkHTTPWithin(t, host, port, "/", testTimeout)
	if out != outFailure || !strings.Contains(output, "Client.Timeout exceeded while awaiting headers") || err != nil {
		t.Errorf("got (%v, %q, %v), want a timeout failure", out, output, err)
	}
	if took < testTimeout || took > testTimeout+2*time.Second {
		t.Errorf("probe took %v, want about %v", took, testTimeout)
	}
}

// Headers, then a body that never ends: the read stops at the timeout and,
// as in the kubelet, a failed body read means "could not run the probe"
// (retried and then discarded), not a failure.
func TestHTTPHangingBodyStopsAtTimeout(t *testing.T) {
	release := make(chan struct{})
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		fmt.Fprint(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	out, _, err, took := checkHTTPWithin(t, host, port, "/", testTimeout)
	if out != outUnknown || err == nil {
		t.Errorf("got (%v, %v), want unknown with an error", out, err)
	}
	if took < testTimeout || took > testTimeout+2*time.Second {
		t.Errorf("probe took %v, want about %v", took, testTimeout)
	}
}

// An endless body is cut at 10 KiB: the status decides, at once.
func TestHTTPEndlessBodyIsCut(t *testing.T) {
	for _, code := range []int{200, 500} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				chunk := []byte(strings.Repeat("x", 4096))
				for {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
			out, output, err, took := checkHTTPOnce(t, host, port, "/")
			if err != nil || took > 2*time.Second {
				t.Fatalf("err %v after %v, want an answer well within the timeout", err, took)
			}
			if code == 200 && (out != outSuccess || len(output) != 10<<10) {
				t.Errorf("got %v with %d bytes of output, want success with 10240", out, len(output))
			}
			if code == 500 && (out != outFailure || output != "HTTP probe failed with statuscode: 500") {
				t.Errorf("got (%v, %q), want failure", out, output)
			}
		})
	}
}

// A large but finite body behaves the same.
func TestHTTPOversizedBody(t *testing.T) {
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("y", 1<<20))
	})
	out, output, err, _ := checkHTTPOnce(t, host, port, "/")
	if out != outSuccess || len(output) != 10<<10 || err != nil {
		t.Errorf("got (%v, %d bytes, %v), want success with 10240 bytes", out, len(output), err)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	port := closedPort(t)
	out, output, err, _ := checkHTTPOnce(t, netip.MustParseAddr("127.0.0.1"), port, "/")
	want := fmt.Sprintf("Get \"http://127.0.0.1:%d/\": dial tcp 127.0.0.1:%d: connect: connection refused", port, port)
	if out != outFailure || output != want || err != nil {
		t.Errorf("got (%v, %q, %v), want failure %q", out, output, err, want)
	}
}

// No address (or a bad port) means the probe cannot be run at all.
func TestHTTPNoHostIsError(t *testing.T) {
	out, _, err, _ := checkHTTPOnce(t, netip.Addr{}, 8000, "/")
	if out != outUnknown || err == nil {
		t.Errorf("got (%v, %v), want unknown with an error", out, err)
	}
	out, _, err, _ = checkHTTPOnce(t, netip.MustParseAddr("127.0.0.1"), 0, "/")
	if out != outUnknown || err == nil {
		t.Errorf("port 0: got (%v, %v), want unknown with an error", out, err)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
