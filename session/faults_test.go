package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/runtime"
)

// fakeTarget records what the fault manager asked of the runtime and the
// scheduler.
type fakeTarget struct {
	testutil.CallLog
	mu       sync.Mutex
	execCode int // what Exec answers
}

func (f *fakeTarget) AddNetFault(_ context.Context, svc, inst string, nf runtime.NetFault) error {
	f.Add("add %s %s %s %s", svc, inst, nf.ID, nf.Kind)
	return nil
}
func (f *fakeTarget) RemoveNetFault(_ context.Context, svc, inst string, nf runtime.NetFault) error {
	f.Add("remove %s %s %s", svc, inst, nf.ID)
	return nil
}
func (f *fakeTarget) Exists(inst string) error {
	if inst == "ghost" {
		return errdefs.ErrNotFound.WithMessage("no instance ghost")
	}
	return nil
}
func (f *fakeTarget) Kill(inst string, sig syscall.Signal) error {
	f.Add("kill %s %d", inst, sig)
	return nil
}
func (f *fakeTarget) Pause(inst string) error   { f.Add("pause %s", inst); return nil }
func (f *fakeTarget) Unpause(inst string) error { f.Add("unpause %s", inst); return nil }
func (f *fakeTarget) Exec(inst string, args []string, _ time.Duration) (runtime.ExecResult, error) {
	f.Add("exec %s %v", inst, args)
	f.mu.Lock()
	defer f.mu.Unlock()
	return runtime.ExecResult{ExitCode: f.execCode}, nil
}

func newTestFaults() (*faults, *fakeTarget, *proxy.Faults, *events.Log) {
	ft := &fakeTarget{}
	hf := proxy.NewFaults()
	ev := events.NewLog(100)
	return newFaults("demo", ft, ft, hf, ev, zerolog.Nop()), ft, hf, ev
}

func ids(list []admin.Fault) []string {
	var out []string
	for _, f := range list {
		out = append(out, f.ID)
	}
	return out
}

// A fault with For is reverted exactly when it ends (virtual clock):
// listed with its end until then, gone after, its revert done and an
// event published.
func TestFaultExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, ft, hf, ev := newTestFaults()
		defer m.close()
		start := time.Now()
		b, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultBlackhole, For: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Inject(admin.Fault{Instance: "demo-1", Kind: admin.FaultPause, For: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h, err := m.Inject(admin.Fault{Kind: admin.FaultHTTPAbort, Status: 503, For: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !b.Ends.Equal(start.Add(5 * time.Second)) {
			t.Errorf("Ends = %s, want start+5s", b.Ends)
		}
		if got := ids(m.List()); !slices.Equal(got, []string{b.ID, p.ID, h.ID}) {
			t.Errorf("List = %v", got)
		}

		time.Sleep(2*time.Second - time.Nanosecond)
		synctest.Wait()
		if slices.Contains(ft.Calls(), "unpause demo-1") {
			t.Error("pause reverted early")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if !slices.Contains(ft.Calls(), "unpause demo-1") {
			t.Errorf("pause not reverted at its end: %v", ft.Calls())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if hf.Hits(h.ID) != 0 || len(m.List()) != 1 {
			t.Errorf("after 3s: %v", ids(m.List()))
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := m.List(); len(got) != 0 {
			t.Errorf("after 5s still active: %v", ids(got))
		}
		want := []string{"add demo demo-0 f1 blackhole", "pause demo-1", "unpause demo-1", "remove demo demo-0 f1"}
		if got := ft.Calls(); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		evs, _ := ev.Events(0)
		var reasons []string
		for _, e := range evs {
			reasons = append(reasons, e.Reason)
		}
		if n := len(slices.DeleteFunc(reasons, func(r string) bool { return r != events.FaultReverted })); n != 3 {
			t.Errorf("%d FaultReverted events, want 3: %v", n, evs)
		}
	})
}

// close (the session's teardown) reverts every fault, timed or not,
// ends the timers (synctest fails on a goroutine left behind) and
// refuses new faults; a fault cleared by hand is not reverted twice.
func TestFaultsRevertedOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, ft, hf, _ := newTestFaults()
		if _, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultLoss, Percent: 30, For: time.Hour}); err != nil {
			t.Fatal(err)
		}
		d, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultHTTPDelay, Delay: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Inject(admin.Fault{Instance: "demo-1", Kind: admin.FaultPause}); err != nil {
			t.Fatal(err)
		}
		x, err := m.Inject(admin.Fault{Instance: "demo-1", Kind: admin.FaultReject, For: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Clear(x.ID); err != nil {
			t.Fatal(err)
		}
		if err := m.Clear(x.ID); !errdefs.IsNotFound(err) {
			t.Errorf("second clear: %v, want not found", err)
		}
		if err := m.close(); err != nil {
			t.Fatal(err)
		}
		if len(m.List()) != 0 || hf.Remove(d.ID) {
			t.Errorf("after close: %v", ids(m.List()))
		}
		want := []string{"add demo demo-0 f1 loss", "pause demo-1", "add demo demo-1 f4 reject", "remove demo demo-1 f4", "remove demo demo-0 f1", "unpause demo-1"}
		if got := ft.Calls(); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		if _, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultBlackhole}); !errdefs.IsFailedPrecondition(err) {
			t.Errorf("inject after close: %v", err)
		}
	})
}

// kill and exit act once and are not kept; an unknown instance and a
// bad fault are refused before anything is done.
func TestFaultsOneShotAndRefused(t *testing.T) {
	m, ft, _, _ := newTestFaults()
	defer m.close()
	if f, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultKill}); err != nil || f.ID == "" {
		t.Fatal(f, err)
	}
	if _, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultExit}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Inject(admin.Fault{Instance: "ghost", Kind: admin.FaultBlackhole}); !errdefs.IsNotFound(err) {
		t.Errorf("unknown instance: %v", err)
	}
	if _, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultLoss, Percent: 300}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad percent: %v", err)
	}
	want := []string{fmt.Sprintf("kill demo-0 %d", syscall.SIGKILL), "exec demo-0 [/bin/sh -c kill 1]"}
	if got := ft.Calls(); !slices.Equal(got, want) || len(m.List()) != 0 {
		t.Errorf("calls %v (want %v), active %v", got, want, ids(m.List()))
	}
}

// exit succeeds when the `kill 1` shell is itself killed (137) because
// the app it ended took the container down first; any other failure of
// the command is an error naming it.
func TestFaultExitKilledWithItsContainer(t *testing.T) {
	m, ft, _, _ := newTestFaults()
	defer m.close()
	for _, tc := range []struct {
		code int
		ok   bool
	}{{0, true}, {137, true}, {127, false}, {1, false}} {
		ft.mu.Lock()
		ft.execCode = tc.code
		ft.mu.Unlock()
		_, err := m.Inject(admin.Fault{Instance: "demo-0", Kind: admin.FaultExit})
		if (err == nil) != tc.ok {
			t.Errorf("exec exit %d: err %v, want ok=%v", tc.code, err, tc.ok)
		}
	}
}
