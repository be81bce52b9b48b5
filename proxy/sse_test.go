package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// lockstepSSE serves /sse?stream=I: events written one at a time, the
// next only after the client said (ack) it received the previous one, so
// a relay that held any event back would stall the stream. sent[I][k] is
// when event k was written.
type lockstepSSE struct {
	events int
	acks   []chan struct{}
	mu     sync.Mutex
	sent   [][]time.Time
}

func newLockstepSSE(streams, events int) *lockstepSSE {
	l := &lockstepSSE{events: events, acks: make([]chan struct{}, streams), sent: make([][]time.Time, streams)}
	for i := range l.acks {
		l.acks[i] = make(chan struct{})
	}
	return l
}

func (l *lockstepSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var i int
	fmt.Sscan(r.URL.Query().Get("stream"), &i)
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	for k := range l.events {
		l.mu.Lock()
		l.sent[i] = append(l.sent[i], time.Now())
		l.mu.Unlock()
		fmt.Fprintf(w, "data: %d %d\n\n", i, k)
		rc.Flush()
		select {
		case <-l.acks[i]:
		case <-r.Context().Done():
			return
		}
	}
}

// readLockstep reads the events of stream i from url, acking each, and
// returns how long each took from write to arrival.
func readLockstep(t *testing.T, l *lockstepSSE, url string, i int) (lat []time.Duration, first time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s?stream=%d", url, i), nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for k := range l.events {
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			br.ReadString('\n') // the blank line ending the event
			got <- line
		}()
		select {
		case line := <-got:
			now := time.Now()
			if want := fmt.Sprintf("data: %d %d\n", i, k); line != want {
				return lat, first, fmt.Errorf("stream %d: got %q, want %q", i, line, want)
			}
			if k == 0 {
				first = now.Sub(start)
			}
			l.mu.Lock()
			lat = append(lat, now.Sub(l.sent[i][k]))
			l.mu.Unlock()
		case <-time.After(10 * time.Second):
			return lat, first, fmt.Errorf("stream %d: event %d written but not received: the relay held it back", i, k)
		}
		l.acks[i] <- struct{}{}
	}
	return lat, first, nil
}

// runLockstep reads streams concurrent streams from url and returns the
// write-to-arrival times of every event and each stream's time to its
// first event, both sorted.
func runLockstep(t *testing.T, url string, streams, events int, handler func(*lockstepSSE)) (all, firsts []time.Duration) {
	l := newLockstepSSE(streams, events)
	handler(l)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, first, err := readLockstep(t, l, url, i)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, lat...)
			firsts = append(firsts, first)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	slices.Sort(firsts)
	return all, firsts
}

// Server-sent events reach the client as the instance writes them, under
// 16 concurrent streams: every event arrives before the instance writes
// the next (it waits for the client to have it). The write-to-arrival
// times, direct and through the gateway, are logged.
func TestSSEStreamsAsWritten(t *testing.T) {
	const streams, events = 16, 20
	var cur *lockstepSSE
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cur.ServeHTTP(w, r) }))
	defer up.Close()
	gw := startGateway(t, Options{Endpoints: oneInstance(t, "a", up.URL)})

	direct, directFirst := runLockstep(t, up.URL+"/sse", streams, events, func(l *lockstepSSE) { cur = l })
	via, viaFirst := runLockstep(t, gw.URL+"/api/predict/svc/sse", streams, events, func(l *lockstepSSE) { cur = l })
	if t.Failed() {
		return
	}
	q := func(d []time.Duration, p int) time.Duration { return d[len(d)*p/100] }
	t.Logf("event write to arrival, %d streams x %d events: direct p50 %v p99 %v; through the gateway p50 %v p99 %v",
		streams, events, q(direct, 50), q(direct, 99), q(via, 50), q(via, 99))
	t.Logf("time to first event (request to first byte), %d streams: direct p50 %v max %v; through the gateway p50 %v max %v",
		streams, q(directFirst, 50), directFirst[len(directFirst)-1], q(viaFirst, 50), viaFirst[len(viaFirst)-1])
	if len(via) != streams*events || len(direct) != streams*events {
		t.Errorf("got %d events through the gateway and %d direct, want %d each", len(via), len(direct), streams*events)
	}
}
