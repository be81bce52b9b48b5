package scheduler

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

func synctestWait() { synctest.Wait() }

// wantReadyOnProbe reports a readiness success of demo-0/c0 and checks
// that it made the instance ready.
func (h *harness) wantReadyOnProbe(t *testing.T) {
	t.Helper()
	h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
	if !h.status("demo-0").Ready {
		t.Error("readiness success of the new container did not make the instance ready")
	}
}

// A liveness failure takes the instance out of the endpoints, stops the
// container, and starts a new one in the same pod (same IP) with fresh
// probes and restarts = 1.
func TestLivenessFailureRestartsInSamePod(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].HealthCheck = probe()
	svc.Containers[0].LivenessCheck = probe()
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {

		st := h.status("demo-0")
		if st.State != StateRunning || st.Ready {
			t.Fatalf("before readiness: state %s ready %t, want Running and not ready", st.State, st.Ready)
		}
		hs := h.pr.handles("demo-0/c0")
		if len(hs) != 1 || hs[0].target.Host != st.IP || hs[0].target.Readiness == nil || hs[0].target.Liveness == nil {
			t.Fatalf("prober targets = %+v, want one for %s with both probes", hs, st.IP)
		}
		h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
		want := netip.AddrPortFrom(st.IP, 8000)
		if got := h.ep.snapshot()["demo-0"]; got != want {
			t.Fatalf("endpoint = %v, want %v", got, want)
		}

		mark := len(h.log.Calls())
		h.probe("demo-0", "c0", service.Liveness, ProbeFailure, "HTTP probe failed with statuscode: 500")
		time.Sleep(DefaultTerminationGrace) // the kill waits for the grace period
		synctest.Wait()
		rm := h.log.index("ep.remove demo-0", mark)
		stop := h.log.index("stop demo-0/c0", mark)
		start := h.log.index("start demo-0/c0", mark)
		if rm < 0 || stop < 0 || start < 0 || !(rm < stop && stop < start) {
			t.Fatalf("want ep.remove < stop < start after the liveness failure; calls: %q", h.log.Calls()[mark:])
		}
		if n := h.log.count("createpod demo-0"); n != 1 {
			t.Errorf("pods created = %d, want 1 (the pod is kept)", n)
		}
		st2 := h.status("demo-0")
		if st2.IP != st.IP || st2.Restarts != 1 || st2.Containers[0].Restarts != 1 {
			t.Errorf("after restart: ip %s restarts %d/%d, want ip %s and 1 restart", st2.IP, st2.Restarts, st2.Containers[0].Restarts, st.IP)
		}
		if st2.Ready {
			t.Error("a new container must start not ready (readiness failure until probed)")
		}
		if le := st2.Containers[0].LastExit; le == nil || le.Kind != LivenessFailed || le.Reason != "Unhealthy" {
			t.Errorf("last exit = %+v, want a liveness kill", le)
		}
		hs = h.pr.handles("demo-0/c0")
		if len(hs) != 2 || !hs[0].isStopped() || hs[1].isStopped() || hs[1].target.Host != st.IP {
			t.Fatalf("want the old probes stopped and new ones started on the same IP; got %d handles", len(hs))
		}
		if !h.hasEvent(events.Killing, "Container c0 failed liveness probe, will be restarted") {
			t.Errorf("no Killing event; events: %+v", h.events())
		}
		// A stale result of the old container must not affect the new one.
		h.wantReadyOnProbe(t)
	})
}

// A startup failure restarts the container; while not started the
// instance is not ready even without a readiness probe.
func TestStartupFailureRestarts(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].StartupCheck = probe()
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {
		if st := h.status("demo-0"); st.Ready || st.Containers[0].Started {
			t.Fatalf("before startup success: ready %t started %t, want neither", st.Ready, st.Containers[0].Started)
		}
		h.probe("demo-0", "c0", service.Startup, ProbeFailure, "connection refused")
		time.Sleep(DefaultTerminationGrace)
		synctest.Wait()
		st := h.status("demo-0")
		if st.Restarts != 1 || st.Containers[0].LastExit == nil || st.Containers[0].LastExit.Kind != StartupFailed {
			t.Fatalf("after startup failure: %+v, want 1 restart from a startup kill", st)
		}
		if !h.hasEvent(events.Killing, "failed startup probe, will be restarted") {
			t.Error("no Killing event for the startup failure")
		}
		h.probe("demo-0", "c0", service.Startup, ProbeSuccess, "")
		if st := h.status("demo-0"); !st.Ready || !st.Containers[0].Started {
			t.Fatalf("after startup success without readiness probe: ready %t, want ready", st.Ready)
		}
	})
}

