package testutil

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// WaitFor polls cond every poll until it holds and returns how long that
// took; it fails t, naming what, when within passes first. It is for
// tests against real containers, processes and servers, whose timing no
// fake clock controls.
func WaitFor(t testing.TB, within, poll time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s did not happen within %s", what, within)
		}
		time.Sleep(poll)
	}
	return time.Since(start)
}

// SyncBuffer is a bytes.Buffer that goroutines (a child process's or a
// container's output copiers) write while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Recv returns what ch delivers, failing t with what if nothing comes
// within 10 s. The timeout only bounds a broken test; a passing test never
// waits for it.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal(what)
		var zero T
		return zero
	}
}
