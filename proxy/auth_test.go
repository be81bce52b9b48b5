package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

func authGateway(t *testing.T) (string, *seen) {
	srv, rec := echoUpstream(t, "i0")
	gw := startGateway(t, Options{Service: "my_svc", Token: "s3cret==", Endpoints: oneInstance(t, "i0", srv.URL)})
	return gw.URL, rec
}

const sdkDate = "Wed, 25 Nov 2026 11:00:00 GMT"

// The raw token (curl style) is accepted; a missing or wrong one is 401 and
// never reaches the instance.
func TestRawToken(t *testing.T) {
	url, rec := authGateway(t)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"s3cret==", 200},
		{"", 401},
		{"s3cret", 401},
		{"s3cret==x", 401},
		{"Bearer s3cret==", 401},
		{"EAS s3cret==", 401},
	} {
		req, _ := http.NewRequest("GET", url+"/api/predict/my_svc/x", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if code, body, _ := do(t, req); code != tc.want {
			t.Errorf("Authorization %q: %d %q, want %d", tc.auth, code, body, tc.want)
		}
	}
	if rec.count() != 1 {
		t.Fatalf("instance saw %d requests, want only the authorized one", rec.count())
	}
}

// Signed requests as the Go SDK (resource + request path) and the Python
// SDK (resource only) send them are accepted with the right token, with
// any Date (freshness is not checked), and the body arrives intact.
func TestSignedToken(t *testing.T) {
	url, rec := authGateway(t)
	body := []byte(`{"instances":[1,2,3]}`)
	for _, tc := range []struct {
		name, path, resource, token, date string
		want                              int
	}{
		{"python", "/api/predict/my_svc", "/api/predict/my_svc", "s3cret==", sdkDate, 200},
		{"go no path", "/api/predict/my_svc", "/api/predict/my_svc", "s3cret==", sdkDate, 200},
		{"go with path", "/api/predict/my_svc/v1/predict", "/api/predict/my_svc/v1/predict", "s3cret==", sdkDate, 200},
		{"go path with query", "/api/predict/my_svc/v1?x=1", "/api/predict/my_svc/v1?x=1", "s3cret==", sdkDate, 200},
		{"python to a path", "/api/predict/my_svc/v1", "/api/predict/my_svc", "s3cret==", sdkDate, 200},
		{"old date", "/api/predict/my_svc", "/api/predict/my_svc", "s3cret==", "Mon, 02 Jan 2006 15:04:05 GMT", 200},
		{"local time labelled GMT", "/api/predict/my_svc", "/api/predict/my_svc", "s3cret==", time.Now().Add(8 * time.Hour).Format("Mon, 02 Jan 2006 15:04:05 GMT"), 200},
		{"wrong token", "/api/predict/my_svc", "/api/predict/my_svc", "s3cret=", sdkDate, 401},
		{"wrong resource", "/api/predict/my_svc/v1", "/api/predict/my_svc/v2", "s3cret==", sdkDate, 401},
		{"other service resource", "/api/predict/my_svc", "/api/predict/other", "s3cret==", sdkDate, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rec.count()
			req, _ := http.NewRequest("POST", url+tc.path, bytes.NewReader(body))
			sdkSign(req, tc.token, tc.resource, body, tc.date)
			code, answer, _ := do(t, req)
			if code != tc.want {
				t.Fatalf("%d %q, want %d", code, answer, tc.want)
			}
			if tc.want != 200 {
				if rec.count() != before {
					t.Fatal("refused request reached the instance")
				}
				return
			}
			r, got := rec.last()
			if got != string(body) {
				t.Fatalf("instance got body %q", got)
			}
			if r.Header.Get("Content-MD5") == "" || r.ContentLength != int64(len(body)) {
				t.Fatalf("instance headers %v, length %d", r.Header, r.ContentLength)
			}
		})
	}
}