// Exits under each restart policy.
func TestExitUnderPolicies(t *testing.T) {
	for _, tc := range []struct {
		policy  RestartPolicy
		code    int
		restart bool
		state   State
	}{
		{RestartAlways, 0, true, StateRunning},
		{RestartAlways, 3, true, StateRunning},
		{RestartOnFailure, 0, false, StateStopped},
		{RestartOnFailure, 3, true, StateRunning},
		{RestartNever, 0, false, StateStopped},
		{RestartNever, 3, false, StateFailed},
	} {
		t.Run(tc.policy.String()+"/"+string(rune('0'+tc.code)), func(t *testing.T) {
			withHarness(t, Options{Service: testService(1), RestartPolicy: tc.policy}, func(t *testing.T, h *harness) {
				if !h.status("demo-0").Ready {
					t.Fatal("a container without probes should be ready once running")
				}
				h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: tc.code})
				synctest.Wait()
				starts := len(h.rt.startTimes("demo-0/c0"))
				if got := starts == 2; got != tc.restart {
					t.Errorf("restarted = %t (starts %d), want %t", got, starts, tc.restart)
				}
				st := h.status("demo-0")
				if st.State != tc.state {
					t.Errorf("state = %s, want %s", st.State, tc.state)
				}
				if le := st.Containers[0].LastExit; le == nil || le.Code != tc.code {
					t.Errorf("last exit = %+v, want code %d", le, tc.code)
				}
				if !tc.restart && st.Ready {
					t.Error("an instance with a stopped container must not be ready")
				}
				if !tc.restart && h.ep.snapshot()["demo-0"].IsValid() {
					t.Error("a stopped instance is still an endpoint")
				}
			})
		})
	}
}

// CrashLoopBackOff: waits 0, 0, 10, 20, 40 s ... between an exit and the
// next start, state CrashLoopBackOff and a BackOff event while waiting;
// a container that ran over 10 minutes starts a fresh streak.
func TestCrashLoopBackOffSequence(t *testing.T) {
	withHarness(t, Options{Service: testService(1)}, func(t *testing.T, h *harness) {
		s := time.Second
		want := []time.Duration{0, 0, 10 * s, 20 * s, 40 * s, 80 * s, 160 * s, 300 * s, 300 * s}
		for i, d := range want {
			h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 1})
			exitAt := time.Now()
			synctest.Wait()
			if d > 0 {
				st := h.status("demo-0")
				if st.State != StateCrashLoopBackOff || st.Containers[0].Reason != "CrashLoopBackOff" {
					t.Fatalf("restart %d: state %s/%s while waiting, want CrashLoopBackOff", i+1, st.State, st.Containers[0].Reason)
				}
				if next := st.Containers[0].NextRestart; !next.Equal(exitAt.Add(d)) {
					t.Errorf("restart %d: NextRestart %v, want %v", i+1, next, exitAt.Add(d))
				}
				time.Sleep(d - time.Millisecond)
				synctest.Wait()
				if n := len(h.rt.startTimes("demo-0/c0")); n != i+1 {
					t.Fatalf("restart %d happened before its %v back-off", i+1, d)
				}
				time.Sleep(time.Millisecond)
				synctest.Wait()
			}
			starts := h.rt.startTimes("demo-0/c0")
			if len(starts) != i+2 {
				t.Fatalf("restart %d: %d starts, want %d", i+1, len(starts), i+2)
			}
			if got := starts[i+1].Sub(exitAt); got != d {
				t.Errorf("restart %d waited %v, want %v", i+1, got, d)
			}
		}
		if !h.hasEvent(events.BackOff, "Back-off 10s restarting failed container c0") {
			t.Errorf("no BackOff event; events: %+v", h.events())
		}
		if st := h.status("demo-0"); st.State != StateRunning || st.Restarts != len(want) {
			t.Errorf("state %s restarts %d, want Running and %d", st.State, st.Restarts, len(want))
		}
		// Runs 10 min + 1 s, then crashes: restarted at once.
		time.Sleep(10*time.Minute + time.Second)
		h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 1})
		exitAt := time.Now()
		synctest.Wait()
		starts := h.rt.startTimes("demo-0/c0")
		if len(starts) != len(want)+2 || !starts[len(starts)-1].Equal(exitAt) {
			t.Fatalf("after a 10 min run the restart was not immediate (starts %d)", len(starts))
		}
	})
}

