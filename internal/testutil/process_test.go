package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReadPID reads what a daemon wrote to its pid file; StopDaemon ends that
// process and returns once it is gone, and does nothing without a pid
// file; WaitGone returns at once for a process that has ended.
func TestDaemonPIDFile(t *testing.T) {
	s := StartSleeper(t)
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(s.PID)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := ReadPID(t, pidFile); got != s.PID {
		t.Fatalf("ReadPID = %d, want %d", got, s.PID)
	}
	StopDaemon(t, filepath.Join(t.TempDir(), "none.pid"))
	if err := syscall.Kill(s.PID, 0); err != nil {
		t.Fatalf("the sleeper ended without a pid file naming it: %v", err)
	}
	StopDaemon(t, pidFile)
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("StopDaemon returned and the daemon is still there")
	}
	WaitGone(t, EndedPID(t))
}

// While HoldLock holds a file, no one else can lock it; after release
// they can.
func TestHoldLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "start.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	release := HoldLock(t, path)
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Fatalf("lock while held: %v, want EWOULDBLOCK", err)
	}
	release()
	if err := syscall.Flock(int(other.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}

// NeedProgram finds a program in PATH; without it the test is skipped,
// or fails under CI=true.
func TestNeedProgram(t *testing.T) {
	if p := NeedProgram(t, "sh"); !filepath.IsAbs(p) {
		t.Errorf("NeedProgram(sh) = %q, want an absolute path", p)
	}
	const missing = "easlocal-no-such-program"
	t.Setenv("CI", "")
	var sub *testing.T
	t.Run("missing", func(t *testing.T) {
		sub = t
		NeedProgram(t, missing)
		t.Error("NeedProgram returned without the program")
	})
	if !sub.Skipped() {
		t.Error("a missing program did not skip the test")
	}
	t.Setenv("CI", "true")
	f := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != f {
				panic(r)
			}
		}()
		NeedProgram(f, missing)
	}()
	if !strings.Contains(f.failed, "CI=true") {
		t.Errorf("a missing program under CI=true did not fail the test (%q)", f.failed)
	}
}
