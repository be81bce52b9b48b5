package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
)

// A liveness failure under load: the instance leaves the rotation before
// its container is stopped, the container is restarted in the same pod
// (same IP, restarts=1) and comes back; no request fails.
func TestE2ELivenessRestart(t *testing.T) {
	s := upSvc(t, "e2e_live", "three", "--instances", "2")
	victim := s.name + "-0"
	before := s.instance(victim)

	l := s.load(2, 20)
	t0 := time.Now()
	post(t, "http://"+before.IP+":8000/control/live?ok=false")
	after := s.waitRestarted(victim, victim+" restarted and ready again")
	if after.IP != before.IP {
		t.Errorf("the restarted container has IP %s, want the instance's %s", after.IP, before.IP)
	}
	if after.Restarts != 1 || len(after.Containers) != 1 || after.Containers[0].Restarts != 1 {
		t.Errorf("after one liveness failure: want restarts=1 (instance and container), got %+v", after)
	}
	evs := s.events()
	killing, ok := firstEvent(evs, victim, "Killing", t0)
	if !ok || !strings.Contains(killing.Message, "liveness") {
		t.Fatalf("no Killing event naming the liveness probe for %s: %+v", victim, evs)
	}
	removed, added := s.outAndBack(evs, l, victim, t0)
	if removed.Time.After(killing.Time) {
		t.Errorf("the endpoint was removed at %s, after the container was being stopped (%s)", removed.Time, killing.Time)
	}
	hits, fails := l.result()
	t.Logf("liveness failure (period 1s, threshold 3): endpoint removed %s after /control/live?ok=false, back in rotation after %s; under load %d requests, %d failed, per instance %v",
		removed.Time.Sub(t0).Round(time.Millisecond), added.Time.Sub(t0).Round(time.Millisecond), len(hits)+len(fails), len(fails), count(hits))
	if len(fails) > 0 {
		t.Errorf("a liveness restart takes the instance out of the rotation before stopping it, so no request should fail; failed: %v", fails)
	}
}

// A startup probe gates liveness: START_DELAY=4s makes /ready fail for
// 4s, which liveness (failure threshold 1) checks; the container is not
// restarted because liveness only starts once the startup probe passed.
func TestE2EStartupGatesLiveness(t *testing.T) {
	s := upSvc(t, "e2e_slow", "slowstart")
	inst := s.name + "-0"
	in := s.instance(inst)
	if !in.Ready || in.Restarts != 0 {
		t.Fatalf("after up -d: want ready with 0 restarts, got %+v", in)
	}
	evs := s.events()
	started, ok1 := firstEvent(evs, inst, "Started", time.Time{})
	ready, ok2 := firstEvent(evs, inst, "Ready", time.Time{})
	if !ok1 || !ok2 {
		t.Fatalf("want Started and Ready events: %+v", evs)
	}
	t.Logf("startup gating: ready %s after the container started (START_DELAY=4s)", ready.Time.Sub(started.Time).Round(time.Millisecond))
	if d := ready.Time.Sub(started.Time); d < 3500*time.Millisecond {
		t.Errorf("ready %s after start, before START_DELAY=4s passed: the delay did not hold", d)
	}
	startupFailures := 0
	for _, ev := range evs {
		switch {
		case ev.Reason == "Killing", ev.Reason == "BackOff",
			ev.Reason == "Unhealthy" && strings.HasPrefix(ev.Message, "Liveness"):
			t.Errorf("liveness ran before the startup probe passed: %+v", ev)
		case ev.Reason == "Unhealthy" && strings.HasPrefix(ev.Message, "Startup probe failed"):
			startupFailures++
		}
	}
	if startupFailures < 2 {
		t.Errorf("want the startup probe to fail during START_DELAY (2 or more Unhealthy events), got %d: %+v", startupFailures, evs)
	}
	// Liveness does run once startup passed: failing /ready now gets the
	// container killed (failure threshold 1).
	t0 := time.Now()
	post(t, "http://"+in.IP+":8000/control/ready?ok=false")
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "a liveness kill after startup passed", func() bool {
		ev, ok := firstEvent(s.events(), inst, "Killing", t0)
		return ok && strings.Contains(ev.Message, "liveness")
	})
}