// Adjusted back-off numbers are used.
func TestBackoffOptions(t *testing.T) {
	withHarness(t, Options{Service: testService(1), BackoffInitial: time.Second, BackoffMax: 2 * time.Second}, func(t *testing.T, h *harness) {
		var got []time.Duration
		for range 5 {
			h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 1})
			exitAt := time.Now()
			synctest.Wait()
			// Under the 4s reset window (2×max), longer than any wait.
			time.Sleep(3 * time.Second)
			synctest.Wait()
			starts := h.rt.startTimes("demo-0/c0")
			got = append(got, starts[len(starts)-1].Sub(exitAt))
		}
		want := []time.Duration{0, 0, time.Second, 2 * time.Second, 2 * time.Second}
		if !slices.Equal(got, want) {
			t.Errorf("waits %v, want %v", got, want)
		}
	})
}

// OOM is reported as the reason of the last exit.
func TestOOMReported(t *testing.T) {
	withHarness(t, Options{Service: testService(1), RestartPolicy: RestartNever}, func(t *testing.T, h *harness) {
		h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true})
		synctest.Wait()
		st := h.status("demo-0")
		c := st.Containers[0]
		if c.State != ContainerTerminated || c.Reason != "OOMKilled" || c.LastExit == nil || !c.LastExit.OOMKilled {
			t.Errorf("container %+v, want Terminated/OOMKilled", c)
		}
		if !h.hasEvent(events.Exited, "OOMKilled") {
			t.Error("no event mentions OOMKilled")
		}
	})
}

// An instance is ready only when every container is running, started and
// readiness-success; the endpoint is containers[0].port.
func TestReadyOnlyWhenAllContainersReady(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].HealthCheck = probe()
	svc.Containers = append(svc.Containers, svc.Containers[0])
	svc.Containers[1].Port = 9000
	svc.Containers[1].HealthCheck = nil
	svc.Containers[1].StartupCheck = probe()
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {
		ready := func() bool { return h.status("demo-0").Ready }

		h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
		if ready() {
			t.Fatal("ready while c1 has not passed its startup probe")
		}
		h.probe("demo-0", "c1", service.Startup, ProbeSuccess, "")
		if !ready() {
			t.Fatal("not ready with c0 ready and c1 started (no readiness probe)")
		}
		ip := h.status("demo-0").IP
		if got := h.ep.snapshot()["demo-0"]; got != netip.AddrPortFrom(ip, 8000) {
			t.Errorf("endpoint %v, want containers[0]'s port 8000", got)
		}
		h.probe("demo-0", "c0", service.Readiness, ProbeFailure, "HTTP 503")
		if ready() || h.ep.snapshot()["demo-0"].IsValid() {
			t.Fatal("still ready/endpoint after c0's readiness failure")
		}
		h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
		// c1 exits: not ready until it is back and started again.
		h.rt.exit(t, "demo-0", "c1", runtime.ExitStatus{Code: 1})
		synctest.Wait()
		if ready() {
			t.Fatal("ready although c1's new container has not started")
		}
		if c0 := h.status("demo-0").Containers[0]; c0.Restarts != 0 || !c0.Ready {
			t.Errorf("c0 was touched by c1's restart: %+v", c0)
		}
		h.probe("demo-0", "c1", service.Startup, ProbeSuccess, "")
		if !ready() {
			t.Fatal("not ready after c1 restarted and started")
		}
	})
}

