package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/easlocal/easlocal/endpoints"
)

// benchUpstreams starts 3 small upstreams answering a short body, like the
// example service, and returns their set.
func benchUpstreams(b *testing.B) (*endpoints.Set, []*url.URL) {
	set := endpoints.New()
	var urls []*url.URL
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "hello from the instance\n")
		}))
		b.Cleanup(srv.Close)
		set.Set(fmt.Sprintf("i%d", i), endpointOf(b, srv.URL))
		u, _ := url.Parse(srv.URL)
		urls = append(urls, u)
	}
	return set, urls
}

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func runLoad(b *testing.B, target string) {
	c := benchClient(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkGateway: client → gateway → 3 upstreams, all in this process
// over loopback (allocs/op counts all three sides).
func BenchmarkGateway(b *testing.B) {
	set, _ := benchUpstreams(b)
	gw := startGateway(b, Options{Service: "svc", Endpoints: set})
	runLoad(b, gw.URL+"/api/predict/svc/predict")
}

// BenchmarkGatewayNetHTTP is the gateway behind net/http's server instead
// of NewServer's front loop: what the loop saves.
func BenchmarkGatewayNetHTTP(b *testing.B) {
	set, _ := benchUpstreams(b)
	g := New(Options{Service: "svc", Endpoints: set})
	srv := httptest.NewServer(g)
	b.Cleanup(srv.Close)
	b.Cleanup(g.CloseIdle)
	runLoad(b, srv.URL+"/api/predict/svc/predict")
}

// BenchmarkReverseProxy is the baseline issue 6 measured at 0.65x nginx:
// httputil.ReverseProxy with an atomic round robin, same setup.
func BenchmarkReverseProxy(b *testing.B) {
	_, urls := benchUpstreams(b)
	var next atomic.Uint64
	tr := &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(urls[next.Add(1)%3])
			pr.Out.URL.Path = "/predict"
			pr.SetXForwarded()
		},
	}
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	runLoad(b, srv.URL+"/api/predict/svc/predict")
}

// BenchmarkDirect is the upstream reached without a proxy.
func BenchmarkDirect(b *testing.B) {
	_, urls := benchUpstreams(b)
	runLoad(b, urls[0].String()+"/predict")
}

// BenchmarkGatewayHandler isolates the gateway's own cost: ServeHTTP on
// an in-memory request, upstream over loopback (allocs/op = gateway +
// upstream transport only).
func BenchmarkGatewayHandler(b *testing.B) {
	set, _ := benchUpstreams(b)
	g := New(Options{Service: "svc", Endpoints: set})
	b.Cleanup(g.pool.closeIdle)
	req := httptest.NewRequest("GET", "/api/predict/svc/predict", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := &discardWriter{h: http.Header{}}
		r := req.Clone(req.Context())
		g.ServeHTTP(w, r)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
