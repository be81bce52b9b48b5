package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/endpoints"
)

func oneUpstream(t *testing.T, h http.HandlerFunc) (*httptestServerT, string) {
	up := httptestServer(t, h)
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "i0", up.URL)})
	return up, gw.URL + "/api/predict/svc"
}

// Keep-alive connections the instance closed while idle (a restart, or
// uvicorn's 5 s keep-alive) are not used for the next request, with or
// without a body.
func TestStaleKeepAlive(t *testing.T) {
	up, url := oneUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	for i := range 3 {
		if code, _ := get(t, url+"/"); code != 200 {
			t.Fatalf("warm-up %d: %d", i, code)
		}
		up.CloseClientConnections()
		if code, body := get(t, url+"/"); code != 200 || body != "" {
			t.Fatalf("GET after close: %d %q", code, body)
		}
		up.CloseClientConnections()
		req, _ := http.NewRequest("POST", url+"/", strings.NewReader("body"))
		if code, body, _ := do(t, req); code != 200 || body != "body" {
			t.Fatalf("POST after close: %d %q", code, body)
		}
	}
}

// HEAD, 204 and 304 answers carry no body; the gateway must not wait for one.
func TestBodylessAnswers(t *testing.T) {
	_, url := oneUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			if r.Method != "HEAD" {
				io.WriteString(w, "hello")
			}
		}
	})
	for range 2 { // twice: the connection must stay usable
		req, _ := http.NewRequest("HEAD", url+"/", nil)
		if code, body, h := do(t, req); code != 200 || body != "" || h.Get("Content-Length") != "5" {
			t.Fatalf("HEAD: %d %q %v", code, body, h)
		}
		for _, p := range []string{"/204", "/304"} {
			if code, body := get(t, url+p); code != atoi(p[1:]) || body != "" {
				t.Fatalf("%s: %d %q", p, code, body)
			}
		}
		if code, body := get(t, url+"/"); code != 200 || body != "hello" {
			t.Fatalf("GET: %d %q", code, body)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// An instance that answers without reading a large body (413) gets its
// answer relayed; the gateway does not deadlock writing the body.
func TestEarlyAnswerLargeBody(t *testing.T) {
	_, url := oneUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too big", http.StatusRequestEntityTooLarge)
	})
	big := bytes.Repeat([]byte("x"), 8<<20)
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(big))
	resp, err := client.Do(req)
	if err != nil {
		// The gateway may close the client connection before reading the
		// whole body; then the client can see a write error instead.
		t.Logf("client error (acceptable): %v", err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("got %d, want 413", resp.StatusCode)
	}
}

// A large body of known length and a chunked one arrive intact.
func TestLargeRequestBodies(t *testing.T) {
	_, url := oneUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Len", itoa(n))
		w.Header().Set("X-TE", strings.Join(r.TransferEncoding, ","))
	})
	big := bytes.Repeat([]byte("0123456789"), 300_000)
	req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(big))
	if code, _, h := do(t, req); code != 200 || h.Get("X-Len") != itoa(int64(len(big))) {
		t.Fatalf("known length: %d %v", code, h)
	}
	req, _ = http.NewRequest("POST", url+"/", io.MultiReader(bytes.NewReader(big))) // unknown length
	if code, _, h := do(t, req); code != 200 || h.Get("X-Len") != itoa(int64(len(big))) || h.Get("X-TE") != "chunked" {
		t.Fatalf("chunked: %d %v", code, h)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// An answer delimited by the connection closing (no length, not chunked)
// passes through, and that connection is not reused.
func TestCloseDelimitedAnswer(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
	})
	set := endpoints.New()
	set.Set("i0", up)
	gw := startGateway(t, Options{Endpoints: set})
	for range 3 {
		if code, body := get(t, gw.URL+"/api/predict/svc/"); code != 200 || body != "until close" {
			t.Fatalf("%d %q", code, body)
		}
	}
}

// An instance that answers and closes before reading a body the gateway
// writes whole before it reads (up to inlineBody) gets its answer
// relayed, not a 502: the answer is in the socket's receive queue even
// when the instance's reset made the write fail. Through both servers,
// several times, since the reset races the write.
func TestEarlyAnswerInlineBody(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad")
		// Closing with the body unread resets the connection.
	})
	set := endpoints.New()
	set.Set("i0", up)
	g := New(Options{Service: "svc", Endpoints: set})
	t.Cleanup(g.CloseIdle)
	body := bytes.Repeat([]byte("x"), 60_000)
	for _, so := range [][]ServerOption{nil, {WithoutEventLoop()}} {
		addr := serveLoopback(t, g, nil, so...)
		for i := range 20 {
			req, _ := http.NewRequest("POST", "http://"+addr+"/api/predict/svc/", bytes.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("round %d (event loop off: %v): %v", i, so != nil, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || string(b) != "bad" {
				t.Fatalf("round %d (event loop off: %v): %d %q, want the instance's 400", i, so != nil, resp.StatusCode, b)
			}
		}
	}
}
