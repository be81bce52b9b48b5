package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/internal/testutil"
)

// Two `up -d` of one service at the same time: one starts it, the other
// fails at once naming the first, and the first is untouched (its pods
// are not removed as leftovers, its output file is its own).
func TestE2EConcurrentUp(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_twoups", "three")
	args := append(append([]string{"up", "-d"}, s.upArgs("--instances", "2")...), s.file)
	var wg sync.WaitGroup
	results := make([]binResult, 2)
	took := make([]time.Duration, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			results[i] = easlocal(t, 3*time.Minute, nil, args...)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	win, lose := 0, 1
	if results[0].code != 0 {
		win, lose = 1, 0
	}
	if results[win].code != 0 {
		t.Fatalf("neither up -d started the service:\n%s\n%s", results[0], results[1])
	}
	s.upResult = results[win]
	e := s.entry()
	s.gateway, s.pid = e.GatewayURL, e.PID
	loser := results[lose]
	if loser.code != 1 || !strings.Contains(loser.err, "service "+s.name+" is already starting/running (pid ") {
		t.Errorf("the second up -d: want exit 1 saying the service is already starting/running, got %s", loser)
	}
	// Failing fast: it did not wait for the other to become ready.
	if took[lose] >= took[win] {
		t.Errorf("the refused up -d took %s, the one that started the service %s", took[lose], took[win])
	}
	st := s.ps()
	if len(st.Instances) != 2 {
		t.Fatalf("want 2 instances, got %+v", st)
	}
	for _, in := range st.Instances {
		if !in.Ready || in.Restarts != 0 {
			t.Errorf("instance after the refused second up: %+v", in)
		}
	}
	out, err := os.ReadFile(outputFile(t, s.upResult))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "service "+s.name+": gateway http://") != 1 || strings.Contains(string(out), "left behind") {
		t.Errorf("the running service's output is not only its own:\n%s", out)
	}
	if r := s.ctl(3*time.Minute, "down", s.name); r.code != 0 {
		t.Fatalf("down: %s", r)
	}
	s.reap()
}

// startUp starts a foreground `up` of s with n instances and waits until
// it has created at least min pods (but not all of them).
func startUp(t *testing.T, s *svc, n, min int) (*exec.Cmd, <-chan error, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command(e2e.bin, append(append([]string{"up"}, s.upArgs("--instances", fmt.Sprint(n))...), s.file)...)
	cmd.Env = binEnv()
	var errb testutil.SyncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	reaped := make(chan struct{})
	go func() { exited <- cmd.Wait(); close(reaped) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-reaped
	})
	pods := 0
	testutil.WaitFor(t, 3*time.Minute, 20*time.Millisecond, fmt.Sprintf("%d pods of %s", min, s.name), func() bool {
		left, err := e2e.rt.Leftovers(t.Context(), s.name)
		if err != nil {
			t.Fatal(err)
		}
		pods = len(left.NetNS)
		return pods >= min
	})
	if pods >= n {
		t.Fatalf("all %d pods were created before the test could interrupt the creation", n)
	}
	t.Logf("%d of %d pods created", pods, n)
	return cmd, exited, &errb
}

// Ctrl-C while many instances are being created stops the creation: up
// exits within seconds, and leaves no container, namespace or lease.
func TestE2EInterruptDuringCreation(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_intcreate", "three")
	cmd, exited, errb := startUp(t, s, 40, 4)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("up after SIGINT: %v\n%s", err, errb)
		}
	case <-time.After(time.Minute):
		t.Fatalf("up did not end within a minute of SIGINT during creation:\n%s", errb)
	}
	took := time.Since(start)
	t.Logf("up ended %s after SIGINT", took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("up took %s to end after SIGINT during creation", took)
	}
	if !strings.Contains(errb.String(), "nothing left behind") {
		t.Errorf("up should say nothing is left:\n%s", errb)
	}
	assertNothingLeft(t, s.name)
}

// A second Ctrl-C during the teardown ends up at once with a report; one
// `down` (without a name: the only service registered) removes the rest.
func TestE2ESecondInterrupt(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_intagain", "three")
	cmd, exited, errb := startUp(t, s, 40, 4)
	cmd.Process.Signal(syscall.SIGINT)
	testutil.WaitFor(t, time.Minute, 10*time.Millisecond, "the teardown to begin", func() bool {
		return strings.Contains(errb.String(), "stopping service "+s.name)
	})
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitAbandoned {
			t.Errorf("up after a second SIGINT: %v, want exit status %d", err, exitAbandoned)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("up did not end after a second SIGINT:\n%s", errb)
	}
	if !strings.Contains(errb.String(), "stopped without finishing the teardown; `easlocal down` removes what is left") {
		t.Errorf("up should say the teardown was abandoned:\n%s", errb)
	}
	r := s.ctl(3*time.Minute, "down")
	if r.code != 0 && !strings.Contains(r.err, "left nothing behind") {
		t.Errorf("down after an abandoned teardown: %s", r)
	}
	assertNothingLeft(t, s.name)
	if _, err := os.Stat(s.reg + "/" + s.name + ".json"); err == nil {
		t.Errorf("the registry entry is still there after down")
	}
}

// easlocal killed (SIGKILL) while it creates many instances: one `down`
// removes everything it had created.
func TestE2EKillDuringCreation(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_killcreate", "three")
	cmd, exited, _ := startUp(t, s, 40, 4)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	r := s.ctl(3*time.Minute, "down", s.name)
	if r.code != 0 || !strings.Contains(r.out, "removed what an earlier run left behind") {
		t.Errorf("down after SIGKILL during creation: %s", r)
	}
	assertNothingLeft(t, s.name)
	if _, err := os.Stat(s.reg + "/" + s.name + ".json"); err == nil {
		t.Errorf("the registry entry is still there after down")
	}
}
