package prober

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/service"
)

// The seven worked timelines of ../shared/reference/kubelet-probes.md.
// Restarts and crash-loop back-off are the scheduler's job: here a restart
// is a Stop and a fresh Start, and the tests pin when the prober publishes
// the failure that causes it and that the worker then holds.

// Timeline 1: liveness http P=1 F=3, app returns 500 from t=5 s: failures
// at 5, 6, 7 s; Failure published at 7 s (the scheduler kills then); no
// probe after that until the container is replaced.
func TestTimeline1LivenessFailsAfterThreeFailures(t *testing.T) {
	failing := func(k Kind, n int, at time.Duration) bool { return at >= 5*time.Second }
	withHarness(t, Specs{Liveness: probe(1, 3, 1)}, statusWhile(500, failing), func(t *testing.T, h *harness) {
		c := h.start()
		h.sleep(20 * time.Second)
		h.wantTransitions(at{7 * time.Second, Liveness, Failure})
		h.wantCalls(Liveness, span(0, 7)...) // holds after 7 s
		msg := "Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500"
		h.wantEvents("5s "+msg, "6s "+msg, "7s "+msg)
		if live, ready, started := c.State(); live != Failure || ready != Success || started != Success {
			t.Errorf("State() = %v, %v, %v; want failure, success, success (no readiness or startup probe)", live, ready, started)
		}
		st := h.m.Stats()
		if got := st[StatKey{Liveness, OutcomeSuccessful}].Count; got != 5 {
			t.Errorf("successful liveness probes counted = %d, want 5", got)
		}
		if got := st[StatKey{Liveness, OutcomeFailed}].Count; got != 3 {
			t.Errorf("failed liveness probes counted = %d, want 3", got)
		}
	})
}

// startupApp is the app of timelines 2 and 3: healthy from healthyAt on.
func startupApp(healthyAt time.Duration) appFunc {
	return func(k Kind, n int, at time.Duration) (outcome, string, error) {
		if at >= healthyAt {
			return httpStatus(200)
		}
		return outFailure, "Get \"http://10.213.0.5:8000/\": dial tcp 10.213.0.5:8000: connect: connection refused", nil
	}
}

func startupSpecs() Specs {
	return Specs{
		Startup:   probe(1, 30, 1),
		Liveness:  probe(10, 3, 1),
		Readiness: probe(10, 3, 1),
	}
}

// Timeline 2: startup http P=1 F=30, app healthy from t=12 s, liveness
// P=10: started at 12 s; readiness runs at once (not at the next 10 s
// tick), so the instance is ready at 12 s; liveness and readiness never
// ran before startup succeeded; startup never runs again; no restart.
func TestTimeline2SlowStartThenReadyAtOnce(t *testing.T) {
	withHarness(t, startupSpecs(), startupApp(12*time.Second), func(t *testing.T, h *harness) {
		h.start()
		h.sleep(45 * time.Second)
		h.wantTransitions(
			at{12 * time.Second, Startup, Success},
			at{12 * time.Second, Readiness, Success},
		)
		h.wantCalls(Startup, span(0, 12)...)
		// Readiness: the immediate run at 12 s, then its ticker (reset by
		// the manual run) every 10 s. Liveness: the ticks at 20, 30, 40 s
		// (the ones at 0 and 10 s were skipped before startup succeeded).
		h.wantCalls(Readiness, secs(12, 22, 32, 42)...)
		h.wantCalls(Liveness, secs(20, 30, 40)...)
	})
}

// Timeline 3: as 2, but healthy only from t=35 s: the 30th startup failure
// at 29 s publishes Failure (the scheduler restarts the container); the
// restarted container gets fresh workers and fails again 29 s later.
func TestTimeline3StartupNeverSucceedsAndRepeats(t *testing.T) {
	withHarness(t, startupSpecs(), startupApp(1000*time.Second), func(t *testing.T, h *harness) {
		c := h.start()
		h.sleep(30 * time.Second)
		h.wantTransitions(at{29 * time.Second, Startup, Failure})
		h.wantCalls(Startup, span(0, 29)...)
		h.wantCalls(Liveness)
		h.wantCalls(Readiness)
		if live, ready, started := c.State(); live != Success || ready != Failure || started != Failure {
			t.Errorf("State() = %v, %v, %v; want success, failure, failure", live, ready, started)
		}

		// The scheduler replaces the container at 30 s.
		c.Stop()
		c2 := h.start()
		if live, ready, started := c2.State(); live != Success || ready != Failure || started != Unknown {
			t.Errorf("restarted State() = %v, %v, %v; want success, failure, unknown", live, ready, started)
		}
		h.sleep(30 * time.Second)
		h.wantTransitions(at{29 * time.Second, Startup, Failure}, at{59 * time.Second, Startup, Failure})
		h.wantCalls(Startup, append(span(0, 29), span(30, 59)...)...)
	})
}

