package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
)

// `up -d` returns once every instance is ready and leaves a background
// process; a second `up -d` of the same service is refused; `down` stops
// it and nothing is left; `down` again says there is nothing to stop.
func TestE2EDetachAndDown(t *testing.T) {
	s := upSvc(t, "e2e_updown", "three", "--instances", "2")
	if !strings.Contains(s.upResult.out, "service "+s.name+" is ready: 2 instance(s)") {
		t.Errorf("up -d output:\n%s", s.upResult)
	}
	if syscall.Kill(s.pid, 0) != nil {
		t.Fatalf("the background easlocal (pid %d) is not running", s.pid)
	}
	if out := s.mustCtl("ps", s.name); !strings.Contains(out, "2 of 2 instances ready") {
		t.Errorf("ps:\n%s", out)
	}
	// logs shows what the instance printed: the app logs every request.
	if code, body := get(t, s.gateway+"/api/predict/"+s.name+"/hello-logs"); code != 200 {
		t.Fatalf("GET through the gateway: %d %s", code, body)
	}
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "the request in the instance logs", func() bool {
		return strings.Contains(s.mustCtl("logs", s.name)+"", "/hello-logs")
	})

	logFile := outputFile(t, s.upResult)
	// The instance's output stays in its own capped log: the background
	// easlocal's output file does not copy it (it would grow unbounded).
	if b, _ := os.ReadFile(logFile); strings.Contains(string(b), "/hello-logs") {
		t.Errorf("the up -d output file %s copies the instances' output:\n%s", logFile, b)
	}
	again := easlocal(t, 3*time.Minute, nil, s.cmdline("up -d")...)
	if again.code != 1 || !strings.Contains(again.err, fmt.Sprintf("service %s is already starting/running (pid %d)", s.name, s.pid)) {
		t.Errorf("a second up -d of a running service: want exit 1 saying it is already running, got %s", again)
	}
	// The refused second start must not clobber the running service's
	// output file.
	if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "service "+s.name+": gateway http://") {
		t.Errorf("after a refused second up -d, the running service's output %s lost its start:\n%q", logFile, b)
	}

	down := s.ctl(3*time.Minute, "down", s.name)
	if down.code != 0 || !strings.Contains(down.out, "service "+s.name+" stopped") {
		t.Fatalf("down: %s", down)
	}
	s.assertUnregistered("down")
	if _, err := os.Stat(s.reg + "/" + s.name + ".lock"); err == nil {
		t.Errorf("the service's lock file is still there after down")
	}
	s.reap()
	assertNothingLeft(t, s.name)
	if r := s.ctl(time.Minute, "down", s.name); r.code != 1 || !strings.Contains(r.err, "not running and left nothing behind") {
		t.Errorf("down of a stopped service: want exit 1 saying nothing is left, got %s", r)
	}
}

// `up -d` of a service that never becomes ready fails after --wait-timeout
// with a report of which instance is stuck and why (its readiness probe's
// last output), and stops it.
func TestE2EWaitTimeoutReport(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_stuck", "stuck")
	r := easlocal(t, 3*time.Minute, nil, s.cmdline("up -d", "--wait-timeout", "5s")...)
	if r.code != 1 || !strings.Contains(r.err, "not ready after 5s") || !strings.Contains(r.err, s.name+"-0") {
		t.Fatalf("up -d of a never-ready service: want exit 1 naming the stuck instance, got %s", r)
	}
	t.Logf("report:\n%s", r.err)
	if !strings.Contains(r.err, "statuscode: 503") {
		t.Errorf("the report should say why the instance is stuck (its readiness probe answered 503), got:\n%s", r.err)
	}
	s.assertUnregistered("up -d gave up")
	assertNothingLeft(t, s.name)
}

// `easlocal run FILE -- CMD` brings the service up, runs CMD with
// EASLOCAL_URL pointing at the gateway, tears down and exits with CMD's
// exit status.
func TestE2ERun(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_run", "three")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := easlocal(t, 3*time.Minute, []string{envHelper + "=exit:7"}, append(s.cmdline("run", "--instances", "1"), "--", self)...)
	if r.code != 7 {
		t.Fatalf("run: want the command's exit status 7, got %s", r)
	}
	if !strings.Contains(r.out, "helper: http://127.0.0.1:") || !strings.Contains(r.out, "/api/predict/"+s.name+" answered 200") {
		t.Errorf("run: the command did not reach the service through EASLOCAL_URL:\n%s", r)
	}
	s.assertUnregistered("run ended")
	assertNothingLeft(t, s.name)
}

// Ctrl-C (SIGINT) or SIGTERM on a foreground `up`: it tears everything
// down and exits 0.
func TestE2EInterrupt(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			name := "e2e_sigint"
			if sig == syscall.SIGTERM {
				name = "e2e_sigterm"
			}
			interrupt(t, newSvc(t, name, "three"), sig)
		})
	}
}

