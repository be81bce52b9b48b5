package testutil

import (
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeT records a failure instead of ending the test, so a test can
// check that WaitFor fails.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = format
	panic(f) // Fatalf does not return
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, time.Minute, time.Millisecond, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("cond called %d times, want 3 (until it held)", n)
	}

	f := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		WaitFor(f, 10*time.Millisecond, time.Millisecond, "never", func() bool { return false })
	}()
	if !strings.Contains(f.failed, "did not happen within") {
		t.Errorf("a condition that never holds did not fail the test (%q)", f.failed)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 400 {
		t.Errorf("len = %d, want 400", got)
	}
}

// A line written in pieces arrives whole, once its newline comes.
func TestLineSinkWholeLines(t *testing.T) {
	l := NewLineSink()
	l.Write([]byte("one\ntw"))
	select {
	case got := <-l.Lines:
		if got != "one" {
			t.Fatalf("first line %q", got)
		}
	default:
		t.Fatal("a complete line was not delivered at once")
	}
	select {
	case got := <-l.Lines:
		t.Fatalf("a partial line was delivered: %q", got)
	default:
	}
	l.Write([]byte("o\n"))
	l.Expect(t, "two")
}

// A Sleeper runs until killed, and Done and Err then say how it ended; the
// PID EndedPID returns is held by no live process.
func TestProcesses(t *testing.T) {
	s := StartSleeper(t)
	if err := syscall.Kill(s.PID, 0); err != nil {
		t.Fatalf("the sleeper is not running: %v", err)
	}
	select {
	case <-s.Done():
		t.Fatalf("Done before the sleeper ended: %v", s.Err())
	default:
	}
	syscall.Kill(s.PID, syscall.SIGTERM)
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the sleeper was terminated")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("Err() = %v, want terminated", err)
	}
	if pid := EndedPID(t); syscall.Kill(pid, 0) == nil {
		t.Errorf("EndedPID's process %d is still there", pid)
	}
}

// Recv hands back what the channel delivers.
func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Recv(t, ch, "nothing sent"); got != 7 {
		t.Errorf("Recv = %d, want 7", got)
	}
}

// CallLog keeps each call formatted and in order, and Calls hands out a
// copy the log does not change afterwards.
func TestCallLog(t *testing.T) {
	var l CallLog
	l.Add("kill %s %d", "demo-1", 9)
	l.Add("scale %d", 3)
	got := l.Calls()
	l.Add("shutdown")
	if want := []string{"kill demo-1 9", "scale 3"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Calls = %q, want %q", got, want)
	}
	if n := len(l.Calls()); n != 3 {
		t.Errorf("after a third call: %d calls", n)
	}
}
