package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/endpoints"
)

// FuzzRouting feeds arbitrary request targets through the gateway's
// routing (no ready instance, so routed requests end in 503): it must never
// panic, must answer only 404, 503 or 200 (discovery),
// and the target it would send upstream must be one clean origin-form line.
func FuzzRouting(f *testing.F) {
	for _, s := range []string{
		"/api/predict/svc", "/api/predict/svc/", "/api/predict/svc/a/b?x=1",
		"/api/predict/svc/a%2Fb", "/api/predict/other/x", "/", "/api/predict/",
		"/api/predict/svc?", "/api/predict/svc/%20?%zz", "/api/predict//svc",
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/svc",
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/namespaces/svc/easendpoints",
		"/api/v1/servicediscovery/upstreams/x/y",
	} {
		f.Add(s)
	}
	sc := &Sidecars{}
	empty := []Sidecar{}
	sc.list.Store(&empty)
	g := New(Options{Service: "svc", Endpoints: endpoints.New(), Discovery: NewDiscovery("svc", sc)})
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\x00#") {
			return
		}
		var r *http.Request
		func() {
			defer func() {
				if recover() != nil {
					r = nil // httptest.NewRequest panics on targets Go cannot parse
				}
			}()
			r = httptest.NewRequest("GET", target, nil)
		}()
		if r == nil {
			return
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		switch w.Code {
		case 200, 404, 503:
		default:
			t.Fatalf("%q: status %d", target, w.Code)
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, PredictPrefix+"svc"); ok && (rest == "" || rest[0] == '/') {
			if w.Code != 503 {
				t.Fatalf("%q: routed path answered %d, want 503", target, w.Code)
			}
			if rest == "" {
				rest = "/"
			}
			uri := targetURI(r, "svc", rest)
			if !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, " \r\n") {
				t.Fatalf("%q: upstream target %q", target, uri)
			}
		}
	})
}
