package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// load sends GET requests through the gateway from a few workers, each
// one request at a time on keep-alive connections (as a client library
// would), and records every outcome.
type load struct {
	url    string
	client *http.Client
	stop   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex // guards the fields below; written by the workers
	hits  []hit
	fails []failure
}

// failure is one request that did not get a 200.
type failure struct {
	sent time.Time
	why  string
}

func (f failure) String() string { return f.sent.Format("15:04:05.000") + ": " + f.why }

// hit is one answered request: when it was sent and who answered.
type hit struct {
	sent     time.Time
	took     time.Duration
	instance string
}

func startLoad(t *testing.T, url string, workers int) *load {
	t.Helper()
	l := &load{
		url:  url,
		stop: make(chan struct{}),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy: nil, MaxIdleConnsPerHost: workers,
		}},
	}
	for range workers {
		l.wg.Add(1)
		go l.work()
	}
	t.Cleanup(l.finish)
	return l
}

// load starts workers sending GET / to s through the gateway and waits
// until more than answered requests have been answered.
func (s *svc) load(workers, answered int) *load {
	s.t.Helper()
	l := startLoad(s.t, s.predict("/"), workers)
	testutil.WaitFor(s.t, 30*time.Second, e2ePoll, "load answered", func() bool { h, _ := l.snapshot(); return h > answered })
	return l
}

func (l *load) work() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		sent := time.Now()
		resp, err := l.client.Get(l.url)
		if err != nil {
			l.fail(sent, err.Error())
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			l.fail(sent, fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b))))
			continue
		}
		inst := ""
		if i := strings.Index(string(b), `"instance": "`); i >= 0 {
			rest := string(b[i+len(`"instance": "`):])
			inst = rest[:strings.IndexByte(rest, '"')]
		}
		l.mu.Lock()
		l.hits = append(l.hits, hit{sent, time.Since(sent), inst})
		l.mu.Unlock()
	}
}

func (l *load) fail(sent time.Time, why string) {
	l.mu.Lock()
	l.fails = append(l.fails, failure{sent, why})
	l.mu.Unlock()
	time.Sleep(10 * time.Millisecond) // a dead gateway must not spin
}

func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// result stops the load and returns the answered requests and the
// failures.
func (l *load) result() ([]hit, []failure) {
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.hits, l.fails
}

// snapshot returns how many requests were answered and failed so far.
func (l *load) snapshot() (answered, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits), len(l.fails)
}

// since returns the answered requests sent after t.
func (l *load) since(t time.Time) []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	var hs []hit
	for _, h := range l.hits {
		if h.sent.After(t) {
			hs = append(hs, h)
		}
	}
	return hs
}

// count returns how many answers each instance gave.
func count(hits []hit) map[string]int {
	m := map[string]int{}
	for _, h := range hits {
		m[h.instance]++
	}
	return m
}

// slowest returns the longest time a request took.
func slowest(hits []hit) time.Duration {
	var d time.Duration
	for _, h := range hits {
		d = max(d, h.took)
	}
	return d
}

// checkFailures logs the failed requests of one kind of failure and
// checks what can be promised about them: each was sent before the
// instance left the rotation (the endpoint list changes before its time
// is taken, so a request sent later cannot be routed to the instance),
// and there were at most bound.
func checkFailures(t *testing.T, kind string, fails []failure, removed time.Time, bound int) {
	t.Helper()
	for _, f := range fails {
		t.Logf("%s: failed request %s", kind, f)
		if f.sent.After(removed.Add(5 * time.Millisecond)) {
			t.Errorf("%s: a request sent at %s, after the instance left the rotation at %s, failed: %s",
				kind, f.sent.Format("15:04:05.000"), removed.Format("15:04:05.000"), f.why)
		}
	}
	if len(fails) > bound {
		t.Errorf("%s: %d requests failed; at most %d may", kind, len(fails), bound)
	}
}