// A killed instance (SIGKILL: a crash) under steady load through the
// gateway. Once the process is gone its connections are refused and
// retried on the next instance, and its exit removes the endpoint at
// once; only requests it had received can fail, all sent before the
// endpoint's removal.
func TestE2EKillUnderLoad(t *testing.T) {
	s := upSvc(t, "e2e_kill", "three")
	victim := s.name + "-2"
	before := s.instance(victim)
	const workers = 4
	l := s.load(workers, 50)
	t0 := time.Now()
	s.mustCtl("kill", s.name, victim)
	after := s.waitRestarted(victim, victim+" restarted and ready again")
	if after.IP != before.IP {
		t.Errorf("restarted with IP %s, want %s", after.IP, before.IP)
	}
	evs := s.events()
	killed, ok := firstEvent(evs, victim, "Killed", t0)
	if !ok {
		t.Fatalf("no Killed event for %s: %+v", victim, evs)
	}
	removed, added := s.outAndBack(evs, l, victim, t0)
	hits, fails := l.result()
	t.Logf("kill: command at %s, Killed event %s, EndpointRemoved %s, EndpointAdded %s", t0.Format("15:04:05.000"),
		killed.Time.Format("15:04:05.000"), removed.Time.Format("15:04:05.000"), added.Time.Format("15:04:05.000"))
	t.Logf("kill (SIGKILL) under load with %d workers: endpoint removed %s after the Killed event (%s after `easlocal kill` started), back in rotation %s after it; %d requests, %d failed, per instance %v",
		workers, removed.Time.Sub(killed.Time).Round(time.Millisecond), removed.Time.Sub(t0).Round(time.Millisecond), added.Time.Sub(killed.Time).Round(time.Millisecond),
		len(hits)+len(fails), len(fails), count(hits))
	// Requests in flight to the dying process, and those the kernel still
	// accepts for it, are reset before any answer; the gateway retries
	// these GETs on the next instance (as nginx does), so none fail.
	checkFailures(t, "kill", fails, removed.Time, 0)
	if d := removed.Time.Sub(killed.Time); d > 5*time.Second {
		t.Errorf("the endpoint was removed %s after the kill: the exit should remove it at once", d)
	}
}

// Exec probes against a real container: an exec liveness probe
// (`/app probe live`) restarts the container when /health fails, in the
// same pod.
func TestE2EExecLiveness(t *testing.T) {
	s := upSvc(t, "e2e_exec", "exec")
	inst := s.name + "-0"
	before := s.instance(inst)
	for _, ev := range s.events() {
		if (ev.Reason == "Unhealthy" || ev.Reason == "ProbeWarning") && strings.HasPrefix(ev.Message, "Liveness") {
			t.Fatalf("the exec liveness probe failed before the switch: %+v", ev)
		}
	}
	t0 := time.Now()
	post(t, "http://"+before.IP+":8000/control/live?ok=false")
	after := s.waitRestarted(inst, inst+" restarted by the exec probe and ready again")
	if after.IP != before.IP || after.Restarts != 1 {
		t.Errorf("after an exec liveness failure: want IP %s and restarts=1, got %+v", before.IP, after)
	}
	evs := s.events()
	if _, ok := firstEvent(evs, inst, "Killing", t0); !ok {
		t.Errorf("no Killing event after the exec liveness probe failed: %+v", evs)
	}
	unhealthy := false
	for _, ev := range evs {
		if ev.Reason == "Unhealthy" && strings.HasPrefix(ev.Message, "Liveness probe failed") {
			unhealthy = true
		}
	}
	if !unhealthy {
		t.Errorf("no Unhealthy \"Liveness probe failed\" event: %+v", evs)
	}
}

// An exec probe that hangs (`/app sleep 1m...`, timeout 1s) fails each
// time and is killed at its timeout: never more than one probe process
// runs in the container, and none is left once the service is down.
func TestE2EExecProbeTimeout(t *testing.T) {
	t.Parallel()
	// A sleep argument unique to this process, to find its processes.
	sleep := fmt.Sprintf("%dms", 60000+os.Getpid()%100000)
	s := newSvc(t, "e2e_exechang", "exechang", "SLEEP", sleep)
	s.up()
	inst := s.name + "-0"
	// ps shows probe results only on transitions (none before the
	// threshold of 1000), so the failures are counted from the events.
	maxProcs, sawNone, sawOne := 0, false, false
	var timedOut []admin.Event
	testutil.WaitFor(t, 90*time.Second, e2ePoll, "3 timed-out exec liveness probes", func() bool {
		n := probeProcs(sleep)
		maxProcs = max(maxProcs, n)
		sawNone = sawNone || n == 0
		sawOne = sawOne || n == 1
		timedOut = timedOut[:0]
		for _, ev := range s.events() {
			if ev.Reason == "Unhealthy" && strings.HasPrefix(ev.Message, "Liveness probe failed") && strings.Contains(ev.Message, "timed out") {
				timedOut = append(timedOut, ev)
			}
		}
		return len(timedOut) >= 3 && sawNone && sawOne
	})
	in := s.instance(inst)
	t.Logf("hanging exec probe: %d timed-out failures (%q); at most %d probe process(es) seen at once", len(timedOut), timedOut[0].Message, maxProcs)
	if maxProcs > 1 {
		t.Errorf("%d probe processes ran at once: timed-out exec probes are not killed", maxProcs)
	}
	if in.Restarts != 0 || !in.Ready {
		t.Errorf("failure threshold 1000: want no restart and still ready, got %+v", in)
	}
	s.mustCtl("down", s.name)
	if n := probeProcs(sleep); n != 0 {
		t.Errorf("%d exec probe processes left after down", n)
	}
}