// The signature covers Content-MD5, so a body that does not match it is
// refused (401), as are a missing Content-MD5, a changed Date or
// Content-Type, a changed method, and garbage signatures.
func TestSignedTampering(t *testing.T) {
	url, rec := authGateway(t)
	body := []byte("original body")
	sign := func() *http.Request {
		req, _ := http.NewRequest("POST", url+"/api/predict/my_svc", bytes.NewReader(body))
		sdkSign(req, "s3cret==", "/api/predict/my_svc", body, sdkDate)
		return req
	}
	cases := map[string]func() *http.Request{
		"tampered body": func() *http.Request {
			req := sign()
			tampered, _ := http.NewRequest("POST", req.URL.String(), strings.NewReader("evil body!!!!"))
			tampered.Header = req.Header
			return tampered
		},
		"missing Content-MD5": func() *http.Request { r := sign(); r.Header.Del("Content-MD5"); return r },
		"changed Date":        func() *http.Request { r := sign(); r.Header.Set("Date", "Thu, 26 Nov 2026 11:00:00 GMT"); return r },
		"changed method": func() *http.Request {
			r := sign()
			r.Method = "PUT"
			return r
		},
		"not base64": func() *http.Request { r := sign(); r.Header.Set("Authorization", "EAS !!!!"); return r },
		"short sig":  func() *http.Request { r := sign(); r.Header.Set("Authorization", "EAS AAAA"); return r },
		"long sig": func() *http.Request {
			r := sign()
			r.Header.Set("Authorization", "EAS "+strings.Repeat("A", 400))
			return r
		},
		"empty EAS": func() *http.Request { r := sign(); r.Header.Set("Authorization", "EAS "); return r },
		"uppercased Content-MD5": func() *http.Request {
			r := sign()
			r.Header.Set("Content-MD5", strings.ToUpper(r.Header.Get("Content-MD5")))
			return r
		},
	}
	for name, mk := range cases {
		code, answer, _ := do(t, mk())
		if code != 401 {
			t.Errorf("%s: %d %q, want 401", name, code, answer)
		}
	}
	if rec.count() != 0 {
		t.Fatalf("%d refused requests reached the instance", rec.count())
	}
}

// A Go SDK user may override Content-Type with AddHeader after signing
// (the SDK always signs application/octet-stream): still accepted. An
// empty body is signed with the MD5 of nothing.
func TestSignedQuirks(t *testing.T) {
	url, rec := authGateway(t)
	body := []byte(`{"a":1}`)
	req, _ := http.NewRequest("POST", url+"/api/predict/my_svc", bytes.NewReader(body))
	sdkSign(req, "s3cret==", "/api/predict/my_svc", body, sdkDate)
	req.Header.Set("Content-Type", "application/json")
	if code, answer, _ := do(t, req); code != 200 {
		t.Fatalf("overridden content type: %d %q", code, answer)
	}
	req, _ = http.NewRequest("POST", url+"/api/predict/my_svc", nil)
	sdkSign(req, "s3cret==", "/api/predict/my_svc", nil, sdkDate)
	if code, answer, _ := do(t, req); code != 200 || answer != "i0 POST /" {
		t.Fatalf("empty body: %d %q", code, answer)
	}
	if rec.count() != 2 {
		t.Fatal("instance did not get both requests")
	}
}

// A signed request that was retried after a refused connection still
// carries its whole buffered body.
func TestSignedRetry(t *testing.T) {
	srv, rec := echoUpstream(t, "live")
	set := endpoints.New()
	set.Set("a-dead", closedPort(t))
	set.Set("b-live", endpointOf(t, srv.URL))
	gw := startGateway(t, Options{Service: "s", Token: "t", Endpoints: set})
	body := []byte("signed payload")
	req, _ := http.NewRequest("POST", gw.URL+"/api/predict/s", bytes.NewReader(body))
	sdkSign(req, "t", "/api/predict/s", body, sdkDate)
	if code, answer, _ := do(t, req); code != 200 {
		t.Fatalf("%d %q", code, answer)
	}
	if _, got := rec.last(); got != string(body) {
		t.Fatalf("body after retry %q", got)
	}
}
