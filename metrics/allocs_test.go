//go:build !race

// The race detector makes sync.Pool drop items on purpose, so this
// counts allocations only without it.

package metrics

import (
	"net/http"
	"testing"
)

// TestRequestPathAllocatesNothing: counting a gateway request and an
// upstream attempt, once their series exist, allocates nothing, and
// the counts still land in the right series.
func TestRequestPathAllocatesNothing(t *testing.T) {
	m := New(Source{})
	h := m.Gateway(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	r, _ := http.NewRequest("GET", "http://gw/api/predict/svc/", nil)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	m.ObserveUpstream("svc-0", http.StatusOK, false)
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("Gateway allocates %v times per request, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.ObserveUpstream("svc-0", http.StatusOK, false) }); n != 0 {
		t.Errorf("ObserveUpstream allocates %v times per attempt, want 0", n)
	}
	fams := scrape(t, m)
	if got := value(t, fams, "easlocal_gateway_requests_total", map[string]string{"code": "200"}); got != 102 {
		t.Errorf("requests{code=200} = %v, want 102", got)
	}
	if got := value(t, fams, "easlocal_gateway_upstream_requests_total", map[string]string{"instance": "svc-0", "code": "200"}); got != 102 {
		t.Errorf("upstream{svc-0,200} = %v, want 102", got)
	}
}