func TestScaleUpAndDown(t *testing.T) {
	withHarness(t, Options{Service: testService(3), Instances: 2}, func(t *testing.T, h *harness) {
		names := func() []string {
			var out []string
			for _, st := range h.s.Status() {
				out = append(out, st.Name)
			}
			return out
		}
		if got := names(); !slices.Equal(got, []string{"demo-0", "demo-1"}) {
			t.Fatalf("Options.Instances: instances %v, want demo-0 demo-1", got)
		}
		h.scale(t, 4)
		if got := names(); !slices.Equal(got, []string{"demo-0", "demo-1", "demo-2", "demo-3"}) {
			t.Fatalf("after Scale(4): %v", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := h.s.WaitReady(ctx); err != nil {
			t.Fatalf("WaitReady after scale-up: %v", err)
		}
		cancel()
		if err := h.s.Scale(1); err != nil {
			t.Fatal(err)
		}
		time.Sleep(DefaultTerminationGrace)
		synctest.Wait()
		if got := names(); !slices.Equal(got, []string{"demo-0"}) {
			t.Fatalf("after Scale(1): %v", got)
		}
		for _, n := range []string{"demo-1", "demo-2", "demo-3"} {
			rm, stop := h.log.index("ep.remove "+n, 0), h.log.index("stop "+n+"/c0", 0)
			if rm < 0 || stop < 0 || rm > stop || h.log.count("removepod "+n) != 1 {
				t.Errorf("%s: endpoint removal %d, stop %d, removepod %d", n, rm, stop, h.log.count("removepod "+n))
			}
		}
		if _, ok := h.ep.snapshot()["demo-0"]; !ok {
			t.Error("demo-0 left the endpoints on scale-down")
		}
		if err := h.s.Scale(-1); err == nil {
			t.Error("Scale(-1) accepted")
		}
	})
}

// Kill is a crash: the exit goes through the restart policy.
func TestKillRestarts(t *testing.T) {
	withHarness(t, Options{Service: testService(1)}, func(t *testing.T, h *harness) {
		ip := h.status("demo-0").IP
		if err := h.s.Kill("demo-0", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st := h.status("demo-0")
		c := st.Containers[0]
		if c.Restarts != 1 || c.LastExit == nil || c.LastExit.Signal != int(syscall.SIGKILL) || st.IP != ip {
			t.Errorf("after kill: %+v (ip %s), want 1 restart after SIGKILL, same IP", c, st.IP)
		}
		if err := h.s.Kill("demo-9", syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), "demo-9") {
			t.Errorf("Kill of an unknown instance: %v", err)
		}
	})
}

func TestPauseUnpause(t *testing.T) {
	withHarness(t, Options{Service: testService(1)}, func(t *testing.T, h *harness) {
		if err := h.s.Pause("demo-0"); err != nil {
			t.Fatal(err)
		}
		if !h.status("demo-0").Paused || h.log.count("pause demo-0/c0") != 1 {
			t.Fatal("Pause did not freeze the container")
		}
		if err := h.s.Unpause("demo-0"); err != nil {
			t.Fatal(err)
		}
		if h.status("demo-0").Paused || h.log.count("resume demo-0/c0") != 1 {
			t.Fatal("Unpause did not thaw the container")
		}
		// Killing a frozen instance thaws it first so the signal lands;
		// the replacement container is not frozen.
		if err := h.s.Pause("demo-0"); err != nil {
			t.Fatal(err)
		}
		mark := len(h.log.Calls())
		if err := h.s.Kill("demo-0", syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r, k := h.log.index("resume demo-0/c0", mark), h.log.index("kill demo-0/c0 15", mark); r < 0 || k < r {
			t.Errorf("want resume before kill; calls %q", h.log.Calls()[mark:])
		}
		if st := h.status("demo-0"); st.Paused || st.Restarts != 1 || !st.Ready {
			t.Errorf("after kill of a paused instance: %+v, want a fresh unpaused ready container", st)
		}
	})
}

// Teardown after ctx cancel removes endpoints first, stops containers,
// removes pods, even when Stop fails.
func TestTeardownRemovesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(3)
		svc.Containers = append(svc.Containers, svc.Containers[0])
		h := newHarness(t, Options{Service: svc})
		h.start()
		if len(h.ep.snapshot()) != 3 {
			t.Fatalf("endpoints %v, want 3", h.ep.snapshot())
		}
		h.rt.setErr(&h.rt.stopErr, errBoom)
		if err := h.stop(); err != nil {
			t.Fatalf("Run: %v (a Stop error is cleaned up by RemovePod)", err)
		}
		if left := h.rt.leftovers(); len(left) != 0 {
			t.Errorf("left behind: %v", left)
		}
		if len(h.ep.snapshot()) != 0 {
			t.Errorf("endpoints left: %v", h.ep.snapshot())
		}
		for _, n := range []string{"demo-0", "demo-1", "demo-2"} {
			rm, stop := h.log.index("ep.remove "+n, 0), h.log.index("stop "+n+"/c0", 0)
			if rm < 0 || stop < 0 || rm > stop {
				t.Errorf("%s: endpoint removed at %d, stop at %d", n, rm, stop)
			}
		}
		if !h.hasEvent(events.Failed, "boom") {
			t.Error("the Stop error was not reported as an event")
		}
		if len(h.s.Status()) != 0 {
			t.Errorf("instances left in Status: %+v", h.s.Status())
		}
	})
}

