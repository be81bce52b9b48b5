package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/endpoints"
)

// The token bucket admits burst at once, then rate a second.
func TestTokenBucket(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newTokenBucket(10, 10)
	n := 0
	for range 50 {
		if b.allow(now) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("a full bucket of 10: want 10 admitted at once, got %d", n)
	}
	// Over 3 s at 100 requests a second, 10 a second more pass.
	n = 0
	for i := range 300 {
		if b.allow(now.Add(time.Duration(i+1) * 10 * time.Millisecond)) {
			n++
		}
	}
	if n != 30 {
		t.Errorf("3 s at 100/s with a rate of 10/s: want 30 admitted, got %d", n)
	}
	if newTokenBucket(0, 5) != nil || !(*tokenBucket)(nil).allow(now) {
		t.Error("a rate of 0 must mean no limit")
	}
}

// The queue: workers in flight, size waiting in order, full beyond,
// a wait bounded by the timeout, a slot handed to the first waiter.
func TestQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(2, 2)
		ctx := context.Background()
		for range 2 {
			if q.acquire(ctx, 0) != queueGranted {
				t.Fatal("a free slot was not granted")
			}
		}
		var order []int
		var mu sync.Mutex
		results := make(chan queueResult, 2)
		for i := range 2 {
			go func() {
				r := q.acquire(ctx, time.Second)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				results <- r
			}()
			synctest.Wait() // in line in this order
		}
		if busy, waiting := q.lengths(); busy != 2 || waiting != 2 {
			t.Fatalf("want 2 busy and 2 waiting, got %d and %d", busy, waiting)
		}
		if r := q.acquire(ctx, time.Second); r != queueFull {
			t.Errorf("a third waiter behind a queue of 2: want full, got %v", r)
		}
		q.release()
		if r := <-results; r != queueGranted {
			t.Errorf("the first waiter after a release: want granted, got %v", r)
		}
		// The second waits on; its timeout passes.
		time.Sleep(time.Second)
		if r := <-results; r != queueTimedOut {
			t.Errorf("a waiter past its timeout: want timed out, got %v", r)
		}
		if order[0] != 0 {
			t.Errorf("first come, first served: got order %v", order)
		}
		if busy, waiting := q.lengths(); busy != 2 || waiting != 0 {
			t.Errorf("after the timeout: want 2 busy and 0 waiting, got %d and %d", busy, waiting)
		}
		cctx, cancel := context.WithCancel(ctx)
		go func() { results <- q.acquire(cctx, 0) }()
		synctest.Wait()
		cancel()
		if r := <-results; r != queueCanceled {
			t.Errorf("a waiter whose client left: want canceled, got %v", r)
		}
		q.release()
		q.release()
		if busy, waiting := q.lengths(); busy != 0 || waiting != 0 {
			t.Errorf("all released: got %d busy and %d waiting", busy, waiting)
		}
	})
	if q := newQueue(0, 10); q.workers != WorkerThreadsDefault || q.size != 10 {
		t.Errorf("only max_queue_size set: want %d workers, got %+v", WorkerThreadsDefault, q)
	}
	if q := newQueue(3, 0); q.workers != 3 || q.size != MaxQueueSizeDefault {
		t.Errorf("only worker_threads set: want a queue of %d, got %+v", MaxQueueSizeDefault, q)
	}
	if newQueue(0, 0) != nil {
		t.Error("neither set: want no queue")
	}
}

// OnLimit is called when a limit first refuses and again after a quiet
// minute; CountLimit for every refusal.
func TestLimitEvents(t *testing.T) {
	var events, counts []string
	l := newLimits(Options{OnLimit: func(k string) { events = append(events, k) }, CountLimit: func(k string) { counts = append(counts, k) }}, true)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	l.refused(LimitQueueFull)
	l.refused(LimitQueueFull)
	l.refused(LimitInstanceRate)
	now = now.Add(30 * time.Second)
	l.refused(LimitQueueFull)
	now = now.Add(limitQuiet)
	l.refused(LimitQueueFull)
	if strings.Join(events, ",") != "queue_full,instance_rate,queue_full" || len(counts) != 5 {
		t.Errorf("events %v (want queue_full,instance_rate,queue_full), counts %v (want 5)", events, counts)
	}
}

// blockingUpstream answers /block at once but holds the body until
// release is closed (so rpc.keepalive, which bounds the wait for the
// answer's head, does not end it), and counts the requests it got.
func blockingUpstream(t *testing.T) (endpoints.Endpoint, chan struct{}, *atomic.Int64) {
	release := make(chan struct{})
	var n atomic.Int64
	up := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.URL.Path == "/block" {
			w.WriteHeader(200)
			http.NewResponseController(w).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok")
	})
	return endpointOf(t, up.URL), release, &n
}

