package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/easlocal/easlocal/endpoints"
)

// After answered, refused, timed-out, abandoned and early-answered
// requests, and once the servers and pools are closed, no goroutine of
// the gateway is left behind (body writers, context watchers, sidecars).
func TestNoGoroutineLeak(t *testing.T) {
	client.CloseIdleConnections()
	base := goleak.IgnoreCurrent()
	t.Run("traffic", func(t *testing.T) {
		block := make(chan struct{})
		defer close(block)
		up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/block":
				select {
				case <-block:
				case <-r.Context().Done():
				}
			case "/early":
				http.Error(w, "no", 413)
				return
			}
			io.Copy(io.Discard, r.Body)
		})
		set := endpoints.New()
		set.Set("a", closedPort(t))
		set.Set("b", endpointOf(t, up.URL))
		sc := newSidecars(t, Options{Service: "svc", Endpoints: set})
		gw := startGateway(t, Options{Endpoints: set, Keepalive: 200 * time.Millisecond})
		base := gw.URL + "/api/predict/svc"
		for range 4 {
			get(t, base+"/ok")
			get(t, base+"/block") // 408
			req, _ := http.NewRequest("POST", base+"/early", io.MultiReader(strings.NewReader(strings.Repeat("x", 1<<20))))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			req, _ = http.NewRequestWithContext(ctx, "GET", base+"/block", nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
			cancel()
		}
		addr, _ := sc.Addr("b")
		get(t, "http://"+addr.String()+"/api/predict/svc/ok")
		set.Remove("b")
	})
	client.CloseIdleConnections()
	verifyNoLeak(t, base)
}

// verifyNoLeak fails t when a goroutine started since base
// (goleak.IgnoreCurrent) is still running after 5 s: the ones on their way
// out (closed connections, finished handlers) get that long on a loaded
// machine, longer than one goleak.Find (which retries for about 0.4 s).
func verifyNoLeak(t *testing.T, base goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := goleak.Find(base)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutine leak: %v", err)
		}
	}
}
