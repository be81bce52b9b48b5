package metrics

import (
	"net/http"
	"testing"
)

// discardWriter is a ResponseWriter that allocates nothing per request,
// so the benchmarks count only what the metrics add.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkGateway is the per-request cost of the Gateway middleware
// around a handler that answers 200: what every predict request pays.
func BenchmarkGateway(b *testing.B) {
	m := New(Source{})
	body := []byte("ok")
	h := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	}))
	r, _ := http.NewRequest("GET", "http://gw/api/predict/svc/", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

// BenchmarkObserveUpstream is the per-attempt cost of the gateway's
// Observe hook, spread over three instances like a small service.
func BenchmarkObserveUpstream(b *testing.B) {
	m := New(Source{})
	instances := []string{"svc-0", "svc-1", "svc-2"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.ObserveUpstream(instances[i%3], http.StatusOK, false)
		i++
	}
}

// BenchmarkObserveUpstreamParallel is the same from every CPU at once:
// the gateway calls it from one goroutine per client connection.
func BenchmarkObserveUpstreamParallel(b *testing.B) {
	m := New(Source{})
	instances := []string{"svc-0", "svc-1", "svc-2"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.ObserveUpstream(instances[i%3], http.StatusOK, false)
			i++
		}
	})
}