func interrupt(t *testing.T, s *svc, sig syscall.Signal) {
	var out testutil.SyncBuffer
	cmd, exited, errb := s.upForeground(2, &out)
	// Both instances ready, through the driver `up -d` uses; an early end
	// of up stops the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	early := make(chan error, 1)
	go func() {
		select {
		case err := <-exited:
			early <- err
			cancel()
		case <-ctx.Done():
		}
	}()
	d, err := admin.WaitRegistered(ctx, admin.Registry{Dir: s.reg}, cmd.Process.Pid, 100*time.Millisecond)
	if err == nil {
		_, err = d.WaitReady(ctx)
	}
	cancel()
	select {
	case err := <-early:
		t.Fatalf("up ended early (%v):\n%s\n%s", err, out.String(), errb.String())
	default:
	}
	if err != nil {
		t.Fatalf("up was not ready within 3m: %v", err)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := waitExit(t, exited, 2*time.Minute, sig.String(), errb); err != nil {
		t.Errorf("up after %s: %v\nstderr:\n%s", sig, err, errb.String())
	}
	t.Logf("%s: up ended %s after the signal", sig, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(errb.String(), "nothing left behind") {
		t.Errorf("up after %s should say nothing is left; stderr:\n%s", sig, errb.String())
	}
	// Foreground up shows instance output with instance prefixes.
	if !strings.Contains(out.String(), s.name+"-0 | ") {
		t.Errorf("up's output has no %q lines:\n%s", s.name+"-0 | ", out.String())
	}
	assertNothingLeft(t, s.name)
}

// crash starts the service with `up -d` and SIGKILLs its background
// easlocal, leaving running instances behind. The killed process is
// reaped at once (as an init does).
func crash(t *testing.T, s *svc) {
	t.Helper()
	pid := crashUnreaped(t, s)
	if !waitPIDGone(pid, time.Minute) {
		t.Fatalf("easlocal (pid %d) still there after SIGKILL", pid)
	}
}

// crashUnreaped is crash leaving the killed easlocal a zombie (the tests
// are its subreaper) until the test ends, as under an init that reaps
// late or never (a container whose PID 1 is a shell).
func crashUnreaped(t *testing.T, s *svc) int {
	t.Helper()
	s.up("--instances", "2")
	ip := s.instance(s.name + "-0").IP
	pid := s.pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.pid = 0
	t.Cleanup(func() { waitPIDGone(pid, time.Minute) })
	// Wait until it is dead (a zombie): its control API stops answering.
	testutil.WaitFor(t, time.Minute, e2ePoll, "the killed easlocal to die", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(b), ") Z ")
	})
	left, err := e2e.rt.Leftovers(t.Context(), s.name)
	if err != nil || len(left.Containers) != 2 || len(left.NetNS) != 2 {
		t.Fatalf("after SIGKILL of easlocal: want 2 containers and namespaces left, got %+v (%v)", left, err)
	}
	if code, _ := get(t, "http://"+ip+":8000/"); code != 200 {
		t.Fatalf("a left-behind instance should still answer: %d", code)
	}
	return pid
}

// Like TestE2ECrashThenDown, but `down` runs while the killed easlocal is
// still a zombie nobody has reaped: it must still see that the service
// is not running and remove what it left.
func TestE2ECrashThenDownBeforeReaped(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_crashzombie", "three")
	crashUnreaped(t, s)
	s.downLeftovers("a crash, its process not yet reaped", "--timeout", "15s")
}

// After easlocal was killed (SIGKILL), `easlocal down NAME` removes what
// it left behind.
func TestE2ECrashThenDown(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_crashdown", "three")
	crash(t, s)
	s.downLeftovers("a crash")
}

// After easlocal was killed (SIGKILL), `up` again first removes what the
// killed run left behind, then starts afresh.
func TestE2ECrashThenUp(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_crashup", "three")
	crash(t, s)
	s.up("--instances", "2")
	s.assertFresh(2, "up after a crash")
	if b, _ := os.ReadFile(outputFile(t, s.upResult)); !strings.Contains(string(b), "removing what an earlier run of "+s.name+" left behind") {
		t.Errorf("up after a crash should say it removes the leftovers; its output:\n%s", b)
	}
}

// outputFile is the file `up -d` says the background easlocal writes to.
func outputFile(t *testing.T, up binResult) string {
	t.Helper()
	m := regexp.MustCompile(`\(output: (\S+)\)`).FindStringSubmatch(up.out)
	if m == nil {
		t.Fatalf("up -d did not name its output file:\n%s", up)
	}
	return m[1]
}
