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
