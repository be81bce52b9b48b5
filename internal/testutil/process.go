package testutil

import (
	"os/exec"
	"testing"
)

// EndedPID returns the PID of a process that has run and been reaped, for
// a registry entry whose process is gone.
func EndedPID(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// Sleeper is a running `sleep 60`: a live process that is not easlocal,
// for a registry entry to point at. It is reaped as soon as it ends (an
// unreaped zombie would still look alive) and killed when the test ends.
type Sleeper struct {
	PID  int
	done chan struct{}
	err  error // how it ended; written before done is closed
}

// StartSleeper starts a Sleeper.
func StartSleeper(t testing.TB) *Sleeper {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Sleeper{PID: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	return s
}

// Done is closed once the process has ended.
func (s *Sleeper) Done() <-chan struct{} { return s.done }

// Err is how the process ended (what Wait returned), once Done is closed.
func (s *Sleeper) Err() error {
	<-s.done
	return s.err
}
