package scheduler

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

func readinessService(n int, image string) *service.Service {
	svc := testService(n)
	svc.Containers[0].Image = image
	svc.Containers[0].HealthCheck = probe()
	return svc
}

// makeReady passes the readiness probe of every instance of revision rev
// that is running and not ready yet.
func (h *harness) makeReady(rev int) {
	for _, st := range h.s.Status() {
		if st.Revision == rev && !st.Ready && st.State == StateRunning {
			h.probe(st.Name, "c0", service.Readiness, ProbeSuccess, "")
		}
	}
}

// bounds checks the rolling update's limits on the scheduler's and the
// endpoints' view.
func (h *harness) bounds(desired int, l RollLimits) {
	h.t.Helper()
	live, ready := 0, 0
	for _, st := range h.s.Status() {
		if st.State == StateTerminating {
			continue
		}
		live++
		if st.Ready {
			ready++
		}
	}
	if live > desired+l.MaxSurge {
		h.t.Fatalf("%d instances, more than %d+%d: %+v", live, desired, l.MaxSurge, h.s.Status())
	}
	if ready < desired-l.MaxUnavailable || len(h.ep.snapshot()) < desired-l.MaxUnavailable {
		h.t.Fatalf("%d ready, %d endpoints: fewer than %d-%d", ready, len(h.ep.snapshot()), desired, l.MaxUnavailable)
	}
}

// settle lets every termination finish.
func (h *harness) settle() {
	time.Sleep(DefaultTerminationGrace + killWait)
	synctest.Wait()
}

// A rolling update replaces every instance one by one: a new one is
// started, becomes ready, then an old one is terminated; the bounds hold
// at every step and the update completes with every instance new.
func TestRollingUpdate(t *testing.T) {
	for _, tc := range []struct {
		surge, unavail string
		l              RollLimits
	}{
		{"", "", RollLimits{MaxSurge: 1}},
		{"2", "1", RollLimits{MaxSurge: 2, MaxUnavailable: 1}},
		{"0", "1", RollLimits{MaxUnavailable: 1}},
	} {
		t.Run(tc.surge+"/"+tc.unavail, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, Options{Service: readinessService(3, "example:v1")})
				h.start()
				h.makeReady(1)
				h.bounds(3, RollLimits{})
				rev, err := h.s.Update(context.Background(), UpdateSpec{Service: readinessService(3, "example:v2"), MaxSurge: tc.surge, MaxUnavailable: tc.unavail})
				if err != nil || rev != 2 {
					t.Fatalf("Update = %d, %v", rev, err)
				}
				begin := time.Now()
				for i := 0; ; i++ {
					synctest.Wait()
					h.bounds(3, tc.l)
					if u, _ := h.s.UpdateStatus(); u.Phase == UpdateComplete {
						break
					} else if u.Phase != UpdateProgressing || i > 50 {
						t.Fatalf("update %+v after %d steps", u, i)
					}
					h.makeReady(2)
					h.bounds(3, tc.l)
					time.Sleep(time.Second)
				}
				took := time.Since(begin)
				h.settle()
				st := h.s.Status()
				if len(st) != 3 {
					t.Fatalf("after the update: %+v, want 3 instances", st)
				}
				for _, in := range st {
					if in.Revision != 2 || !in.Ready || in.Containers[0].Image != "example:v2" {
						t.Errorf("after the update: %s revision %d ready %t image %s", in.Name, in.Revision, in.Ready, in.Containers[0].Image)
					}
				}
				t.Logf("update took %s (fake clock)", took)
				// Old instances were terminated by the rule: no SIGTERM,
				// SIGKILL at the end of the grace period.
				if h.log.index("kill demo-0/c0 15", 0) >= 0 || h.log.index("kill demo-0/c0 9", 0) < 0 {
					t.Error("an old instance was not terminated by the rule (no SIGTERM, then SIGKILL)")
				}
				if len(h.eventsOf("", events.RollingUpdate)) < 2 || len(h.eventsOf("", events.UpdateComplete)) != 1 {
					t.Errorf("events %+v, want RollingUpdate steps and one UpdateComplete", h.events())
				}
				h.stopClean(t)
			})
		})
	}
}

