package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NeedProgram returns the path of program name; without it the test is
// skipped, or fails under CI=true (scripts/install-deps.sh installs every
// program the tests use).
func NeedProgram(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not installed (scripts/install-deps.sh installs it): %v", name, err)
		}
		t.Skipf("%s is not installed (scripts/install-deps.sh installs it): %v", name, err)
	}
	return p
}

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

// ReadPID returns the pid a daemon recorded in its pid file.
func ReadPID(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// StopDaemon ends the daemon a pid file names (SIGTERM) and waits until
// it is gone. Without a readable pid file there is nothing to stop: it is
// meant for cleanups, which run whether or not the daemon was started.
func StopDaemon(t testing.TB, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	WaitGone(t, pid)
}

// WaitGone waits up to 5 s for process pid to end, and fails the test if
// it does not.
func WaitGone(t testing.TB, pid int) {
	t.Helper()
	for range 100 {
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		// Our child until reaped: a zombie still answers kill(0).
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("process %d did not exit", pid)
}

// HoldLock takes an exclusive flock on the existing file path (such as
// the lock a runtime takes before it starts its private containerd) and
// returns what releases it; the end of the test releases it too.
func HoldLock(t testing.TB, path string) (release func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
}
