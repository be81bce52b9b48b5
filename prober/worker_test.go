package prober

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

func always(code int) appFunc {
	return func(Kind, int, time.Duration) (outcome, string, error) { return httpStatus(code) }
}

// initial_delay_seconds skips the probe while the delay since the
// container's start has not passed; the first real probe is the first
// tick after it (as the kubelet's ticker), not a probe at exactly the delay.
func TestInitialDelaySkipsTicksUntilPassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := probe(2, 3, 1)
		p.InitialDelaySeconds = 5
		h := newHarness(t, Specs{Liveness: p}, always(200))
		h.start()
		h.sleep(9 * time.Second)
		h.wantCalls(Liveness, secs(6, 8)...)
	})
}

// The delay counts from this container's start, not from Start: a
// container that started 3 s before its probes were set up is probed 2 s
// after Start with a 5 s delay.
func TestInitialDelayCountsFromContainerStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := probe(1, 3, 1)
		p.InitialDelaySeconds = 5
		h := newHarness(t, Specs{Readiness: p}, always(200))
		h.startTarget(Target{Instance: "i", Container: "c", Started: time.Now().Add(-3 * time.Second)})
		h.sleep(3 * time.Second)
		h.wantCalls(Readiness, secs(2, 3)...)
		h.wantTransitions(at{2 * time.Second, Readiness, Success})
	})
}

// Without a startup probe a container counts as started at once, and its
// readiness probe runs at once: a healthy container with period 10 s is
// ready at 0 s, not at 10 s.
func TestReadinessRunsAtOnceOnStart(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(10, 3, 1), Liveness: probe(10, 3, 1)}, always(200), func(t *testing.T, h *harness) {
		c := h.start()
		if live, ready, started := c.State(); live != Success || ready != Failure || started != Success {
			t.Errorf("initial State() = %v, %v, %v; want success, failure, success", live, ready, started)
		}
		h.sleep(time.Second)
		h.wantTransitions(at{0, Readiness, Success})
		h.wantCalls(Liveness, 0)
	})
}

// Becoming not ready runs readiness again at once, and the ticker then
// restarts from that manual run (as the kubelet's since 1.29).
func TestReadinessRerunsAtOnceWhenNotReady(t *testing.T) {
	failing := func(k Kind, n int, at time.Duration) bool { return n == 1 }
	withHarness(t, Specs{Readiness: probe(10, 1, 1)}, statusWhile(500, failing), func(t *testing.T, h *harness) {
		h.start()
		h.sleep(25 * time.Second)
		h.wantTransitions(
			at{0, Readiness, Success},
			at{10 * time.Second, Readiness, Failure},
			at{10 * time.Second, Readiness, Success},
		)
		h.wantCalls(Readiness, secs(0, 10, 10, 20)...)
	})
}

// Liveness waits for startup too, and a startup probe with
// success_threshold 2 (allowed by EAS, rejected by Kubernetes) needs two
// successes in a row before the container counts as started.
func TestStartupSuccessThresholdGatesLiveness(t *testing.T) {
	failing := func(k Kind, n int, at time.Duration) bool { return k == Startup && n == 1 }
	withHarness(t, Specs{Startup: probe(1, 10, 2), Liveness: probe(1, 3, 1)}, statusWhile(500, failing), func(t *testing.T, h *harness) {
		c := h.start()
		h.sleep(5 * time.Second)
		h.wantCalls(Startup, secs(0, 1, 2, 3)...)
		h.wantTransitions(at{3 * time.Second, Startup, Success})
		// The liveness tick at 3 s races the startup tick at the same
		// instant (as in the kubelet): it may see "not started" yet.
		if got := h.gotCalls(Liveness); len(got) < 2 || got[0] < 3*time.Second || got[len(got)-1] != 5*time.Second {
			t.Errorf("liveness attempts at %v, want every second from 3 or 4 s to 5 s", got)
		}
		if _, _, started := c.State(); started != Success {
			t.Errorf("started = %v, want success", started)
		}
	})
}

// A success between failures restarts the count: F=3 needs three failures
// in a row.
func TestFailureThresholdNeedsConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pattern := []int{500, 500, 200, 500, 500, 500}
		h := newHarness(t, Specs{Liveness: probe(1, 3, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
			return httpStatus(pattern[min(n, len(pattern)-1)])
		})
		h.start()
		h.sleep(10 * time.Second)
		h.wantTransitions(at{5 * time.Second, Liveness, Failure})
		h.wantCalls(Liveness, span(0, 5)...)
	})
}

// Zero timing fields mean the Kubernetes defaults: period 10 s, failure
// threshold 3.
func TestZeroFieldsUseKubeletDefaults(t *testing.T) {
	withHarness(t, Specs{Liveness: &service.Probe{}}, always(500), func(t *testing.T, h *harness) {
		h.start()
		h.sleep(30 * time.Second)
		h.wantCalls(Liveness, secs(0, 10, 20)...)
		h.wantTransitions(at{20 * time.Second, Liveness, Failure})
	})
}