func TestTeardownReportsRemovePodError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, Options{Service: testService(1)})
		h.start()
		h.rt.setErr(&h.rt.removePodErr, errBoom)
		if err := h.stop(); !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "demo-0") {
			t.Errorf("Run = %v, want the RemovePod error naming demo-0", err)
		}
	})
}

// WaitReady reports which instance is stuck and why.
func TestWaitReadyReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(2)
		svc.Containers[0].HealthCheck = probe()
		h := newHarness(t, Options{Service: svc})
		h.start()
		h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
		h.probe("demo-1", "c0", service.Readiness, ProbeFailure, "HTTP probe failed with statuscode: 503")
		h.rt.exit(t, "demo-1", "c0", runtime.ExitStatus{Code: 2})
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := h.s.WaitReady(ctx)
		var nr *NotReadyError
		if !errors.As(err, &nr) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("WaitReady = %v, want a NotReadyError after the deadline", err)
		}
		if time.Since(start) != 5*time.Second {
			t.Errorf("returned after %v, want at the 5s deadline", time.Since(start))
		}
		msg := err.Error()
		for _, want := range []string{"1 of 2 instances are not ready", "demo-1", "exited with code 2"} {
			if !strings.Contains(msg, want) {
				t.Errorf("report lacks %q:\n%s", want, msg)
			}
		}
		if strings.Contains(msg, "instance demo-0") {
			t.Errorf("report names the ready demo-0:\n%s", msg)
		}
		// The readiness output is from the previous container; the new
		// one has fresh probes. Fail it and the output is in the report.
		h.probe("demo-1", "c0", service.Readiness, ProbeFailure, "HTTP probe failed with statuscode: 503")
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		if err := h.s.WaitReady(ctx2); err == nil || !strings.Contains(err.Error(), "statuscode: 503") {
			t.Errorf("report lacks the last probe output: %v", err)
		}
		// Once demo-1 is ready, WaitReady returns nil at once.
		h.probe("demo-1", "c0", service.Readiness, ProbeSuccess, "")
		if err := h.s.WaitReady(context.Background()); err != nil {
			t.Errorf("WaitReady with all ready = %v", err)
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
		if err := h.s.WaitReady(context.Background()); err == nil {
			t.Error("WaitReady after Run ended returned nil")
		}
	})
}