// Timeline 4: readiness P=1 S=2 F=3; healthy, 503 from t=10 to t=20, then
// healthy: ready at 1 s, not ready at 12 s, ready again at 21 s.
func TestTimeline4ReadinessFlapsWithThresholds(t *testing.T) {
	failing := func(k Kind, n int, at time.Duration) bool { return at >= 10*time.Second && at < 20*time.Second }
	withHarness(t, Specs{Readiness: probe(1, 3, 2)}, statusWhile(503, failing), func(t *testing.T, h *harness) {
		h.start()
		h.sleep(30 * time.Second)
		h.wantTransitions(
			at{1 * time.Second, Readiness, Success},
			at{12 * time.Second, Readiness, Failure},
			at{21 * time.Second, Readiness, Success},
		)
		// Becoming not ready at 12 s triggers one immediate extra run, as a
		// kubelet pod sync does.
		want := append(span(0, 12), span(12, 30)...)
		h.wantCalls(Readiness, want...)
	})
}

// Timeline 5: readiness S=2 F=3 P=1 answering OK,OK,BAD,BAD,OK,OK,BAD,BAD,...:
// two failures in a row never reach F=3, so it stays ready.
func TestTimeline5ReadinessIgnoresShortBlips(t *testing.T) {
	failing := func(k Kind, n int, at time.Duration) bool { return n%4 >= 2 }
	withHarness(t, Specs{Readiness: probe(1, 3, 2)}, statusWhile(503, failing), func(t *testing.T, h *harness) {
		h.start()
		h.sleep(60 * time.Second)
		h.wantTransitions(at{1 * time.Second, Readiness, Success})
		if n := len(h.gotCalls(Readiness)); n != 61 {
			t.Errorf("readiness ran %d times in 60 s at P=1, want 61", n)
		}
	})
}

// Timeline 6: exec liveness whose command sleeps 5 s, timeout 1 s: each
// probe fails after 1 s and the command is killed each time (the runtime
// kills it; here the fake ExecFunc records the kill).
func TestTimeline6ExecTimeoutIsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := probe(3, 3, 1)
		h := newHarness(t, Specs{Liveness: p}, nil) // real checkExec
		p.HTTPGet = nil
		var kills []time.Duration
		tg := Target{Instance: "demo-0", Container: "c0", Started: time.Now(),
			Exec: func(ctx context.Context, args []string, timeout time.Duration) (int, []byte, error) {
				if fmt.Sprint(args) != "[sleep 5]" || timeout != time.Second {
					t.Errorf("exec got %q with timeout %v", args, timeout)
				}
				// The command runs 5 s, longer than the timeout: kill at the timeout.
				time.Sleep(min(5*time.Second, timeout))
				kills = append(kills, h.since())
				return -1, nil, fmt.Errorf("exec in c0: %w", ErrExecTimedOut)
			}}
		p.Exec = &service.ExecAction{Command: []string{"sleep", "5"}}
		h.startTarget(tg)
		h.sleep(20 * time.Second)
		h.wantCalls(Liveness, secs(0, 3, 6)...)
		if want := secs(1, 4, 7); fmt.Sprint(kills) != fmt.Sprint(want) {
			t.Errorf("commands killed at %v, want %v", kills, want)
		}
		h.wantTransitions(at{7 * time.Second, Liveness, Failure})
		msg := `Warning Unhealthy Liveness probe failed: command "sleep 5" timed out`
		h.wantEvents("1s "+msg, "4s "+msg, "7s "+msg)
	})
}

// Timeline 7: liveness P=1 F=1 always failing: Failure at the first probe
// of every container, which holds until replaced. The restarts at once,
// then after 10, 20, 40 s (CrashLoopBackOff) are the scheduler's.
func TestTimeline7AlwaysFailingLiveness(t *testing.T) {
	withHarness(t, Specs{Liveness: probe(1, 1, 1)}, func(Kind, int, time.Duration) (outcome, string, error) {
		return httpStatus(500)
	}, func(t *testing.T, h *harness) {
		var want []at
		var wantCalls []time.Duration
		for _, restartAfter := range secs(0, 0, 10, 20) {
			h.sleep(restartAfter)
			c := h.start()
			now := h.since()
			want = append(want, at{now, Liveness, Failure})
			wantCalls = append(wantCalls, now)
			h.sleep(5 * time.Second) // holds: no probes while waiting
			c.Stop()
		}
		h.wantTransitions(want...)
		h.wantCalls(Liveness, wantCalls...)
	})
}