// A probe that cannot be run is tried 3 times, then discarded with a
// warning event (the kubelet's wording); it counts as neither success nor
// failure, so the published result and the failure streak stay as they were.
func TestProbeErrorsAreRetriedThenDiscarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("cannot start exec: container is stopping")
		// Attempt numbers: 0 fails, 1-3 error (one tick), 4-5 fail.
		h := newHarness(t, Specs{Liveness: probe(1, 3, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
			if n >= 1 && n <= 3 {
				return outUnknown, "", boom
			}
			return httpStatus(500)
		})
		c := h.start()
		h.sleep(1 * time.Second)
		if live, _, _ := c.State(); live != Success {
			t.Errorf("live = %v after a failure and a discarded probe, want success", live)
		}
		h.sleep(5 * time.Second)
		h.wantCalls(Liveness, secs(0, 1, 1, 1, 2, 3)...)
		h.wantTransitions(at{3 * time.Second, Liveness, Failure})
		fail := "Warning Unhealthy Liveness probe failed: HTTP probe failed with statuscode: 500"
		h.wantEvents("0s "+fail,
			"1s Warning Unhealthy Liveness probe errored and resulted in unknown state: cannot start exec: container is stopping",
			"2s "+fail, "3s "+fail)
		if got := h.m.Stats()[StatKey{Liveness, OutcomeUnknown}].Count; got != 1 {
			t.Errorf("unknown outcomes counted = %d, want 1 (three tries make one run)", got)
		}
	})
}

// A probe slower than the period is followed at once by the next one; the
// ticks it missed are dropped, not queued.
func TestSlowProbeDropsTicks(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(1, 3, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
		if n == 0 {
			time.Sleep(2500 * time.Millisecond)
		}
		return httpStatus(200)
	}, func(t *testing.T, h *harness) {
		h.start()
		h.sleep(4 * time.Second)
		h.wantCalls(Readiness, secs(0, 2.5, 3, 4)...)
	})
}

// Stop waits for the workers; a probe in flight is abandoned without an
// event, a transition or a count; Stop may be called again.
func TestStopAbandonsProbeInFlight(t *testing.T) {
	withHarness(t, Specs{Liveness: probe(1, 1, 1)}, func(k Kind, n int, at time.Duration) (outcome, string, error) {
		time.Sleep(500 * time.Millisecond)
		return httpStatus(500)
	}, func(t *testing.T, h *harness) {
		c := h.start()
		h.sleep(100 * time.Millisecond)
		c.Stop()
		c.Stop()
		h.sleep(5 * time.Second)
		h.wantTransitions()
		h.wantEvents()
		if n := len(h.m.Stats()); n != 0 {
			t.Errorf("Stats has %d series after an abandoned probe, want 0", n)
		}
	})
}

// Cancelling the Start context stops the workers too.
func TestStartContextCancelStops(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(1, 3, 1)}, always(200), func(t *testing.T, h *harness) {
		ctx, cancel := context.WithCancel(t.Context())
		c := h.m.Start(ctx, Target{Started: time.Now()}, h.specs)
		h.sleep(2 * time.Second)
		cancel()
		h.sleep(5 * time.Second)
		h.wantCalls(Readiness, secs(0, 1, 2)...)
		c.Stop()
	})
}

// A restarted container gets fresh workers: the streak of the old one does
// not carry over (the kubelet keeps it; see doc.go).
func TestNewStartHasFreshCounters(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(1, 3, 2)}, always(200), func(t *testing.T, h *harness) {
		c := h.start()
		h.sleep(3 * time.Second)
		c.Stop()
		c2 := h.start()
		if _, ready, _ := c2.State(); ready != Failure {
			t.Errorf("ready = %v on a new container, want failure", ready)
		}
		h.sleep(1 * time.Second) // 2 successes needed again: at 3 s and 4 s
		h.wantTransitions(at{1 * time.Second, Readiness, Success}, at{4 * time.Second, Readiness, Success})
	})
}

// A container without probes is live, ready and started for good.
func TestNoProbes(t *testing.T) {
	m := NewManager(Options{})
	c := m.Start(t.Context(), Target{}, Specs{})
	if live, ready, started := c.State(); live != Success || ready != Success || started != Success {
		t.Errorf("State() = %v, %v, %v; want success for all", live, ready, started)
	}
	c.Stop()
}

// A 3xx as the final answer is a success with a ProbeWarning event.
func TestWarningIsSuccessWithEvent(t *testing.T) {
	withHarness(t, Specs{Readiness: probe(1, 3, 1)}, func(Kind, int, time.Duration) (outcome, string, error) {
		return outWarning, "Probe terminated redirects, Response body: moved", nil
	}, func(t *testing.T, h *harness) {
		h.start()
		synctest.Wait()
		h.wantTransitions(at{0, Readiness, Success})
		h.wantEvents("0s Warning ProbeWarning Readiness probe warning: Probe terminated redirects, Response body: moved")
	})
}

