package proxy

import (
	"net/http"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/endpoints"
)

// headerUpstream records the headers of the last request it got.
func headerUpstream(t *testing.T) (*endpoints.Set, func() http.Header) {
	got := make(chan http.Header, 1)
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-got:
		default:
		}
		got <- r.Header.Clone()
	})
	set := oneInstance(t, "i0", up.URL)
	return set, func() http.Header { return <-got }
}

// A client cannot make an instance believe it comes from another
// address: X-Real-IP is the peer's address whatever the client sent, and
// X-Forwarded-For gets the peer appended to what the client sent (so its
// last entry is the one the gateway vouches for), as nginx's usual
// proxy_set_header lines do.
func TestClientAddressHeaders(t *testing.T) {
	set, last := headerUpstream(t)
	gw := startGateway(t, Options{Endpoints: set})
	for _, tc := range []struct {
		name      string
		set       map[string][]string
		wantXFF   string
		wantReal  string
		wantReals int
	}{
		{"nothing claimed", nil, "127.0.0.1", "127.0.0.1", 1},
		{"spoofed", map[string][]string{"X-Real-Ip": {"10.0.0.1", "10.0.0.2"}, "X-Forwarded-For": {"10.0.0.3"}},
			"10.0.0.3, 127.0.0.1", "127.0.0.1", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", gw.URL+"/api/predict/svc/", nil)
			for k, vv := range tc.set {
				req.Header[k] = vv
			}
			if code, _, _ := do(t, req); code != 200 {
				t.Fatalf("got %d", code)
			}
			h := last()
			if got := strings.Join(h.Values("X-Forwarded-For"), ", "); got != tc.wantXFF {
				t.Errorf("X-Forwarded-For %q, want %q", got, tc.wantXFF)
			}
			if got := h.Values("X-Real-Ip"); len(got) != tc.wantReals || got[0] != tc.wantReal {
				t.Errorf("X-Real-IP %q, want just %q", got, tc.wantReal)
			}
		})
	}
}

// easlocal's own credentials never reach an instance: the control API's
// cookie (by name, or any cookie holding the control token), X-Easlocal-*
// headers and an Authorization header carrying the control token are
// removed, through the gateway and the sidecars alike; the user's other
// cookies and the service's own token are passed on.
func TestControlCredentialsStripped(t *testing.T) {
	const control = "ctl-secret-123"
	set, last := headerUpstream(t)
	gw := startGateway(t, Options{Endpoints: set, ControlToken: control})
	sc := newSidecars(t, Options{Service: "svc", Endpoints: set, ControlToken: control})
	side, ok := sc.Addr("i0")
	if !ok {
		t.Fatal("no sidecar")
	}
	for via, base := range map[string]string{"gateway": gw.URL, "sidecar": "http://" + side.String()} {
		for _, tc := range []struct {
			name       string
			header     http.Header
			wantCookie []string
			wantAuth   string
		}{
			{"cookie among others",
				http.Header{"Cookie": {"a=1; easlocal_token=" + control + "; b=2"}},
				[]string{"a=1; b=2"}, ""},
			{"cookie renamed, same token",
				http.Header{"Cookie": {`other="` + control + `"; c=3`}},
				[]string{"c=3"}, ""},
			{"only easlocal cookies",
				http.Header{"Cookie": {"EASLOCAL_token=x", "easlocal_session=y"}},
				nil, ""},
			{"user cookies untouched",
				http.Header{"Cookie": {"session=abc; theme=dark"}},
				[]string{"session=abc; theme=dark"}, ""},
			{"control token as bearer",
				http.Header{"Authorization": {"Bearer " + control}, "X-Easlocal-Token": {control}},
				nil, ""},
			{"service token passes",
				http.Header{"Authorization": {"svc-token"}},
				nil, "svc-token"},
		} {
			t.Run(via+"/"+tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", base+"/api/predict/svc/", nil)
				for k, vv := range tc.header {
					req.Header[k] = vv
				}
				if code, _, _ := do(t, req); code != 200 {
					t.Fatalf("got %d", code)
				}
				h := last()
				if got := h.Values("Cookie"); strings.Join(got, "|") != strings.Join(tc.wantCookie, "|") {
					t.Errorf("instance got Cookie %q, want %q", got, tc.wantCookie)
				}
				if got := h.Get("Authorization"); got != tc.wantAuth {
					t.Errorf("instance got Authorization %q, want %q", got, tc.wantAuth)
				}
				for k, vv := range h {
					for _, v := range vv {
						if strings.Contains(v, control) || strings.HasPrefix(k, "X-Easlocal") {
							t.Errorf("instance got %s: %s", k, v)
						}
					}
				}
			})
		}
	}
}
