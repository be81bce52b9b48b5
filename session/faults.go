package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
)

// netFaulter is the runtime's part in faults (*runtime.Runtime).
type netFaulter interface {
	AddNetFault(ctx context.Context, service, instance string, f runtime.NetFault) error
	RemoveNetFault(ctx context.Context, service, instance string, f runtime.NetFault) error
}

// instanceActions is the scheduler's part in faults (schedActions).
type instanceActions interface {
	Exists(instance string) error
	Kill(instance string, sig syscall.Signal) error
	Pause(instance string) error
	Unpause(instance string) error
	Exec(instance string, args []string, timeout time.Duration) (runtime.ExecResult, error)
}

// exitCommand ends a container's app from inside: SIGTERM to its PID 1,
// as an app that exits on its own (or a supervisor stopping it) would.
var exitCommand = []string{"/bin/sh", "-c", "kill 1"}

// faults owns a session's active faults: it injects them (runtime,
// gateway, scheduler), reverts each when its For ends (one goroutine per
// timed fault, owning its timer) or when cleared, and all of them on
// teardown. Safe for concurrent use; the fields below mu are guarded by it.
type faults struct {
	service string
	net     netFaulter
	inst    instanceActions
	http    *proxy.Faults
	events  *events.Log
	log     zerolog.Logger

	ctx    context.Context // cancelled by close: ends the timers
	cancel context.CancelFunc
	wg     sync.WaitGroup // timer goroutines

	mu     sync.Mutex
	active map[string]*activeFault
	seq    int
	closed bool
}

type activeFault struct {
	f    admin.Fault
	stop chan struct{} // closed when reverted before its end; nil without For
}

func newFaults(service string, net netFaulter, inst instanceActions, http *proxy.Faults, ev *events.Log, log zerolog.Logger) *faults {
	ctx, cancel := context.WithCancel(context.Background())
	return &faults{service: service, net: net, inst: inst, http: http, events: ev, log: log,
		ctx: ctx, cancel: cancel, active: map[string]*activeFault{}}
}

// netKinds translates the API's network fault kinds into the runtime's,
// so neither needs to spell a kind as the other does.
var netKinds = map[string]runtime.NetFaultKind{
	admin.FaultBlackhole: runtime.NetBlackhole,
	admin.FaultReject:    runtime.NetReject,
	admin.FaultLoss:      runtime.NetLoss,
	admin.FaultBandwidth: runtime.NetBandwidth,
}

func isNetKind(kind string) bool {
	_, ok := netKinds[kind]
	return ok
}

func netFault(f admin.Fault) runtime.NetFault {
	return runtime.NetFault{ID: f.ID, Kind: netKinds[f.Kind], Percent: f.Percent, Rate: f.Rate}
}

func httpFault(f admin.Fault) proxy.HTTPFault {
	return proxy.HTTPFault{ID: f.ID, Instance: f.Instance, Delay: f.Delay, Status: f.Status, Reset: f.Reset, Percent: f.Percent, First: f.First}
}

// describe is a fault in words, for events and logs.
func describe(f admin.Fault) string {
	s := f.Effect()
	if f.HTTP() && f.Percent > 0 && f.Percent < 100 {
		s += fmt.Sprintf(" for %d%% of requests", f.Percent)
	}
	if f.First > 0 {
		s += fmt.Sprintf(" for the first %d requests", f.First)
	}
	target := "every instance"
	if f.Instance != "" {
		target = f.Instance
	}
	s = fmt.Sprintf("fault %s (%s) on %s", f.ID, s, target)
	if f.For > 0 {
		s += " for " + f.For.String()
	}
	return s
}

// Inject starts f (validated here again) and returns it with its ID and
// times. kill and exit act at once and are not kept as active.
func (m *faults) Inject(f admin.Fault) (admin.Fault, error) {
	if err := f.Validate(); err != nil {
		return f, err
	}
	if f.Instance != "" {
		if err := m.inst.Exists(f.Instance); err != nil {
			return f, err
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return f, errdefs.ErrFailedPrecondition.WithMessage("the service is stopping: no new faults")
	}
	m.seq++
	f.ID = fmt.Sprintf("f%d", m.seq)
	m.mu.Unlock()
	f.Started = time.Now()

	var err error
	switch {
	case isNetKind(f.Kind):
		err = m.net.AddNetFault(m.ctx, m.service, f.Instance, netFault(f))
	case f.HTTP():
		err = m.http.Add(httpFault(f))
	case f.Kind == admin.FaultPause:
		err = m.inst.Pause(f.Instance)
	case f.Kind == admin.FaultKill:
		err = m.inst.Kill(f.Instance, syscall.SIGKILL)
	case f.Kind == admin.FaultExit:
		var res runtime.ExecResult
		res, err = m.inst.Exec(f.Instance, exitCommand, 5*time.Second)
		// 137: the shell was SIGKILLed because the app it ended took
		// the container down before the shell returned; it worked.
		if err == nil && res.ExitCode != 0 && res.ExitCode != 128+int(syscall.SIGKILL) {
			err = errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("instance %s: `kill 1` in its container failed (exit %d: %s); exit needs a shell in the image, use kill instead",
				f.Instance, res.ExitCode, strings.TrimSpace(string(res.Output))))
		}
	}
	if err != nil {
		return f, err
	}
	m.publish(f.Instance, events.FaultInjected, "Injected "+describe(f))
	if f.Kind == admin.FaultKill || f.Kind == admin.FaultExit {
		return f, nil
	}

	a := &activeFault{f: f}
	if f.For > 0 {
		a.f.Ends = f.Started.Add(f.For)
		a.stop = make(chan struct{})
	}
	m.mu.Lock()
	if m.closed {
		// close ran meanwhile and did not see this one: revert it here.
		m.mu.Unlock()
		m.undo(a.f, "the service is stopping")
		return f, errdefs.ErrFailedPrecondition.WithMessage("the service is stopping: no new faults")
	}
	m.active[f.ID] = a
	if a.stop != nil {
		m.wg.Add(1)
		go m.expire(a, f.For)
	}
	m.mu.Unlock()
	return a.f, nil
}