// Through the gateway: with 2 workers and a queue of 1, two requests are
// in flight, a third waits, a fourth gets 450; the one waiting past
// keepalive gets 408; once the workers are free requests pass again.
func TestGatewayQueue(t *testing.T) {
	ep, release, n := blockingUpstream(t)
	set := endpoints.New()
	set.Set("a", ep)
	var kinds []string
	var mu sync.Mutex
	g, srv := serveGateway(t, Options{Endpoints: set, WorkerThreads: 2, MaxQueueSize: 1, Keepalive: 300 * time.Millisecond,
		CountLimit: func(k string) { mu.Lock(); kinds = append(kinds, k); mu.Unlock() }})

	codes := make(chan int, 3)
	for range 2 {
		go func() { c, _ := get(t, srv.URL+"/api/predict/svc/block"); codes <- c }()
	}
	waitFor(t, "two requests at the instance", func() bool { return n.Load() == 2 })
	queued := make(chan int, 1)
	go func() { c, _ := get(t, srv.URL+"/api/predict/svc/"); queued <- c }()
	st := g.lim.instance("a")
	waitFor(t, "a request in the queue", func() bool { _, w := st.queue.lengths(); return w == 1 })
	if c, body := get(t, srv.URL+"/api/predict/svc/"); c != StatusQueueFull || !strings.Contains(body, "max_queue_size") {
		t.Errorf("a request finding the queue full: want 450, got %d %q", c, body)
	}
	// The queued one waits past keepalive (the workers stay busy).
	if c := <-queued; c != http.StatusRequestTimeout {
		t.Errorf("a request queued past metadata.rpc.keepalive: want 408, got %d", c)
	}
	if n.Load() != 2 {
		t.Errorf("refused requests reached the instance: it saw %d", n.Load())
	}
	close(release)
	for range 2 {
		if c := <-codes; c != 200 {
			t.Errorf("a request in flight: got %d", c)
		}
	}
	if c, _ := get(t, srv.URL+"/api/predict/svc/"); c != 200 {
		t.Errorf("after the workers are free: got %d", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(kinds, ",") != "queue_full,queue_keepalive" {
		t.Errorf("limits counted: want queue_full,queue_keepalive, got %v", kinds)
	}
}

// Rates and concurrency through the gateway, on a fake clock: the
// instance rate per instance (round robin spreads the load), the service
// rate for all, the concurrency limit for requests in flight.
func TestGatewayRates(t *testing.T) {
	up, _ := echoUpstream(t, "a")
	up2, _ := echoUpstream(t, "b")
	for _, tc := range []struct {
		name       string
		opts       Options
		want       int // admitted of 100 sent at once
		wantStatus int
	}{
		{"instance rate 10 on 2 instances", Options{RateLimit: 10}, 20, 429},
		{"service rate 15", Options{GatewayRateLimit: 15}, 15, 429},
		{"both", Options{RateLimit: 10, GatewayRateLimit: 15}, 15, 429},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := endpoints.New()
			set.Set("a", endpointOf(t, up.URL))
			set.Set("b", endpointOf(t, up2.URL))
			tc.opts.Service, tc.opts.Endpoints = "svc", set
			g := New(tc.opts)
			now := time.Unix(1000, 0)
			g.lim.now = func() time.Time { return now }
			srv := newHTTPTest(g)
			defer srv.Close()
			defer g.CloseIdle()
			ok := 0
			for range 100 {
				c, body := get(t, srv.URL+"/api/predict/svc/")
				switch c {
				case 200:
					ok++
				case tc.wantStatus:
					if !strings.Contains(body, "rate_limit") {
						t.Errorf("429 should name the field: %q", body)
					}
				default:
					t.Fatalf("unexpected %d %q", c, body)
				}
			}
			if ok != tc.want {
				t.Errorf("100 requests at once: want %d admitted, got %d", tc.want, ok)
			}
			now = now.Add(time.Second) // a second later, as many again
			ok = 0
			for range 100 {
				if c, _ := get(t, srv.URL+"/api/predict/svc/"); c == 200 {
					ok++
				}
			}
			if ok != tc.want {
				t.Errorf("a second later: want %d admitted, got %d", tc.want, ok)
			}
		})
	}
}

func TestGatewayConcurrencyLimit(t *testing.T) {
	ep, release, n := blockingUpstream(t)
	set := endpoints.New()
	set.Set("a", ep)
	srv := startGateway(t, Options{Endpoints: set, ConcurrencyLimit: 3})
	codes := make(chan int, 3)
	for range 3 {
		go func() { c, _ := get(t, srv.URL+"/api/predict/svc/block"); codes <- c }()
	}
	waitFor(t, "three requests at the instance", func() bool { return n.Load() == 3 })
	if c, body := get(t, srv.URL+"/api/predict/svc/"); c != 429 || !strings.Contains(body, "concurrency_limit") {
		t.Errorf("a fourth request in flight over a concurrency limit of 3: want 429, got %d %q", c, body)
	}
	close(release)
	for range 3 {
		<-codes
	}
	if c, _ := get(t, srv.URL+"/api/predict/svc/"); c != 200 {
		t.Errorf("once the others finished: got %d", c)
	}
}

// The sidecars apply the per-instance rate (shared by all of them) but
// not the service-wide policy, which is the gateway's.
func TestSidecarLimits(t *testing.T) {
	up, _ := echoUpstream(t, "a")
	sc, err := NewSidecars(Options{Service: "svc", Endpoints: oneInstance(t, "a", up.URL), RateLimit: 5, GatewayRateLimit: 1, ConcurrencyLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	now := time.Unix(1000, 0)
	sc.lim.now = func() time.Time { return now }
	addr, _ := sc.Addr("a")
	ok, limited := 0, 0
	for range 20 {
		switch c, body := get(t, "http://"+addr.String()+"/api/predict/svc/"); c {
		case 200:
			ok++
		case 429:
			limited++
			if !strings.Contains(body, "metadata.rpc.rate_limit") {
				t.Errorf("a sidecar's 429 should be the instance rate's: %q", body)
			}
		default:
			t.Fatalf("unexpected %d %q", c, body)
		}
	}
	if ok != 5 || limited != 15 {
		t.Errorf("20 requests at once to a sidecar with rate_limit 5: want 5 admitted, 15 refused; got %d and %d", ok, limited)
	}
}
