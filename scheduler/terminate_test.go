package scheduler

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// eventsOf returns the events of reason about instance.
func (h *harness) eventsOf(instance, reason string) []events.Event {
	var out []events.Event
	for _, e := range h.events() {
		if e.Instance == instance && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

// With rpc.enable_sigterm false (the default) a terminating container
// gets no signal during the grace period and SIGKILL exactly at its end,
// after its endpoint was removed.
func TestTerminationWithoutSIGTERM(t *testing.T) {
	grace := 10 * time.Second
	withHarness(t, Options{Service: testService(2), Termination: Termination{Grace: grace}}, func(t *testing.T, h *harness) {
		mark := h.scale(t, 1)
		if h.log.index("ep.remove demo-1", mark) < 0 {
			t.Fatalf("the endpoint was not removed at once; calls %q", h.log.Calls()[mark:])
		}
		time.Sleep(grace - time.Millisecond)
		synctest.Wait()
		for _, c := range h.log.Calls()[mark:] {
			if strings.HasPrefix(c, "kill demo-1") || strings.HasPrefix(c, "stop demo-1") {
				t.Fatalf("%q during the grace period; want no signal until it ends", c)
			}
		}
		if st := h.status("demo-1"); st.State != StateTerminating {
			t.Errorf("during the grace period demo-1 is %s, want Terminating", st.State)
		}
		term := h.eventsOf("demo-1", events.Terminating)
		if len(term) != 1 || !strings.Contains(term[0].Message, "no SIGTERM") || !strings.Contains(term[0].Message, "10s grace") || !strings.Contains(term[0].Message, "scale-in") {
			t.Errorf("Terminating events %+v, want one naming scale-in, the 10s grace and no SIGTERM", term)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		kill := h.log.index("kill demo-1/c0 9", mark)
		if kill < 0 || h.log.index("kill demo-1/c0 15", mark) >= 0 {
			t.Fatalf("at the end of the grace period: calls %q, want SIGKILL and never SIGTERM", h.log.Calls()[mark:])
		}
		if rm := h.log.index("ep.remove demo-1", mark); rm > kill {
			t.Errorf("endpoint removed after the kill")
		}
		killed := h.eventsOf("demo-1", events.Killed)
		if len(killed) != 1 || !strings.Contains(killed[0].Message, "SIGKILL sent 10s after Terminating") {
			t.Errorf("Killed events %+v, want one saying SIGKILL was sent 10s after Terminating", killed)
		}
	})
}

// With rpc.enable_sigterm true, SIGTERM goes at once: a container that
// exits on it is done then; one that ignores it is SIGKILLed when the
// grace period ends.
func TestTerminationWithSIGTERM(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := "honoured"
		if ignore {
			name = "ignored"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				grace := 5 * time.Second
				h := newHarness(t, Options{Service: testService(1), Termination: Termination{Grace: grace, SIGTERM: true}})
				h.rt.ignoreTERM = ignore
				h.start()
				begin := time.Now()
				mark := h.scale(t, 0)
				if h.log.index("kill demo-0/c0 15", mark) < 0 {
					t.Fatalf("no SIGTERM at once; calls %q", h.log.Calls()[mark:])
				}
				if term := h.eventsOf("demo-0", events.Terminating); len(term) != 1 || !strings.Contains(term[0].Message, "SIGTERM now") {
					t.Errorf("Terminating events %+v, want one saying SIGTERM now", term)
				}
				if !ignore {
					if len(h.s.Status()) != 0 || time.Since(begin) != 0 {
						t.Fatalf("after an honoured SIGTERM: %+v at %s, want it gone at once", h.s.Status(), time.Since(begin))
					}
					if ex := h.eventsOf("demo-0", events.Exited); len(ex) != 1 || !strings.Contains(ex[0].Message, "exited with code 0 0s after Terminating") {
						t.Errorf("Exited events %+v", ex)
					}
					if h.log.index("kill demo-0/c0 9", mark) >= 0 {
						t.Error("SIGKILL after the container exited")
					}
					return
				}
				time.Sleep(grace - time.Millisecond)
				synctest.Wait()
				if h.log.index("kill demo-0/c0 9", mark) >= 0 {
					t.Fatal("SIGKILL before the grace period ended")
				}
				time.Sleep(time.Millisecond)
				synctest.Wait()
				if h.log.index("kill demo-0/c0 9", mark) < 0 || len(h.s.Status()) != 0 {
					t.Fatalf("at the end of the grace period: calls %q, status %+v; want SIGKILL and the instance gone", h.log.Calls()[mark:], h.s.Status())
				}
			})
		})
	}
}

// A liveness kill follows the same rule: out of the endpoints at once,
// no signal during the grace period, then SIGKILL and the restart.
func TestLivenessKillUsesTerminationRule(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].LivenessCheck = probe()
	grace := 3 * time.Second
	withHarness(t, Options{Service: svc, Termination: Termination{Grace: grace}}, func(t *testing.T, h *harness) {
		mark := len(h.log.Calls())
		h.probe("demo-0", "c0", service.Liveness, ProbeFailure, "500")
		if h.log.index("ep.remove demo-0", mark) < 0 || h.log.index("kill demo-0/c0 15", mark) >= 0 || h.log.index("kill demo-0/c0 9", mark) >= 0 {
			t.Fatalf("right after the liveness failure: calls %q, want only the endpoint removed", h.log.Calls()[mark:])
		}
		time.Sleep(grace)
		synctest.Wait()
		k, st := h.log.index("kill demo-0/c0 9", mark), h.log.index("start demo-0/c0", mark)
		if k < 0 || st < k {
			t.Fatalf("after the grace period: calls %q, want SIGKILL then a new container", h.log.Calls()[mark:])
		}
		if le := h.status("demo-0").Containers[0].LastExit; le == nil || le.Kind != LivenessFailed || le.Signal != 9 {
			t.Errorf("last exit %+v, want a liveness kill by SIGKILL", le)
		}
	})
}

// A removed instance's container still resolves (its log stays readable
// until down); a name that never existed does not.
func TestRemovedInstanceStillResolves(t *testing.T) {
	withHarness(t, Options{Service: testService(2), Termination: Termination{Grace: time.Second, SIGTERM: true}}, func(t *testing.T, h *harness) {
		if err := h.s.Scale(1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if len(h.s.Status()) != 1 {
			t.Fatalf("status %+v, want demo-1 gone", h.s.Status())
		}
		if c, err := h.s.Container("demo-1", ""); err != nil || c != "c0" {
			t.Errorf("Container(demo-1) = %q, %v; want c0", c, err)
		}
		if _, err := h.s.Container("demo-7", ""); err == nil {
			t.Error("Container(demo-7) resolved an instance that never existed")
		}
	})
}
