package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// faultGateway serves a gateway over two named upstreams a and b.
func faultGateway(t *testing.T, fs *Faults) (url string, a, b *seen) {
	t.Helper()
	srvA, a := echoUpstream(t, "a")
	srvB, b := echoUpstream(t, "b")
	set := endpoints.New()
	set.Set("a", endpointOf(t, srvA.URL))
	set.Set("b", endpointOf(t, srvB.URL))
	gw := startGateway(t, Options{Endpoints: set, Faults: fs})
	return gw.URL + "/api/predict/svc/x", a, b
}

// http-abort with a status for the first N requests of one instance:
// exactly N requests routed to it are answered by the gateway, the other
// instance and later requests reach the upstreams.
func TestHTTPAbortFirstN(t *testing.T) {
	fs := NewFaults()
	url, a, b := faultGateway(t, fs)
	if err := fs.Add(HTTPFault{ID: "f1", Instance: "a", Status: 503, First: 3}); err != nil {
		t.Fatal(err)
	}
	injected := 0
	for range 20 {
		code, body := get(t, url)
		switch {
		case code == 503 && strings.Contains(body, "injected fault f1"):
			injected++
		case code != 200:
			t.Fatalf("answer %d %q", code, body)
		}
	}
	if injected != 3 || a.count() != 7 || b.count() != 10 {
		t.Errorf("injected %d (want 3), a got %d (want 7), b got %d (want 10)", injected, a.count(), b.count())
	}
	if got := fs.Hits("f1"); got != 3 {
		t.Errorf("Hits = %d, want 3", got)
	}
}

// http-abort reset closes the connection without an answer; removing
// the fault restores normal answers.
func TestHTTPAbortReset(t *testing.T) {
	fs := NewFaults()
	url, _, _ := faultGateway(t, fs)
	if err := fs.Add(HTTPFault{ID: "r", Reset: true}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a reset fault answered %d", resp.StatusCode)
	}
	if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("reset fault: %v, want the connection closed", err)
	}
	if !fs.Remove("r") || fs.Remove("r") {
		t.Error("Remove: want true once, then false")
	}
	if code, _ := get(t, url); code != 200 {
		t.Errorf("after removal: %d", code)
	}
}

// A percentage hits about that share of requests: 30% of 4000 within
// 26..34% (binomial sd ~0.7 points).
func TestHTTPFaultPercent(t *testing.T) {
	fs := NewFaults()
	if err := fs.Add(HTTPFault{ID: "p", Status: 500, Percent: 30}); err != nil {
		t.Fatal(err)
	}
	const n = 4000
	hit := 0
	for range n {
		rec := httptest.NewRecorder()
		if fs.intercept(rec, httptest.NewRequest("GET", "/", nil), "a") {
			if rec.Code != 500 {
				t.Fatalf("code %d", rec.Code)
			}
			hit++
		}
	}
	if share := 100 * float64(hit) / n; share < 26 || share > 34 {
		t.Errorf("30%% fault hit %.1f%% of requests", share)
	}
}

// http-delay holds a request routed to its instance for the delay (a
// virtual clock), leaves other instances' requests alone, and a client
// that leaves ends the wait.
func TestHTTPDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := NewFaults()
		if err := fs.Add(HTTPFault{ID: "d", Instance: "a", Delay: 200 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if fs.intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "a") {
			t.Error("a delay answered the request")
		}
		if got := time.Since(start); got != 200*time.Millisecond {
			t.Errorf("delayed %s, want 200ms", got)
		}
		start = time.Now()
		fs.intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "b")
		if got := time.Since(start); got != 0 {
			t.Errorf("other instance delayed %s", got)
		}

		req := httptest.NewRequest("GET", "/", nil)
		ctx, cancel := contextWithCancel(req)
		var wg sync.WaitGroup
		wg.Go(func() {
			if !fs.intercept(httptest.NewRecorder(), req.WithContext(ctx), "a") {
				t.Error("a request whose client left was forwarded")
			}
		})
		time.Sleep(50 * time.Millisecond)
		cancel()
		wg.Wait()
	})
}

// The gateway adds the delay before forwarding (real servers, the delay
// measured as a lower bound).
func TestHTTPDelayThroughGateway(t *testing.T) {
	fs := NewFaults()
	url, _, _ := faultGateway(t, fs)
	if err := fs.Add(HTTPFault{ID: "d", Delay: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code, _ := get(t, url); code != 200 {
		t.Fatalf("code %d", code)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("request took %s, want at least the 150ms delay", took)
	}
	fs.Clear()
	if fs.set.Load() != nil {
		t.Error("Clear left faults")
	}
}

func TestHTTPFaultCheck(t *testing.T) {
	for _, tc := range []struct {
		f    HTTPFault
		want string
	}{
		{HTTPFault{ID: "x"}, "give a delay"},
		{HTTPFault{ID: "x", Delay: time.Second, Status: 503}, "not both"},
		{HTTPFault{ID: "x", Status: 42}, "status 42"},
		{HTTPFault{ID: "x", Status: 503, Reset: true}, "not both"},
		{HTTPFault{ID: "x", Status: 503, Percent: 101}, "percent 101"},
		{HTTPFault{ID: "x", Status: 503, First: -1}, "first -1"},
	} {
		if err := tc.f.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	fs := NewFaults()
	fs.Add(HTTPFault{ID: "x", Status: 503})
	if err := fs.Add(HTTPFault{ID: "x", Status: 500}); err == nil {
		t.Error("a duplicate ID was accepted")
	}
}

// With no fault active the request path does not allocate.
func TestHTTPFaultsIdleAllocs(t *testing.T) {
	fs := NewFaults()
	req := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { fs.intercept(rec, req, "a") }); n != 0 {
		t.Errorf("%v allocations per idle intercept", n)
	}
}

func contextWithCancel(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithCancel(r.Context())
}
