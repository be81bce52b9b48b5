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
	args := s.cmdline("up -d", "--instances", "2")
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
	s.assertFresh(2, "after the refused second up")
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
	cmd, exited, errb := s.upForeground(n, nil)
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
	return cmd, exited, errb
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
	if err := waitExit(t, exited, time.Minute, "SIGINT during creation", errb); err != nil {
		t.Errorf("up after SIGINT: %v\n%s", err, errb)
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
	err := waitExit(t, exited, 30*time.Second, "a second SIGINT", errb)
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != exitAbandoned {
		t.Errorf("up after a second SIGINT: %v, want exit status %d", err, exitAbandoned)
	}
	if !strings.Contains(errb.String(), "stopped without finishing the teardown; `easlocal down` removes what is left") {
		t.Errorf("up should say the teardown was abandoned:\n%s", errb)
	}
	r := s.ctl(3*time.Minute, "down")
	if r.code != 0 && !strings.Contains(r.err, "left nothing behind") {
		t.Errorf("down after an abandoned teardown: %s", r)
	}
	assertNothingLeft(t, s.name)
	s.assertUnregistered("down")
}

// easlocal killed (SIGKILL) while it creates many instances: one `down`
// removes everything it had created.
func TestE2EKillDuringCreation(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_killcreate", "three")
	cmd, exited, _ := startUp(t, s, 40, 4)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	s.downLeftovers("SIGKILL during creation")
	s.assertUnregistered("down")
}
