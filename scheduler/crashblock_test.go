package scheduler

import (
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// BlockCrash keeps crashes stopped and leaves every other decision alone.
func TestBlockCrash(t *testing.T) {
	restart := Decision{Action: Restart, Delay: 10 * time.Second, Next: History{Streak: 3}}
	stay := Decision{Action: Stay, Reason: "policy", Next: History{Streak: 2}}
	for _, tc := range []struct {
		name     string
		block    bool
		exit     ExitReason
		in       Decision
		wantStay bool
		wantSame bool
	}{
		{"off: a crash restarts", false, ExitReason{Kind: Exited, Code: 3}, restart, false, true},
		{"on: exit code 3", true, ExitReason{Kind: Exited, Code: 3}, restart, true, false},
		{"on: killed by a signal", true, ExitReason{Kind: Exited, Code: 137, Signal: syscall.SIGKILL}, restart, true, false},
		{"on: OOM", true, ExitReason{Kind: Exited, Code: 137, OOMKilled: true}, restart, true, false},
		{"on: exit 0 is no crash", true, ExitReason{Kind: Exited}, restart, false, true},
		{"on: a liveness kill is no crash", true, ExitReason{Kind: LivenessFailed, Code: 137, Signal: syscall.SIGKILL}, restart, false, true},
		{"on: a start error is no crash", true, ExitReason{Kind: StartError}, restart, false, true},
		{"on: already staying", true, ExitReason{Kind: Exited, Code: 1}, stay, true, true},
	} {
		got := BlockCrash(tc.in, tc.block, tc.exit)
		if (got.Action == Stay) != tc.wantStay {
			t.Errorf("%s: action %v, want stay=%t", tc.name, got.Action, tc.wantStay)
		}
		if tc.wantSame && got != tc.in {
			t.Errorf("%s: decision changed to %+v", tc.name, got)
		}
		if !tc.wantSame && (got.Next != tc.in.Next || !strings.Contains(got.Reason, "enable_crash_block")) {
			t.Errorf("%s: %+v, want the history kept and a reason naming enable_crash_block", tc.name, got)
		}
	}
}

// With crash block a crashed container is not restarted: the instance
// stays, not ready and out of the endpoints, with its exit code, until
// the service is stopped.
func TestCrashBlockKeepsInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(2)
		h := newHarness(t, Options{Service: svc, CrashBlock: true})
		h.start()
		h.rt.exit(t, "demo-1", "c0", runtime.ExitStatus{Code: 3})
		synctest.Wait()
		time.Sleep(10 * time.Minute) // no back-off timer brings it back
		synctest.Wait()
		if n := len(h.rt.startTimes("demo-1/c0")); n != 1 {
			t.Fatalf("demo-1 started %d times, want 1 (not restarted)", n)
		}
		st := h.status("demo-1")
		c := st.Containers[0]
		if st.Ready || st.State != StateFailed || c.Reason != reasonCrashBlocked || c.LastExit == nil || c.LastExit.Code != 3 ||
			!strings.Contains(st.Message, "enable_crash_block") {
			t.Errorf("demo-1 = %+v, want Failed, not ready, reason CrashBlocked, exit code 3 and a message naming enable_crash_block", st)
		}
		if _, ok := h.ep.snapshot()["demo-1"]; ok {
			t.Error("a crash-blocked instance is still an endpoint")
		}
		if ev := h.eventsOf("demo-1", events.CrashBlocked); len(ev) != 1 || !strings.Contains(ev[0].Message, "exited with code 3") {
			t.Errorf("CrashBlocked events %+v", ev)
		}
		if !h.status("demo-0").Ready {
			t.Error("demo-0 is affected")
		}
		// An exit 0 is not a crash: restarted as the policy says.
		h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{})
		synctest.Wait()
		if n := len(h.rt.startTimes("demo-0/c0")); n != 2 {
			t.Errorf("demo-0 started %d times after exiting 0, want 2", n)
		}
		h.stopClean(t)
	})
}

// A liveness kill is not a crash: crash block does not stop its restart.
func TestCrashBlockLetsProbeKillsRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(1)
		svc.Containers[0].LivenessCheck = probe()
		h := newHarness(t, Options{Service: svc, CrashBlock: true, Termination: Termination{Grace: time.Second}})
		h.start()
		h.probe("demo-0", "c0", service.Liveness, ProbeFailure, "500")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(h.rt.startTimes("demo-0/c0")); n != 2 {
			t.Errorf("started %d times after a liveness kill, want 2", n)
		}
	})
}
