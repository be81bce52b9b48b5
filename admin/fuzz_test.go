package admin_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/admin/admintest"
	"github.com/easlocal/easlocal/dashboard"
)

const fuzzToken = "tok3n"

// FuzzControlAPI feeds whole raw requests (method, target, headers, body)
// to the control API with the dashboard attached, as they arrive on
// 127.0.0.1:4000. Whatever the request: no panic; no 5xx (the fake
// controller never fails); a Host other than the server's own loopback
// forms, or an Origin other than its own, gets 403 and acts on nothing;
// a request whose X-Easlocal-Token or Authorization header does not hold
// the token acts on nothing and gets a 2xx only for the dashboard's page
// (a cookie or query token counts for nothing).
func FuzzControlAPI(f *testing.F) {
	const host = "127.0.0.1:4000"
	for _, s := range []string{
		"GET /v1/status HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"POST /v1/instances/demo-0/kill?signal=SIGTERM HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + fuzzToken + "\r\n\r\n",
		"POST /v1/scale?n=3 HTTP/1.1\r\nHost: localhost:4000\r\nX-Easlocal-Token: " + fuzzToken + "\r\nOrigin: http://localhost:4000\r\n\r\n",
		"POST /v1/scale?n=3 HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\nOrigin: http://127.0.0.1:4001\r\n\r\n",
		"POST /v1/scale?n=3&token=" + fuzzToken + " HTTP/1.1\r\nHost: " + host + "\r\nCookie: easlocal_token=" + fuzzToken + "\r\n\r\n",
		"POST /v1/instances/demo-1/pause HTTP/1.1\r\nHost: rebind.example:4000\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"POST /v1/instances/demo-1/unpause HTTP/1.1\r\nHost: [::1]:4000\r\nX-Easlocal-Token: " + fuzzToken + "\r\nSec-Fetch-Site: same-site\r\n\r\n",
		"POST /v1/down HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\nContent-Length: 4\r\n\r\nbody",
		"GET /v1/events?since=0&follow=1 HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\nAccept: text/event-stream\r\nLast-Event-ID: 7\r\n\r\n",
		"GET /v1/logs?instance=demo-0&follow=1 HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"GET /ui/ HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		"GET /ui/app.js HTTP/1.1\r\nHost: " + host + "\r\nSec-Fetch-Site: cross-site\r\n\r\n",
		"GET /ui/stream HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"POST /ui/load?on=1 HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"DELETE /v1/status HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		"GET http://127.0.0.1:4000/v1/endpoints HTTP/1.1\r\nHost: evil\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"POST /v1/scale?n=-1 HTTP/1.0\r\nX-Easlocal-Token: " + fuzzToken + "\r\n\r\n",
		"POST /v1/instances/%2e%2e/kill HTTP/1.1\r\nHost: " + host + "\r\nX-Easlocal-Token: " + fuzzToken + "\r\nX-Easlocal-Token: x\r\n\r\n",
		"POST /v1/faults HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 38\r\n\r\n{\"instance\":\"demo-0\",\"kind\":\"blackhole\"}",
		"DELETE /v1/faults HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		"GET /v1/advice HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		"POST /v1/restart HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	logFile := filepath.Join(f.TempDir(), "c0.log")
	if err := os.WriteFile(logFile, []byte("a line\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}
	own := []string{"127.0.0.1:4000", "localhost:4000", "[::1]:4000"}

	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 before any handler
		}
		fake := admintest.New(demoStatus())
		fake.SetLogPath("demo-0", "c0", logFile)
		srv := admin.NewServer(fake, admin.Options{Token: fuzzToken})
		dashboard.New(dashboard.Options{Controller: fake}).Register(srv)

		// Cancelled: follow streams send what they have and end.
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, net.Addr(local)))
		cancel()
		req = req.WithContext(ctx)
		req.RemoteAddr = "127.0.0.1:50000"
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		code, calls := w.Code, fake.Calls()

		if code >= 500 {
			t.Fatalf("%d for %q: %s", code, raw, w.Body)
		}
		hostOK := slices.Contains(own, strings.ToLower(req.Host))
		originOK := true
		if o := req.Header.Values("Origin"); len(o) > 0 {
			originOK = len(o) == 1 && slices.ContainsFunc(own, func(h string) bool { return o[0] == "http://"+h })
		}
		if (!hostOK || !originOK) && code != http.StatusForbidden {
			t.Fatalf("Host %q Origin %q: %d, want 403, for %q", req.Host, req.Header.Values("Origin"), code, raw)
		}
		hasToken := false
		for _, k := range []string{admin.TokenHeader, "Authorization"} {
			for _, v := range req.Header.Values(k) {
				hasToken = hasToken || strings.Contains(v, fuzzToken)
			}
		}
		if (!hostOK || !originOK || !hasToken) && len(calls) > 0 {
			t.Fatalf("acted without the token in a header, or from another Host or Origin (%q) for %q", calls, raw)
		}
		if !hasToken && code < 300 {
			p := path.Clean(req.URL.Path)
			page := (req.Method == "GET" || req.Method == "HEAD") && strings.HasPrefix(req.URL.Path, "/ui/") && p != "/ui/stream"
			if !page {
				t.Fatalf("%d without the token for %s %s: %s", code, req.Method, req.URL, w.Body)
			}
		}
		if hdr := w.Header(); hdr.Get("Access-Control-Allow-Origin") != "" || len(hdr.Values("Set-Cookie")) > 0 {
			t.Fatalf("an answer granted CORS or set a cookie: %v", hdr)
		}
	})
}