// Container config: args from command/script, the EAS env, resources
// and mounts (bound and unbound).
func TestContainerConfig(t *testing.T) {
	svc := testService(1)
	svc.Metadata.CPU, svc.Metadata.Memory = 2, 512
	svc.Containers[0].Command = `/app --msg "hello world"`
	svc.Containers[0].Env = []service.EnvVar{{Name: "A", Value: "1"}}
	svc.Storage = []service.Storage{{MountPath: "/models", ReadOnly: true}, {MountPath: "/data"}}
	bound := t.TempDir()
	withHarness(t, Options{Service: svc, Mounts: map[string]string{"/models": bound, "/extra": bound}}, func(t *testing.T, h *harness) {
		h.rt.mu.Lock()
		cfg := h.rt.configs["demo-0/c0"]
		h.rt.mu.Unlock()
		if !slices.Equal(cfg.Args, []string{"/app", "--msg", "hello world"}) {
			t.Errorf("args %q", cfg.Args)
		}
		for _, e := range []string{"A=1", "LISTENING_PORT=8000", "POD_NAME=demo-0", "NAMESPACE=demo"} {
			if !slices.Contains(cfg.Env, e) {
				t.Errorf("env %q lacks %s", cfg.Env, e)
			}
		}
		if cfg.CPU != 2 || cfg.Memory != 512 || cfg.Image != "example:latest" || cfg.Name != "c0" {
			t.Errorf("config %+v", cfg)
		}
		mounts := map[string]runtime.Mount{}
		for _, m := range cfg.Mounts {
			mounts[m.ContainerPath] = m
		}
		if m := mounts["/models"]; m.HostPath != bound || !m.ReadOnly {
			t.Errorf("/models mount %+v", m)
		}
		if m := mounts["/extra"]; m.HostPath != bound {
			t.Errorf("/extra mount %+v", m)
		}
		if m := mounts["/data"]; m.HostPath == "" || m.HostPath == bound {
			t.Errorf("/data (unbound) mount %+v, want an empty dir", m)
		}
		if !h.hasEvent(events.MountUnbound, "--mount /data=HOST_DIR") {
			t.Errorf("no warning naming --mount for /data: %+v", h.events())
		}
	})
}

func TestScriptArgs(t *testing.T) {
	args, err := commandArgs(&service.Container{Script: "echo hi && sleep 1"})
	if err != nil || !slices.Equal(args, []string{"/bin/sh", "-c", "echo hi && sleep 1"}) {
		t.Errorf("script args %q, %v", args, err)
	}
	if args, err := commandArgs(&service.Container{}); err != nil || args != nil {
		t.Errorf("no command: %q, %v; want nil (image entrypoint)", args, err)
	}
	if _, err := commandArgs(&service.Container{Command: `/app "unterminated`}); err == nil {
		t.Error("an unterminated quote was accepted")
	}
}

