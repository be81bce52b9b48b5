package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/runtime"
)

// nftTables lists the nftables tables in an instance's network
// namespace, independently of the runtime's own code.
func nftTables(t *testing.T, service, instance string) string {
	t.Helper()
	ns := filepath.Join(runtime.NetNSDir, runtime.NetNSName(service, instance))
	out, err := exec.Command("nsenter", "--net="+ns, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables in %s: %v: %s", ns, err, out)
	}
	return string(out)
}

var faultID = regexp.MustCompile(`fault (f[0-9]+):`)

// fault runs `easlocal fault` and returns the fault's ID.
func (s *svc) fault(args ...string) string {
	s.t.Helper()
	out := s.mustCtl("fault", append([]string{s.name}, args...)...)
	m := faultID.FindStringSubmatch(out)
	if m == nil {
		s.t.Fatalf("easlocal fault %v said %q, want a fault ID", args, out)
	}
	return m[1]
}

// A blackholed instance under load leaves the endpoints (its readiness
// probe times out) while traffic goes on through the others; cleared, it
// returns and its namespace holds no fault table. HTTP aborts hit exactly
// the first N requests.
func TestE2EFaultBlackholeUnderLoad(t *testing.T) {
	s := upSvc(t, "e2e_fault", "three", "--backoff-max", "1s")
	const workers = 4
	victim := s.name + "-0"
	l := s.load(workers, 50)

	t0 := time.Now()
	id := s.fault(victim, "blackhole")
	if tables := nftTables(t, s.name, victim); !strings.Contains(tables, "table inet easlocal_fault_"+id) {
		t.Fatalf("no fault table in %s: %q", victim, tables)
	}
	testutil.WaitFor(t, time.Minute, e2ePoll, victim+" leaves the endpoints", func() bool { return !hasEndpoint(s.endpoints(), victim) })
	removed, ok := firstEvent(s.events(), victim, "EndpointRemoved", t0)
	if !ok {
		t.Fatalf("no EndpointRemoved event for %s after the blackhole", victim)
	}
	var st struct {
		Faults []admin.Fault `json:"faults"`
	}
	if err := json.Unmarshal([]byte(s.mustCtl("ps", "--json", s.name)), &st); err != nil || len(st.Faults) != 1 || st.Faults[0].Kind != "blackhole" || st.Faults[0].Instance != victim {
		t.Errorf("ps --json faults = %+v (%v), want the blackhole on %s", st.Faults, err, victim)
	}
	if out := s.mustCtl("ps", s.name); !strings.Contains(out, "fault "+id+": blackhole on "+victim+", ends when cleared") {
		t.Errorf("ps does not show the fault:\n%s", out)
	}
	if out := s.mustCtl("fault", "list", s.name); !strings.Contains(out, id) || !strings.Contains(out, "blackhole on "+victim) {
		t.Errorf("fault list:\n%s", out)
	}
	// Traffic goes on through the other two.
	mark := time.Now()
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "load answered by the others", func() bool { return len(l.since(mark)) > 50 })
	for inst, n := range count(l.since(mark)) {
		if inst == victim {
			t.Errorf("%d requests answered by the blackholed %s", n, victim)
		}
	}

	s.mustCtl("fault", "clear", s.name, id)
	testutil.WaitFor(t, 90*time.Second, e2ePoll, victim+" back in the endpoints", func() bool { return hasEndpoint(s.endpoints(), victim) })
	if tables := nftTables(t, s.name, victim); strings.Contains(tables, "easlocal_fault") {
		t.Errorf("a fault table is left after clear: %q", tables)
	}
	hits, fails := l.result()
	t.Logf("blackhole under load with %d workers: endpoint removed %s after the fault; %d requests, %d failed",
		workers, removed.Time.Sub(t0).Round(time.Millisecond), len(hits)+len(fails), len(fails))
	// Requests sent to it before it left the rotation hang until the
	// client gives up: at most one per worker.
	checkFailures(t, "blackhole", fails, removed.Time, workers)

	// http-abort for the first 3 requests of the whole service.
	s.waitEndpoints(3, time.Minute)
	s.fault("all", "http-abort", "503", "--first", "3")
	aborted := 0
	for range 10 {
		code, body := get(t, s.predict("/"))
		if code == 503 && strings.Contains(body, "injected fault") {
			aborted++
		} else if code != 200 {
			t.Errorf("answer %d %q", code, body)
		}
	}
	if aborted != 3 {
		t.Errorf("%d of 10 requests aborted, want the first 3", aborted)
	}
	s.mustCtl("fault", "clear", s.name)
	if out := s.mustCtl("fault", "list", s.name); !strings.Contains(out, "no active faults") {
		t.Errorf("after clear: %s", out)
	}
}

