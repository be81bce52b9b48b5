package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func server(t *testing.T, h http.HandlerFunc) (addr string, hits *atomic.Int64) {
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), hits
}

func TestRoundRobinAndBodies(t *testing.T) {
	plain, h1 := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })
	chunked, h2 := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("a"))
		w.(http.Flusher).Flush()
		w.Write([]byte("b"))
	})
	closing, h3 := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	var marks []bool
	res, err := Run(context.Background(), Options{Targets: []string{plain, chunked, closing}, Path: "/x", Clients: 3,
		Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, Mark: func(on bool) { marks = append(marks, on) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(marks) != 2 || !marks[0] || marks[1] {
		t.Errorf("Mark calls %v, want [true false]", marks)
	}
	if res.Elapsed < 300*time.Millisecond {
		t.Errorf("recorded for %v, want the 300ms duration (warm-up excluded)", res.Elapsed)
	}
	if res.Failed != 0 || res.OK < 30 {
		t.Fatalf("ok %d failed %d, want many ok and no failure", res.OK, res.Failed)
	}
	a, b, c := h1.Load(), h2.Load(), h3.Load()
	lo, hi := min(a, b, c), max(a, b, c)
	if hi-lo > 3*3 { // each client can be one request off per target
		t.Errorf("hits %d %d %d: not round robin", a, b, c)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Errorf("percentiles p50 %v p99 %v max %v", res.P50, res.P99, res.Max)
	}
}

func TestFailuresCounted(t *testing.T) {
	bad, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 503) })
	srv := httptest.NewServer(http.NotFoundHandler())
	gone := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // refused from now on
	res, err := Run(context.Background(), Options{Targets: []string{bad, gone}, Path: "/", Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var status, dial int
	for _, r := range res.Records {
		switch r.Outcome {
		case Status:
			status++
			if r.Code != 503 {
				t.Errorf("code %d, want 503", r.Code)
			}
		case DialFail:
			dial++
		}
	}
	if res.OK != 0 || status == 0 || dial == 0 || res.Failed != status+dial {
		t.Fatalf("ok %d failed %d (status %d, dial %d)", res.OK, res.Failed, status, dial)
	}
}

func TestTimeoutAndStop(t *testing.T) {
	release := make(chan struct{})
	slow, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	stop := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(stop) })
	res, err := Run(context.Background(), Options{Targets: []string{slow}, Path: "/", Stop: stop, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.Failed == 0 {
		t.Fatalf("ok %d failed %d, want timeouts only", res.OK, res.Failed)
	}
	for _, r := range res.Records {
		if r.Outcome != ConnErr || r.Latency < 50*time.Millisecond {
			t.Fatalf("record %+v, want a ConnErr after the 50ms timeout", r)
		}
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := Run(context.Background(), Options{Path: "/"}); err == nil {
		t.Error("no targets accepted")
	}
	if _, err := Run(context.Background(), Options{Targets: []string{"127.0.0.1:1"}, Path: "x"}); err == nil {
		t.Error("relative path accepted")
	}
}

func TestOpenLoopRateAndQueueing(t *testing.T) {
	fast, hits := server(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	res, err := Run(context.Background(), Options{Targets: []string{fast}, Path: "/", Rate: 100, Duration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// 100 due per second; a loaded machine may fire a few late, none early.
	if res.OK < 70 || res.OK > 101 || res.Failed != 0 {
		t.Errorf("ok %d failed %d in 1s at 100 req/s, want about 100 ok", res.OK, res.Failed)
	}
	if hits.Load() > 110 {
		t.Errorf("%d requests reached the server, want about 100 (open loop, not as fast as possible)", hits.Load())
	}

	// One worker and a server that takes 50ms: requests due every 10ms
	// queue, and their latency counts from when they were due.
	slow, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("ok"))
	})
	res, err = Run(context.Background(), Options{Targets: []string{slow}, Path: "/", Rate: 100, MaxInFlight: 1, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Max < 150*time.Millisecond {
		t.Errorf("max latency %v with one worker behind a 50ms server at 100 req/s, want the queueing counted (>150ms)", res.Max)
	}
}

func TestMethodHeadersBodyAndDynamicTargets(t *testing.T) {
	var got atomic.Value
	echo, _ := server(t, func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 64)
		n, _ := r.Body.Read(b)
		got.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("X-Test") + " " + string(b[:n]))
	})
	var targets atomic.Pointer[[]string]
	targets.Store(&[]string{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		targets.Store(&[]string{echo})
	}()
	res, err := Run(context.Background(), Options{TargetsFunc: func() []string { return *targets.Load() },
		Method: "POST", Path: "/p", Headers: [][2]string{{"X-Test", "yes"}}, Body: []byte(`{"a":1}`),
		Clients: 1, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := got.Load().(string); s != `POST /p yes {"a":1}` {
		t.Errorf("server saw %q", s)
	}
	var none, ok int
	for _, r := range res.Records {
		switch {
		case r.Outcome == NoTarget:
			none++
		case r.Outcome == OK && r.Target == echo:
			ok++
		}
	}
	if none == 0 || ok == 0 {
		t.Errorf("%d requests without a target and %d answered, want both (the list changed during the run)", none, ok)
	}
	if _, err := Run(context.Background(), Options{Targets: []string{echo}, Path: "/", Headers: [][2]string{{"Bad Name", "x"}}}); err == nil {
		t.Error("a header name with a space accepted")
	}
}

func TestNoTargetIsNotABusyLoop(t *testing.T) {
	res, err := Run(context.Background(), Options{TargetsFunc: func() []string { return nil }, Path: "/", Clients: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 2 clients, one try per 20ms each: about 20 in 200ms.
	if res.Failed == 0 || res.Failed > 40 {
		t.Errorf("%d failed requests without a target in 200ms, want about 20", res.Failed)
	}
}