// A new instance that is not ready within the timeout pauses the update:
// the old instances keep serving, the new one gets no traffic even if it
// becomes ready later, and the next update removes it first.
func TestUpdatePausesAndNextUpdateRemovesFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: readinessService(2, "example:v1")})
		h.start()
		h.makeReady(1)
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: readinessService(2, "example:broken"), Timeout: time.Minute}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute)
		synctest.Wait()
		u, _ := h.s.UpdateStatus()
		if u.Phase != UpdatePaused || !strings.Contains(u.Message, "demo-2") || !strings.Contains(u.Message, "not ready within 1m0s") ||
			!strings.Contains(u.Message, "readiness probe") {
			t.Fatalf("update %+v, want paused naming demo-2, the timeout and its readiness probe", u)
		}
		if ev := h.eventsOf("demo-2", events.UpdatePaused); len(ev) != 1 {
			t.Errorf("UpdatePaused events %+v", ev)
		}
		eps := h.ep.snapshot()
		if len(eps) != 2 || eps["demo-0"] == (eps["demo-2"]) {
			t.Fatalf("endpoints %v, want the two old instances", eps)
		}
		h.probe("demo-2", "c0", service.Readiness, ProbeSuccess, "")
		time.Sleep(time.Hour)
		synctest.Wait()
		if _, ok := h.ep.snapshot()["demo-2"]; ok {
			t.Fatal("the failed new instance of a paused update got traffic")
		}
		if n := len(h.s.Status()); n != 3 {
			t.Fatalf("paused: %d instances, want 2 old and the failed new one", n)
		}
		if _, err := h.s.Restart(context.Background(), 0); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "paused") {
			t.Errorf("Restart while the update is paused: %v", err)
		}
		// The fixed update removes demo-2 first and completes.
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: readinessService(2, "example:v3")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		term := h.eventsOf("demo-2", events.Terminating)
		if len(term) != 1 || !strings.Contains(term[0].Message, "unfinished update to revision 2") {
			t.Errorf("Terminating events of demo-2: %+v", term)
		}
		for i := 0; i < 50; i++ {
			synctest.Wait()
			if u, _ := h.s.UpdateStatus(); u.Phase == UpdateComplete {
				break
			}
			h.makeReady(3)
			time.Sleep(time.Second)
		}
		if u, _ := h.s.UpdateStatus(); u.Phase != UpdateComplete || u.Revision != 3 {
			t.Fatalf("second update %+v", u)
		}
		h.settle()
		for _, in := range h.s.Status() {
			if in.Revision != 3 {
				t.Errorf("%s is at revision %d", in.Name, in.Revision)
			}
		}
	})
}

// A new instance whose liveness fails pauses the update at once.
func TestUpdatePausesOnLivenessFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: readinessService(1, "example:v1")})
		h.start()
		h.makeReady(1)
		svc := readinessService(1, "example:v2")
		svc.Containers[0].LivenessCheck = probe()
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: svc}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		h.probe("demo-1", "c0", service.Liveness, ProbeFailure, "HTTP probe failed with statuscode: 500")
		u, _ := h.s.UpdateStatus()
		if u.Phase != UpdatePaused || !strings.Contains(u.Message, "failed a probe") || !strings.Contains(u.Message, "statuscode: 500") {
			t.Fatalf("update %+v, want paused by the probe failure with its output", u)
		}
		if !h.status("demo-0").Ready {
			t.Error("the old instance stopped serving")
		}
	})
}

// Restart rolls every instance to a new revision of the same spec.
func TestRestartRolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: readinessService(2, "example:v1"), Termination: Termination{Grace: time.Second, SIGTERM: true}})
		h.start()
		h.makeReady(1)
		rev, err := h.s.Restart(context.Background(), 0)
		if err != nil || rev != 2 {
			t.Fatalf("Restart = %d, %v", rev, err)
		}
		for i := 0; i < 50; i++ {
			synctest.Wait()
			h.bounds(2, RollLimits{MaxSurge: 1})
			if u, _ := h.s.UpdateStatus(); u.Phase == UpdateComplete {
				break
			}
			h.makeReady(2)
			time.Sleep(time.Second)
		}
		h.settle()
		for _, in := range h.s.Status() {
			if in.Revision != 2 || in.Containers[0].Image != "example:v1" {
				t.Errorf("%s: revision %d image %s, want revision 2 of the same image", in.Name, in.Revision, in.Containers[0].Image)
			}
		}
		if h.log.count("kill demo-0/c0 15") != 1 {
			t.Error("the old instance was not terminated with SIGTERM (its revision's rule)")
		}
	})
}

// Bad updates are refused with a sentence and change nothing.
func TestUpdateRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: testService(1)})
		h.start()
		other := testService(1)
		other.Metadata.Name = "other"
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: other}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `"other"`) {
			t.Errorf("another service's file: %v", err)
		}
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: testService(1), MaxSurge: "lots"}); !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "max_surge") {
			t.Errorf("a bad max_surge: %v", err)
		}
		if _, ok := h.s.UpdateStatus(); ok {
			t.Error("a refused update left an update status")
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := h.s.Update(context.Background(), UpdateSpec{Service: testService(1)}); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("update after Run ended: %v", err)
		}
	})
}