// Faults with a duration end by themselves; exit makes the app end
// itself (a restart follows); loss is listed with its share.
func TestE2EFaultForAndExit(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_faultfor", "three", `"instance": 3`, `"instance": 2`)
	s.up()
	victim := s.name + "-1"
	s.fault(victim, "loss", "30%", "--for", "2s")
	if tables := nftTables(t, s.name, victim); !strings.Contains(tables, "easlocal_fault_") {
		t.Fatalf("no loss table: %q", tables)
	}
	testutil.WaitFor(t, 30*time.Second, e2ePoll, "the loss fault to end by itself", func() bool {
		return len(s.ps().Faults) == 0 && !strings.Contains(nftTables(t, s.name, victim), "easlocal_fault_")
	})
	if _, ok := firstEvent(s.events(), victim, "FaultReverted", time.Time{}); !ok {
		t.Error("no FaultReverted event")
	}

	before := s.instance(victim).Restarts
	s.fault(victim, "exit")
	testutil.WaitFor(t, 90*time.Second, e2ePoll, victim+" restarted after exit", func() bool {
		in := s.instance(victim)
		return in.Restarts > before && in.Ready
	})
	exited, ok := firstEvent(s.events(), victim, "Exited", time.Time{})
	if !ok {
		t.Fatalf("no Exited event after the exit fault")
	}
	t.Logf("exit fault: %s", exited.Message)
}

// easlocal killed (SIGKILL) while faults are active leaves them in the
// instances' namespaces; the next `down` finds them as leftovers and
// removes everything: no table, no qdisc, no namespace.
func TestE2EFaultCrashThenDown(t *testing.T) {
	t.Parallel()
	s := newSvc(t, "e2e_faultcrash", "three", `"instance": 3`, `"instance": 2`)
	s.up()
	a, b := s.name+"-0", s.name+"-1"
	s.fault(a, "blackhole", "--for", "10m")
	s.fault(b, "bandwidth", "1mbit")
	s.fault(b, "reject")
	pid := s.pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.pid = 0
	if !waitPIDGone(pid, time.Minute) {
		t.Fatalf("easlocal (pid %d) still there after SIGKILL", pid)
	}
	if tables := nftTables(t, s.name, a); !strings.Contains(tables, "easlocal_fault_") {
		t.Fatalf("after the crash %s should still hold its fault table: %q", a, tables)
	}
	left, err := e2e.rt.Leftovers(t.Context(), s.name)
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Faults) != 3 {
		t.Errorf("Leftovers.Faults = %v, want the blackhole, the bandwidth limit and the reject", left.Faults)
	}
	r := s.ctl(3*time.Minute, "down", "--timeout", "15s", s.name)
	if r.code != 0 || !strings.Contains(r.out, "removed what an earlier run left behind") {
		t.Errorf("down after a crash with faults: %s", r)
	}
	for _, inst := range []string{a, b} {
		ns := filepath.Join(runtime.NetNSDir, runtime.NetNSName(s.name, inst))
		if _, err := os.Stat(ns); err == nil {
			out, _ := exec.Command("nsenter", "--net="+ns, "nft", "list", "tables").CombinedOutput()
			t.Errorf("namespace %s is left, with tables %q", ns, out)
		}
	}
	// And no table was ever created outside the pods.
	if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err == nil && strings.Contains(string(out), "easlocal_fault") {
		t.Errorf("a fault table is in easlocal's own namespace: %s", out)
	}
	assertNothingLeft(t, s.name)
}