// expire reverts a at the end of d unless it was cleared first or the
// session is closing (close reverts it then).
func (m *faults) expire(a *activeFault, d time.Duration) {
	defer m.wg.Done()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		m.revert(a.f.ID, "its time is up")
	case <-a.stop:
	case <-m.ctx.Done():
	}
}

// take removes id from the active set; nil when it is not there.
func (m *faults) take(id string) *activeFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.active[id]
	delete(m.active, id)
	return a
}

// revert ends one active fault.
func (m *faults) revert(id, why string) error {
	a := m.take(id)
	if a == nil {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no active fault %q; see `easlocal fault list`", id))
	}
	if a.stop != nil {
		close(a.stop)
	}
	return m.undo(a.f, why)
}

// undo reverts what Inject did for f.
func (m *faults) undo(f admin.Fault, why string) error {
	var err error
	switch {
	case isNetKind(f.Kind):
		// A fresh bound: the session's context may already be cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = m.net.RemoveNetFault(ctx, m.service, f.Instance, netFault(f))
		cancel()
	case f.HTTP():
		m.http.Remove(f.ID)
	case f.Kind == admin.FaultPause:
		err = m.inst.Unpause(f.Instance)
		if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
			err = nil // the instance is gone or shutting down: nothing stays frozen
		}
	}
	if err != nil {
		m.log.Warn().Err(err).Str("fault", f.ID).Msg("cannot revert fault")
		m.publish(f.Instance, events.FaultReverted, fmt.Sprintf("Could not revert %s: %v", describe(f), err))
		return err
	}
	m.publish(f.Instance, events.FaultReverted, fmt.Sprintf("Reverted %s: %s", describe(f), why))
	return nil
}

func (m *faults) publish(instance, reason, msg string) {
	typ := events.Warning
	if reason == events.FaultReverted {
		typ = events.Normal
	}
	m.events.Publish(events.Event{Instance: instance, Type: typ, Reason: reason, Message: msg})
}

// List returns the active faults, oldest first, with the hits of the
// HTTP ones.
func (m *faults) List() []admin.Fault {
	m.mu.Lock()
	out := make([]admin.Fault, 0, len(m.active))
	for _, a := range m.active {
		out = append(out, a.f)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return len(out[i].ID) < len(out[j].ID) || len(out[i].ID) == len(out[j].ID) && out[i].ID < out[j].ID
	})
	for i := range out {
		if out[i].HTTP() {
			out[i].Hits = m.http.Hits(out[i].ID)
		}
	}
	return out
}

// Clear reverts one fault.
func (m *faults) Clear(id string) error { return m.revert(id, "cleared") }

// ClearAll reverts every active fault.
func (m *faults) ClearAll(why string) error {
	var errs []error
	for _, f := range m.List() {
		if err := m.revert(f.ID, why); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// close reverts every fault, refuses new ones and waits for the timers.
// Called once, at teardown, before the instances are stopped.
func (m *faults) close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	err := m.ClearAll("the service is stopping")
	m.cancel()
	m.wg.Wait()
	return err
}

// schedActions adapts the scheduler to instanceActions.
type schedActions struct{ s *scheduler.Scheduler }

func (a schedActions) Exists(instance string) error {
	_, err := a.s.Container(instance, "")
	return err
}
func (a schedActions) Kill(instance string, sig syscall.Signal) error { return a.s.Kill(instance, sig) }
func (a schedActions) Pause(instance string) error                    { return a.s.Pause(instance) }
func (a schedActions) Unpause(instance string) error                  { return a.s.Unpause(instance) }
func (a schedActions) Exec(instance string, args []string, timeout time.Duration) (runtime.ExecResult, error) {
	return a.s.Exec(instance, "", args, timeout)
}

// The controller's admin.FaultController methods.

var _ admin.FaultController = (*controller)(nil)

func (c *controller) InjectFault(f admin.Fault) (admin.Fault, error) { return c.faults.Inject(f) }
func (c *controller) Faults() []admin.Fault                          { return c.faults.List() }
func (c *controller) ClearFault(id string) error                     { return c.faults.Clear(id) }
func (c *controller) ClearFaults() error                             { return c.faults.ClearAll("cleared") }
