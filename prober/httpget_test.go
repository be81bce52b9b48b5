package prober

import (
	"bufio"
	"context"
	"crypto/tls"
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
)

// refCheckHTTP is an http_get made by net/http's Client with the
// kubelet's probe transport (no keep-alive, no proxy, no gzip, no
// certificate checks, a FIN on close) and redirect check: the oracle the
// connection-level client is held to.
func refCheckHTTP(ctx context.Context, host netip.Addr, port int, path string, timeout time.Duration) (outcome, string, error) {
	u, err := probeURL(host, port, path)
	if err != nil {
		return outUnknown, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return outUnknown, "", err
	}
	req.Header.Set("User-Agent", DefaultUserAgent)
	req.Header.Set("Accept", "*/*")
	client := &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				conn, err := d.DialContext(ctx, network, addr)
				return conn, err
			},
			DisableKeepAlives: true, DisableCompression: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	res, err := client.Do(req)
	if err != nil {
		return outFailure, err.Error(), nil
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return outUnknown, "", err
	}
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return outWarning, "Probe terminated redirects, Response body: " + string(body), nil
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return outSuccess, string(body), nil
	}
	return outFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

// rawServer answers each connection's request head with the bytes its
// script returns for the request path, then closes, and records every
// head byte for byte.
type rawServer struct {
	ln   net.Listener
	port int
	rec  *heads
}

// heads are the request heads the servers of one test saw, in order.
type heads struct {
	mu   sync.Mutex
	seen []string
}

func (h *heads) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.seen
	h.seen = nil
	return s
}

func newRawServer(t *testing.T, rec *heads, script func(path string) string) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, port: ln.Addr().(*net.TCPAddr).Port, rec: rec}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(roomyTimeout))
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					head.WriteString(line)
					if err != nil || line == "\r\n" {
						break
					}
				}
				s.rec.mu.Lock()
				s.rec.seen = append(s.rec.seen, head.String())
				s.rec.mu.Unlock()
				fields := strings.Fields(head.String())
				if len(fields) < 2 {
					return
				}
				_, _ = io.WriteString(c, script(fields[1]))
			})
		}
	})
	return s
}

// The connection-level client sends the same bytes as net/http's Client
// and comes to the same outcome and message, over statuses, bodies,
// informational answers, redirects and broken servers.
func TestHTTPGetMatchesNetHTTP(t *testing.T) {
	rec := &heads{}
	other := newRawServer(t, rec, func(path string) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nother"
	})
	big := strings.Repeat("b", 20<<10)
	script := func(path string) string {
		switch {
		case path == "/ok", strings.HasPrefix(path, "/q?"):
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		case path == "/nocontent":
			return "HTTP/1.1 204 No Content\r\n\r\n"
		case path == "/chunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nchu\r\n4\r\nnked\r\n0\r\n\r\n"
		case path == "/untilclose":
			return "HTTP/1.1 200 OK\r\n\r\nuntil close"
		case path == "/big":
			return "HTTP/1.1 200 OK\r\n\r\n" + big
		case path == "/hints":
			return "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhints"
		case path == "/switch":
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
		case path == "/500":
			return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 6\r\n\r\nsecret"
		case path == "/304":
			return "HTTP/1.1 304 Not Modified\r\n\r\n"
		case path == "/nolocation":
			return "HTTP/1.1 302 Found\r\nContent-Length: 4\r\n\r\nnone"
		case path == "/elsewhere":
			return fmt.Sprintf("HTTP/1.1 301 Moved Permanently\r\nLocation: http://localhost:%d/\r\nContent-Length: 4\r\n\r\nmove", other.port)
		case path == "/otherport":
			return fmt.Sprintf("HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:%d/x\r\n\r\n", other.port)
		case path == "/badlocation":
			return "HTTP/1.1 302 Found\r\nLocation: http://[::1\r\n\r\n"
		case path == "/ftp":
			return "HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1/file\r\n\r\n"
		case path == "/eof":
			return ""
		case path == "/garbage":
			return "garbage\r\n\r\n"
		case strings.HasPrefix(path, "/r/"):
			var n int
			fmt.Sscanf(path, "/r/%d", &n)
			if n == 0 {
				return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend"
			}
			return fmt.Sprintf("HTTP/1.1 303 See Other\r\nLocation: /r/%d\r\nContent-Length: 0\r\n\r\n", n-1)
		}
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	}
	main := newRawServer(t, rec, script)
	host := netip.MustParseAddr("127.0.0.1")
	m := NewManager(Options{})
	for _, path := range []string{
		"/ok", "/q?x=1&y=%20z", "/nocontent", "/chunked", "/untilclose", "/big",
		"/hints", "/switch", "/500", "/304", "/missing", "/nolocation",
		"/elsewhere", "/otherport", "/badlocation", "/ftp", "/eof", "/garbage",
		"/r/3", "/r/9", "/r/10",
	} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			// The servers record a head before answering it, so every
			// head of an exchange is in once it is done.
			run := func(check func() (outcome, string, error)) (outcome, string, bool, []string) {
				out, output, err := check()
				return out, output, err == nil, rec.take()
			}
			wo, wout, wok, wheads := run(func() (outcome, string, error) {
				return refCheckHTTP(t.Context(), host, main.port, path, roomyTimeout)
			})
			go_, gout, gok, gheads := run(func() (outcome, string, error) {
				return m.checkHTTP(t.Context(), host, main.port, path, roomyTimeout)
			})
			if go_ != wo || gout != wout || gok != wok {
				t.Errorf("got (%v, %q, nil error %v)\nwant (%v, %q, nil error %v) as net/http", go_, gout, gok, wo, wout, wok)
			}
			if fmt.Sprintf("%q", gheads) != fmt.Sprintf("%q", wheads) {
				t.Errorf("requests sent:\n got %q\nwant %q", gheads, wheads)
			}
		})
	}
}