// Pod creation failures are retried with back-off and shown as Failed.
func TestCreatePodRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWith(t, Options{Service: testService(1)}, func(rt *fakeRuntime) { rt.createPodErr = errBoom })
		st := h.status("demo-0")
		if st.State != StateFailed || !strings.Contains(st.Message, "boom") {
			t.Fatalf("state %s message %q, want Failed with the error", st.State, st.Message)
		}
		h.rt.setErr(&h.rt.createPodErr, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := h.status("demo-0"); st.State != StateRunning || !st.Ready {
			t.Fatalf("after the error cleared: %s ready %t", st.State, st.Ready)
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// Start errors are handled like exits (back-off), Never keeps it stopped.
func TestStartErrorBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWith(t, Options{Service: testService(1)}, func(rt *fakeRuntime) { rt.startErr = errBoom })
		st := h.status("demo-0")
		if st.State != StateCrashLoopBackOff || st.Containers[0].LastExit == nil || st.Containers[0].LastExit.Reason != "StartError" {
			t.Fatalf("after 3 failed starts: %+v, want CrashLoopBackOff after StartError", st)
		}
		if n := h.log.count("start-failed demo-0/c0"); n != 3 {
			t.Errorf("start attempts = %d, want 3 (two immediate retries)", n)
		}
		h.rt.setErr(&h.rt.startErr, nil)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if st := h.status("demo-0"); !st.Ready {
			t.Fatalf("not ready after the back-off once starts work: %+v", st)
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// The real prober, through the adapters, drives the scheduler: an exec
// liveness probe (P=1 F=1) that starts failing at t=5s makes the
// container restart in the same pod, and the prober's own Unhealthy
// events reach the event stream.
func TestWithRealProber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(1)
		exec := &service.Probe{Exec: &service.ExecAction{Command: []string{"check"}}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		svc.Containers[0].LivenessCheck = exec
		h := newHarness(t, Options{Service: svc})
		failFrom := time.Now().Add(5 * time.Second)
		h.rt.execFn = func(c *runtime.Container, args []string) (runtime.ExecResult, error) {
			if time.Now().Before(failFrom) {
				return runtime.ExecResult{ExitCode: 0, Output: []byte("ok")}, nil
			}
			return runtime.ExecResult{ExitCode: 1, Output: []byte("sick")}, nil
		}
		l := &ProbeListener{}
		pm := prober.NewManager(prober.Options{Listener: l})
		h.s = New(h.rt, ProberManager{M: pm}, h.ep, Options{Service: svc, StateDir: t.TempDir(), Events: h.ev, Termination: Termination{Grace: time.Second}})
		l.Bind(h.s)
		h.start()
		ip := h.status("demo-0").IP
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if st := h.status("demo-0"); st.Restarts != 0 || !st.Ready {
			t.Fatalf("at 4s: restarts %d ready %t, want 0 and ready", st.Restarts, st.Ready)
		}
		time.Sleep(3 * time.Second) // 5s: fails; 6s: killed after its 1s grace
		synctest.Wait()
		st := h.status("demo-0")
		if st.Restarts < 1 || st.IP != ip {
			t.Fatalf("at 7s: restarts %d ip %s, want a restart in the same pod %s", st.Restarts, st.IP, ip)
		}
		if !h.hasEvent(events.Unhealthy, "Liveness probe failed") {
			t.Errorf("the prober's Unhealthy event is not in the stream: %+v", h.events())
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// Without a Prober no probe runs, so configured probes cannot hold an
// instance back: ready once running.
func TestNoProberMeansReadyWhenRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := testService(1)
		svc.Containers[0].HealthCheck = probe()
		svc.Containers[0].StartupCheck = probe()
		h := newHarness(t, Options{Service: svc})
		h.s = New(h.rt, nil, h.ep, Options{Service: svc, StateDir: t.TempDir()})
		h.start()
		if st := h.status("demo-0"); !st.Ready || !st.Containers[0].Started {
			t.Fatalf("without a prober: %+v, want ready and started", st)
		}
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// A container that never becomes ready publishes no transition (readiness
// starts as failure), yet the report must say why: the output of every
// failed run is kept, and the kubelet's initial results are shown.
func TestNeverReadyReportsProbeOutput(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].HealthCheck = probe()
	svc.Containers[0].LivenessCheck = probe()
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {
		synctest.Wait()
		st := h.s.Status()[0].Containers[0]
		if got := st.Probes[service.Readiness].Result; got != ProbeFailure {
			t.Errorf("initial readiness = %v, want failure (not ready)", got)
		}
		if got := st.Probes[service.Liveness].Result; got != ProbeSuccess {
			t.Errorf("initial liveness = %v, want success", got)
		}
		h.s.ProbeOutput("demo-0", "c0", h.gen("demo-0", "c0"), service.Readiness, "Readiness probe failed: connection refused")
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := h.s.WaitReady(ctx)
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("report lacks the failed run's output: %v", err)
		}
		if got := h.s.Status()[0].Containers[0].Probes[service.Readiness].Result; got != ProbeFailure {
			t.Errorf("readiness after an output-only update = %v, want failure unchanged", got)
		}
	})
}

// A probe result or output that arrives for a container the slot has
// since replaced (an older generation) does not act on the new one: a
// stale liveness failure kills nothing, a stale readiness success makes
// nothing ready, a stale output is not shown.
func TestStaleGenerationProbeResultsAreDropped(t *testing.T) {
	svc := testService(1)
	svc.Containers[0].HealthCheck = probe()
	svc.Containers[0].LivenessCheck = probe()
	withHarness(t, Options{Service: svc}, func(t *testing.T, h *harness) {
		old := h.gen("demo-0", "c0")
		h.probe("demo-0", "c0", service.Readiness, ProbeSuccess, "")
		if !h.status("demo-0").Ready {
			t.Fatal("not ready after readiness success")
		}

		h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 1})
		synctestWait()
		if cur := h.gen("demo-0", "c0"); cur == old {
			t.Fatalf("no new container after the exit (generation still %d)", cur)
		}
		st := h.status("demo-0")
		if st.Restarts != 1 || st.Ready || st.Containers[0].State != ContainerRunning {
			t.Fatalf("after the exit: restarts %d ready %t state %s, want 1, not ready, Running", st.Restarts, st.Ready, st.Containers[0].State)
		}

		h.s.ProbeChanged("demo-0", "c0", old, service.Liveness, ProbeFailure, "stale failure")
		h.s.ProbeChanged("demo-0", "c0", old, service.Readiness, ProbeSuccess, "stale success")
		h.s.ProbeOutput("demo-0", "c0", old, service.Readiness, "stale output")
		synctestWait()
		st = h.status("demo-0")
		if st.Restarts != 1 || st.Ready || st.Containers[0].State != ContainerRunning {
			t.Errorf("a stale result acted on the new container: restarts %d ready %t state %s", st.Restarts, st.Ready, st.Containers[0].State)
		}
		for k, p := range st.Containers[0].Probes {
			if strings.HasPrefix(p.Output, "stale") {
				t.Errorf("%s probe shows the old container's output %q", k, p.Output)
			}
		}
		if h.hasEvent(events.Killing, "") {
			t.Errorf("a stale liveness failure killed the new container: %+v", h.events())
		}

		h.wantReadyOnProbe(t)
	})
}

