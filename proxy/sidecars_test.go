package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/easlocal/easlocal/endpoints"
)

func newSidecars(t *testing.T, opts Options) *Sidecars {
	sc, err := NewSidecars(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func dialable(addr string) bool {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// The discovery URLs answer the shapes the SDKs parse, listing the sidecar
// addresses of ready instances only, with numeric weights; no token needed.
func TestDiscoveryShapes(t *testing.T) {
	set, _ := threeUpstreams(t)
	set.Remove("i2")
	sc := newSidecars(t, Options{Service: "my_svc", Token: "tok", Endpoints: set})
	gw := startGateway(t, Options{Service: "my_svc", Token: "tok", Endpoints: set, Discovery: NewDiscovery("my_svc", sc)})

	want := []map[string]any{}
	for _, s := range sc.List() {
		want = append(want, map[string]any{"ip": "127.0.0.1", "port": float64(s.Addr.Port()), "weight": float64(100)})
	}
	if len(want) != 2 {
		t.Fatalf("sidecars %v, want 2", sc.List())
	}
	for _, path := range []string{
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/my_svc?internal=false",
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/my_svc/some/path",
		"/api/v1/servicediscovery/upstreams/my_svc",
		"/exported/apis/eas.alibaba-inc.k8s.io/v1/namespaces/my-svc/easendpoints",
	} {
		code, body := get(t, gw.URL+path)
		if code != 200 {
			t.Fatalf("%s: %d %q", path, code, body)
		}
		var got struct {
			Endpoints struct {
				Items []map[string]any `json:"items"`
			} `json:"endpoints"`
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%s: %v in %q", path, err, body)
		}
		items := got.Endpoints.Items
		if strings.HasSuffix(path, "/easendpoints") {
			items = got.Items
			if strings.Contains(body, `"endpoints"`) {
				t.Errorf("%s: old Python shape must be top-level items: %s", path, body)
			}
		}
		if fmt.Sprint(items) != fmt.Sprint(want) {
			t.Errorf("%s: items %v, want %v", path, items, want)
		}
		// What the Go SDK does with it: "ip:port" and weight.(float64).
		for _, it := range items {
			if _, ok := it["weight"].(float64); !ok {
				t.Errorf("weight %T is not a JSON number", it["weight"])
			}
		}
	}
	if code, _ := get(t, gw.URL+"/exported/apis/eas.alibaba-inc.k8s.io/v1/upstreams/other"); code != 404 {
		t.Errorf("other service: %d, want 404", code)
	}
	// An empty set is an empty list, not null.
	set.Remove("i0")
	set.Remove("i1")
	if _, body := get(t, gw.URL+"/api/v1/servicediscovery/upstreams/my_svc"); strings.TrimSpace(body) != `{"endpoints":{"items":[]}}` {
		t.Errorf("empty list: %s", body)
	}
}

// A sidecar accepts the /api/predict/<service> prefix, strips it, checks
// the token, and always forwards to its own instance.
func TestSidecarForwarding(t *testing.T) {
	set, recs := threeUpstreams(t)
	sc := newSidecars(t, Options{Service: "svc", Token: "tok", Endpoints: set})
	addr, ok := sc.Addr("i1")
	if !ok {
		t.Fatal("no sidecar for i1")
	}
	base := "http://" + addr.String()
	for range 5 {
		req, _ := http.NewRequest("GET", base+"/api/predict/svc/v1/x?q=1", nil)
		req.Header.Set("Authorization", "tok")
		if code, body, _ := do(t, req); code != 200 || body != "i1 GET /v1/x?q=1" {
			t.Fatalf("%d %q", code, body)
		}
	}
	body := []byte("signed")
	req, _ := http.NewRequest("POST", base+"/api/predict/svc", strings.NewReader(string(body)))
	sdkSign(req, "tok", "/api/predict/svc", body, sdkDate)
	if code, answer, _ := do(t, req); code != 200 || answer != "i1 POST /" {
		t.Fatalf("signed: %d %q", code, answer)
	}
	if code, _ := get(t, base+"/api/predict/svc/"); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := get(t, base+"/other"); code != 404 {
		t.Fatalf("no prefix: %d, want 404", code)
	}
	if recs[0].count() != 0 || recs[2].count() != 0 || recs[1].count() != 6 {
		t.Fatalf("counts %d %d %d, want 0 6 0", recs[0].count(), recs[1].count(), recs[2].count())
	}
}

// Sidecars follow the set synchronously: one appears when an instance is
// set, is closed before Remove returns, comes back on the same port, and
// Close stops them all.
func TestSidecarLifecycle(t *testing.T) {
	srv, _ := echoUpstream(t, "i0")
	set := endpoints.New()
	set.Set("pre", endpointOf(t, srv.URL)) // present before NewSidecars
	sc := newSidecars(t, Options{Service: "svc", Endpoints: set})
	if _, ok := sc.Addr("pre"); !ok {
		t.Fatal("instance present at start has no sidecar")
	}
	set.Set("i0", endpointOf(t, srv.URL))
	addr, ok := sc.Addr("i0")
	if !ok || !dialable(addr.String()) {
		t.Fatalf("no live sidecar right after Set: %v %v", addr, ok)
	}
	if code, body := get(t, "http://"+addr.String()+"/api/predict/svc/"); code != 200 || body != "i0 GET /" {
		t.Fatalf("%d %q", code, body)
	}
	set.Remove("i0")
	if _, ok := sc.Addr("i0"); ok {
		t.Fatal("sidecar still listed after Remove")
	}
	if dialable(addr.String()) {
		t.Fatal("sidecar still accepting after Remove returned")
	}
	set.Set("i0", endpointOf(t, srv.URL))
	again, ok := sc.Addr("i0")
	if !ok || again != addr {
		t.Fatalf("returning instance got %v, want its old %v", again, addr)
	}
	if len(sc.List()) != 2 {
		t.Fatalf("list %v", sc.List())
	}
	sc.Close()
	sc.Close()
	if len(sc.List()) != 0 || dialable(again.String()) {
		t.Fatal("Close left a sidecar running")
	}
	set.Set("late", endpointOf(t, srv.URL)) // no longer followed
	if _, ok := sc.Addr("late"); ok {
		t.Fatal("closed Sidecars still follows the set")
	}
}

func TestSidecarsNeedEndpoints(t *testing.T) {
	if _, err := NewSidecars(Options{}); err == nil {
		t.Fatal("no error without Endpoints")
	}
}