// A redirect to https on the same host name is followed without
// checking the certificate, as the kubelet's probe transport does, and
// the Referer names the plain-HTTP page.
func TestHTTPGetRedirectToHTTPS(t *testing.T) {
	var referer, ua string
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		referer, ua = r.Referer(), r.UserAgent()
		fmt.Fprint(w, "secure")
	}))
	t.Cleanup(tlsSrv.Close)
	tlsPort := netip.MustParseAddrPort(tlsSrv.Listener.Addr().String()).Port()
	_, host, port := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("https://127.0.0.1:%d/s", tlsPort), http.StatusFound)
	})
	m := NewManager(Options{})
	out, output, err := m.checkHTTP(t.Context(), host, port, "/plain", roomyTimeout)
	if out != outSuccess || output != "secure" || err != nil {
		t.Fatalf("got (%v, %q, %v), want success from the https server", out, output, err)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d/plain", port); referer != want || ua != DefaultUserAgent {
		t.Errorf("https server saw Referer %q, User-Agent %q; want %q, %q", referer, ua, want, DefaultUserAgent)
	}
}

// Stopping the worker (its context) ends an exchange at once, not at
// the probe's timeout.
func TestHTTPGetStopsWithContext(t *testing.T) {
	host, port := hangingServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	m := NewManager(Options{})
	begin := time.Now()
	_, output, _ := m.checkHTTP(ctx, host, port, "/", roomyTimeout)
	if took := time.Since(begin); took > roomyTimeout/2 {
		t.Errorf("the exchange ran %v after its context ended (timeout %v)", took, roomyTimeout)
	}
	if !strings.Contains(output, "context canceled") {
		t.Errorf("output %q, want it to say the context was canceled", output)
	}
}

// A probe closes its connection with a FIN, as the kubelet's probe
// dialer (SO_LINGER 1 s since Kubernetes 1.27) does: the instance reads
// a clean end of stream, not "connection reset by peer" (SO_LINGER 0).
func TestProbeClosesCleanly(t *testing.T) {
	for _, kind := range []string{"http_get", "tcp_socket"} {
		t.Run(kind, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			end := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					end <- err
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(roomyTimeout))
				br := bufio.NewReader(c)
				if kind == "http_get" {
					for {
						line, err := br.ReadString('\n')
						if err != nil || line == "\r\n" {
							break
						}
					}
					// Answer without closing: the probe closes first.
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
				_, err = br.ReadByte()
				end <- err
			}()
			host := netip.MustParseAddr("127.0.0.1")
			port := ln.Addr().(*net.TCPAddr).Port
			var out outcome
			if kind == "http_get" {
				out, _, err = NewManager(Options{}).checkHTTP(t.Context(), host, port, "/", roomyTimeout)
			} else {
				out, _, err = checkTCP(t.Context(), host, port, roomyTimeout)
			}
			if out != outSuccess || err != nil {
				t.Fatalf("probe: %v %v, want success", out, err)
			}
			if err := <-end; err != io.EOF {
				t.Errorf("the server read %v after the probe closed, want EOF (a FIN)", err)
			}
		})
	}
}