// Errors carry their errdefs class and a sentence: an unknown instance or
// container is NotFound naming the ones there are, a negative scale is
// InvalidArgument, a kill with nothing running is FailedPrecondition.
func TestErrorClasses(t *testing.T) {
	svc := testService(2)
	svc.Containers[0].Command = "/app"
	withHarness(t, Options{Service: svc, RestartPolicy: RestartNever}, func(t *testing.T, h *harness) {
		err := h.s.Kill("demo-7", syscall.SIGKILL)
		if !errdefs.IsNotFound(err) || err.Error() != `service demo has no instance "demo-7"; its instances are demo-0, demo-1` {
			t.Errorf("Kill(demo-7) = %v, want NotFound naming demo-0, demo-1", err)
		}
		for _, err := range []error{h.s.Pause("x"), h.s.Unpause("x")} {
			if !errdefs.IsNotFound(err) {
				t.Errorf("Pause/Unpause of an unknown instance: %v, want NotFound", err)
			}
		}
		if c, err := h.s.Container("demo-0", ""); err != nil || c != "c0" {
			t.Errorf(`Container(demo-0, "") = %q, %v; want c0`, c, err)
		}
		if _, err := h.s.Container("demo-0", "web"); !errdefs.IsNotFound(err) || err.Error() != `instance demo-0 has no container "web" (it has: c0)` {
			t.Errorf("Container(demo-0, web) = %v", err)
		}
		if err := h.s.Scale(-1); !errdefs.IsInvalidArgument(err) || err.Error() != "cannot scale to -1 instances; give 0 or more" {
			t.Errorf("Scale(-1) = %v, want InvalidArgument", err)
		}
		h.rt.exit(t, "demo-0", "c0", runtime.ExitStatus{Code: 0}) // stays stopped: policy never
		synctest.Wait()
		if err := h.s.Kill("demo-0", syscall.SIGTERM); !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "no running container") {
			t.Errorf("Kill of a stopped instance = %v, want FailedPrecondition", err)
		}
	})
}

// TestLogDropIsAnEvent pins that lost container output, which the runtime
// reports through OnLogDrop, reaches the user as a LogDropped warning
// naming the instance and container.
func TestLogDropIsAnEvent(t *testing.T) {
	withHarness(t, Options{Service: testService(1)}, func(t *testing.T, h *harness) {
		synctest.Wait()
		h.rt.mu.Lock()
		cfg := h.rt.configs["demo-0/c0"]
		h.rt.mu.Unlock()
		if cfg.OnLogDrop == nil {
			t.Fatal("containers start without OnLogDrop: lost output would go unreported")
		}
		cfg.OnLogDrop(runtime.LogDrop{Path: "/x/c0.log", Bytes: 10, Err: errors.New("no space left on device")})
		evs, _ := h.ev.Events(0)
		var got *events.Event
		for i := range evs {
			if evs[i].Reason == events.LogDropped {
				got = &evs[i]
			}
		}
		if got == nil || got.Type != events.Warning || got.Instance != "demo-0" || got.Container != "c0" ||
			!strings.Contains(got.Message, "/x/c0.log") || !strings.Contains(got.Message, "no space left") {
			t.Errorf("LogDropped event = %+v, want a warning for demo-0/c0 naming the file and the error", got)
		}
	})
}
