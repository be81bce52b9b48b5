package endpoints

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

func ep(ip string, port int) Endpoint {
	return Endpoint{IP: netip.MustParseAddr(ip), Port: port}
}

func names(s *Snapshot) []string {
	var out []string
	for _, e := range s.Endpoints {
		out = append(out, e.Instance)
	}
	return out
}

// The zero Set is usable and empty, and Snapshot never returns nil.
func TestZeroSet(t *testing.T) {
	var s Set
	snap := s.Snapshot()
	if snap == nil || snap.Len() != 0 || snap.Version != 0 {
		t.Fatalf("zero set snapshot = %+v", snap)
	}
	s.Remove("nope") // no panic, no change
	if s.Snapshot().Version != 0 {
		t.Fatal("removing an absent instance published a change")
	}
}

// Snapshots are sorted by instance, versioned per real change, immutable,
// and carry preformatted addresses.
func TestSetRemoveSnapshot(t *testing.T) {
	s := New()
	s.Set("b", ep("10.0.0.2", 8000))
	s.Set("a", ep("10.0.0.1", 8000))
	s.Set("c", ep("::1", 9000))
	first := s.Snapshot()
	if got := names(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("order = %v", got)
	}
	if first.Version != 3 {
		t.Fatalf("version = %d, want 3", first.Version)
	}
	if first.Addr(0) != "10.0.0.1:8000" || first.Addr(2) != "[::1]:9000" {
		t.Fatalf("addrs = %v", first.addrs)
	}
	// Idempotent Set and Remove change nothing.
	s.Set("a", ep("10.0.0.1", 8000))
	if s.Snapshot() != first {
		t.Fatal("identical Set published a new snapshot")
	}
	s.Remove("b")
	s.Remove("b")
	snap := s.Snapshot()
	if got := names(snap); !slices.Equal(got, []string{"a", "c"}) || snap.Version != 4 {
		t.Fatalf("after remove: %v v%d", got, snap.Version)
	}
	// The old snapshot is untouched.
	if got := names(first); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("old snapshot mutated: %v", got)
	}
	e, _, ok := snap.Lookup("c")
	if !ok || e.Port != 9000 || e.Instance != "c" {
		t.Fatalf("lookup c = %+v %v", e, ok)
	}
	if _, _, ok := snap.Lookup("b"); ok {
		t.Fatal("lookup found removed instance")
	}
}

// Every real change is one event with the count after it; an address
// change is Removed then Added; no-op calls emit nothing.
func TestEvents(t *testing.T) {
	s := New()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return clock }
	ch, cancel := s.Subscribe()
	var got []Change
	_, stop := s.OnChange(func(c Change) { got = append(got, c) })

	s.Set("a", ep("10.0.0.1", 8000))
	s.Set("a", ep("10.0.0.1", 8000)) // no-op
	s.Set("b", ep("10.0.0.2", 8000))
	s.Set("a", ep("10.0.0.1", 8001)) // address change
	s.Remove("b")
	s.Remove("b") // no-op
	stop()
	s.Remove("a") // after stop: callback not called
	cancel()
	cancel() // idempotent

	want := []struct {
		kind  Kind
		inst  string
		port  int
		count int
	}{
		{Added, "a", 8000, 1},
		{Added, "b", 8000, 2},
		{Removed, "a", 8000, 1},
		{Added, "a", 8001, 2},
		{Removed, "b", 8000, 1},
	}
	var fromChan []Change
	for c := range ch {
		fromChan = append(fromChan, c)
	}
	if len(fromChan) != len(want)+1 { // the channel also saw Remove("a")
		t.Fatalf("channel got %d events, want %d: %+v", len(fromChan), len(want)+1, fromChan)
	}
	if len(got) != len(want) {
		t.Fatalf("callback got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		for _, c := range []Change{got[i], fromChan[i]} {
			if c.Kind != w.kind || c.Endpoint.Instance != w.inst || c.Endpoint.Port != w.port || c.Count != w.count || !c.Time.Equal(clock) {
				t.Errorf("event %d = %+v, want %+v", i, c, w)
			}
		}
	}
	if last := fromChan[len(fromChan)-1]; last.Kind != Removed || last.Count != 0 {
		t.Errorf("last event = %+v", last)
	}
}

// A subscriber that never reads does not block the writer; it keeps the
// newest SubscribeBuffer events and counts the dropped ones.
func TestSubscribeDropsOldest(t *testing.T) {
	s := New()
	ch, sub, cancel := s.SubscribeWithStats()
	defer cancel()
	total := SubscribeBuffer + 10
	for i := range total {
		s.Set(fmt.Sprintf("i%04d", i), ep("10.0.0.1", 8000+i))
	}
	if sub.Dropped() != 10 {
		t.Fatalf("dropped = %d, want 10", sub.Dropped())
	}
	first := <-ch
	if first.Endpoint.Instance != "i0010" {
		t.Fatalf("oldest kept = %s, want i0010", first.Endpoint.Instance)
	}
	if len(ch) != SubscribeBuffer-1 {
		t.Fatalf("queued = %d", len(ch))
	}
}

// OnChange returns the snapshot current at registration so a late
// subscriber can sync up without missing a change.
func TestOnChangeInitialSnapshot(t *testing.T) {
	s := New()
	s.Set("a", ep("10.0.0.1", 8000))
	snap, cancel := s.OnChange(func(Change) {})
	defer cancel()
	if snap.Len() != 1 || snap.Version != 1 {
		t.Fatalf("initial snapshot = %+v", snap)
	}
}

// Readers see only whole snapshots (sorted, version never going back)
// while writers churn; run with -race.
func TestConcurrentReadersWriters(t *testing.T) {
	s := New()
	ch, cancel := s.Subscribe()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				name := fmt.Sprintf("w%d-%d", w, i%7)
				if i%3 == 0 {
					s.Remove(name)
				} else {
					s.Set(name, ep("10.0.0.1", 8000+i%5))
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				snap := s.Snapshot()
				if snap.Version < last {
					t.Errorf("version went back: %d < %d", snap.Version, last)
					return
				}
				last = snap.Version
				if !slices.IsSortedFunc(snap.Endpoints, func(a, b Endpoint) int {
					if a.Instance < b.Instance {
						return -1
					}
					return 1
				}) || len(snap.addrs) != len(snap.Endpoints) {
					t.Error("torn or unsorted snapshot")
					return
				}
			}
		}()
	}
	drained := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		drained <- n
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	cancel()
	if n := <-drained; n == 0 {
		t.Fatal("subscriber saw no events")
	}
}