// Events carry the container's identity, generation and the probe kind;
// transitions carry the generation, the previous result and the output.
func TestTransitionAndEventFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr []Transition
		var ev []probeEvent
		m := NewManager(Options{Listener: listenerFuncs{
			changed: func(x Transition) { tr = append(tr, x) },
			event:   func(x probeEvent) { ev = append(ev, x) },
		}})
		m.checkFn = func(context.Context, *service.Probe, Target, time.Duration) (outcome, string, error) {
			return httpStatus(500)
		}
		start := time.Now()
		c := m.Start(t.Context(), Target{Instance: "demo-1", Container: "c0", Started: start, Generation: 7},
			Specs{Startup: probe(1, 1, 1)})
		synctest.Wait()
		c.Stop()
		want := Transition{Instance: "demo-1", Container: "c0", Generation: 7, Kind: Startup, Result: Failure, Previous: Unknown,
			Output: "HTTP probe failed with statuscode: 500", Time: start}
		if len(tr) != 1 || tr[0] != want {
			t.Errorf("transitions = %+v, want [%+v]", tr, want)
		}
		wantEv := probeEvent{Kind: Startup, Generation: 7, Event: events.Event{Time: start, Instance: "demo-1", Container: "c0", Type: events.Warning,
			Reason: events.Unhealthy, Message: "Startup probe failed: HTTP probe failed with statuscode: 500"}}
		if len(ev) != 1 || ev[0] != wantEv {
			t.Errorf("events = %+v, want [%+v]", ev, wantEv)
		}
	})
}

type listenerFuncs struct {
	changed func(Transition)
	event   func(probeEvent)
}

func (l listenerFuncs) ProbeChanged(t Transition) { l.changed(t) }
func (l listenerFuncs) ProbeEvent(k Kind, gen int, e events.Event) {
	l.event(probeEvent{k, gen, e})
}

// Durations land in cumulative buckets.
func TestStatsBuckets(t *testing.T) {
	var r statsRecorder
	r.observe(Readiness, OutcomeSuccessful, 3*time.Millisecond)
	r.observe(Readiness, OutcomeSuccessful, 300*time.Millisecond)
	s := r.snapshot()[StatKey{Readiness, OutcomeSuccessful}]
	if s.Count != 2 || s.Sum != 303*time.Millisecond {
		t.Fatalf("count %d sum %v, want 2 and 303ms", s.Count, s.Sum)
	}
	for i, b := range DurationBuckets {
		want := uint64(0)
		if b >= 3*time.Millisecond {
			want++
		}
		if b >= 300*time.Millisecond {
			want++
		}
		if s.Buckets[i] != want {
			t.Errorf("bucket le=%v: %d, want %d", b, s.Buckets[i], want)
		}
	}
}

// With the pod's admission time set, liveness and startup probes tick from
// it, as the kubelet's workers do: a container started 300 ms after its
// pod was admitted gets its first liveness probe 700 ms after its start,
// while readiness still runs at once. A server that needs 500 ms to
// listen is not killed by a liveness failure_threshold of 1; probed at its
// start (no admission time) it is.
func TestLivenessAndStartupTickFromAdmission(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	listening := func(k Kind, n int, at time.Duration) (outcome, string, error) {
		if at < 500*time.Millisecond {
			return outFailure, "connect: connection refused", nil
		}
		return httpStatus(200)
	}
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Specs{Liveness: probe(1, 1, 1), Readiness: probe(1, 3, 1)}, listening)
		h.startTarget(Target{Instance: "i", Container: "c", Started: time.Now(), Admitted: time.Now().Add(-300 * time.Millisecond)})
		h.sleep(3 * time.Second)
		h.wantCalls(Liveness, ms(700, 1700, 2700)...)
		h.wantCalls(Readiness, ms(0, 1000, 2000, 3000)...)
		h.wantTransitions(at{time.Second, Readiness, Success})
	})
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Specs{Startup: probe(1, 3, 1)}, listening)
		h.startTarget(Target{Instance: "i", Container: "c", Started: time.Now(), Admitted: time.Now().Add(-300 * time.Millisecond)})
		h.sleep(2 * time.Second)
		h.wantCalls(Startup, ms(700)...) // not run again once passed
		h.wantTransitions(at{700 * time.Millisecond, Startup, Success})
	})
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Specs{Liveness: probe(1, 1, 1)}, listening)
		h.start() // no admission time: probed at its start
		h.sleep(time.Second)
		h.wantCalls(Liveness, 0)
		h.wantTransitions(at{0, Liveness, Failure})
	})
}