// probeProcs counts the processes on the host running the hanging probe
// of TestE2EExecProbeTimeout (`/app sleep <sleep>`).
func probeProcs(sleep string) int {
	want := []byte("/app\x00sleep\x00" + sleep + "\x00")
	n := 0
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && bytes.Equal(b, want) {
			n++
		}
	}
	return n
}

// Two more ways to break an instance under load, for the numbers: the
// app crashing by itself (exit 3 right after answering) and a frozen
// instance (`easlocal pause`: its probes time out; it is thawed once it
// left the rotation). Requests in flight to a crashing instance may fail
// (all sent before its endpoint's removal); requests sent to a frozen one
// wait until it is thawed and none fails.
func TestE2ECrashAndPauseUnderLoad(t *testing.T) {
	s := upSvc(t, "e2e_break", "three")
	const workers = 4
	ips := map[string]string{}
	for _, in := range s.ps().Instances {
		ips[in.Name] = in.IP
	}

	// The app crashes: POST /control/crash?code=3 to the instance.
	victim := s.name + "-0"
	l := s.load(workers, 50)
	t0 := time.Now()
	post(t, "http://"+ips[victim]+":8000/control/crash?code=3")
	s.waitRestarted(victim, victim+" restarted and ready again")
	evs := s.events()
	removed, ok := firstEvent(evs, victim, "EndpointRemoved", t0)
	if !ok {
		t.Fatalf("no EndpointRemoved event for %s after its crash: %+v", victim, evs)
	}
	exited, ok := firstEvent(evs, victim, "Exited", t0)
	if !ok || !strings.Contains(exited.Message, "3") {
		t.Errorf("want an Exited event with code 3 for %s: %+v", victim, exited)
	}
	hits, fails := l.result()
	t.Logf("crash (exit 3) under load with %d workers: endpoint removed %s after the crash request (%s after the Exited event); %d requests, %d failed, slowest %s",
		workers, removed.Time.Sub(t0).Round(time.Millisecond), removed.Time.Sub(exited.Time).Round(time.Millisecond),
		len(hits)+len(fails), len(fails), slowest(hits).Round(time.Millisecond))
	// As for kill: requests reset before any answer are retried.
	checkFailures(t, "crash", fails, removed.Time, 0)

	// The instance freezes: easlocal pause.
	victim = s.name + "-1"
	l = s.load(workers, 50)
	t0 = time.Now()
	s.mustCtl("pause", s.name, victim)
	testutil.WaitFor(t, time.Minute, e2ePoll, victim+" leaves the endpoints", func() bool { return !hasEndpoint(s.endpoints(), victim) })
	s.mustCtl("unpause", s.name, victim)
	testutil.WaitFor(t, 90*time.Second, e2ePoll, victim+" ready again", func() bool { return s.instance(victim).Ready })
	removed, ok = firstEvent(s.events(), victim, "EndpointRemoved", t0)
	if !ok {
		t.Fatalf("no EndpointRemoved event for %s after pause", victim)
	}
	in := s.instance(victim)
	hits, fails = l.result()
	t.Logf("pause under load with %d workers (readiness timeout 2s, threshold 2): endpoint removed %s after pause; restarts %d; %d requests, %d failed, slowest %s",
		workers, removed.Time.Sub(t0).Round(time.Millisecond), in.Restarts, len(hits)+len(fails), len(fails), slowest(hits).Round(time.Millisecond))
	// Requests sent to the frozen instance wait for the thaw (the gateway
	// has no timeout without rpc.keepalive) and are answered then.
	checkFailures(t, "pause", fails, removed.Time, 0)
}
