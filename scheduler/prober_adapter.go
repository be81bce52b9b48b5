package scheduler

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/service"
)

// Ready-made adapters between the scheduler's seams and package prober,
// so wiring is:
//
//	l := &scheduler.ProbeListener{}
//	pm := prober.NewManager(prober.Options{Listener: l, Logger: log})
//	s := scheduler.New(rt, scheduler.ProberManager{M: pm}, endpointSet, opts)
//	l.Bind(s)

// ProberManager adapts *prober.Manager to Prober.
type ProberManager struct{ M *prober.Manager }

// Start starts the container's probe workers.
func (p ProberManager) Start(ctx context.Context, t ProbeTarget) ProbeHandle {
	target := prober.Target{Instance: t.Instance, Container: t.Container, Generation: t.Generation, Host: t.Host, Started: t.Started, Admitted: t.Admitted}
	if t.Exec != nil {
		exec := t.Exec
		target.Exec = func(ctx context.Context, args []string, timeout time.Duration) (int, []byte, error) {
			r, err := exec(ctx, args, timeout)
			if err == nil && r.TimedOut {
				err = prober.ErrExecTimedOut
			}
			return r.ExitCode, r.Output, err
		}
	}
	return p.M.Start(ctx, target, prober.Specs{Liveness: t.Liveness, Readiness: t.Readiness, Startup: t.Startup})
}

// ProbeListener is a prober.Listener that forwards transitions to a
// Scheduler's ProbeChanged and probe events to its event recorder. It
// exists before the Scheduler (the prober Manager needs its listener at
// construction); Bind it before Run. Results before Bind are dropped.
type ProbeListener struct{ s atomic.Pointer[Scheduler] }

// Bind sets the scheduler that receives the results.
func (l *ProbeListener) Bind(s *Scheduler) { l.s.Store(s) }

// ProbeChanged implements prober.Listener. It never blocks.
func (l *ProbeListener) ProbeChanged(t prober.Transition) {
	s := l.s.Load()
	if s == nil {
		return
	}
	s.ProbeChanged(t.Instance, t.Container, t.Generation, t.Kind, probeResult(t.Result), t.Output)
}

// ProbeEvent implements prober.Listener: the prober's Unhealthy and
// ProbeWarning events join the scheduler's own, and their message is
// kept as the probe's last output.
func (l *ProbeListener) ProbeEvent(kind service.ProbeKind, gen int, e events.Event) {
	s := l.s.Load()
	if s == nil {
		return
	}
	s.events.Event(events.Ref{Instance: e.Instance, Container: e.Container}, e.Type, e.Reason, e.Message)
	s.ProbeOutput(e.Instance, e.Container, gen, kind, e.Message)
}

func probeResult(r prober.Result) ProbeResult {
	switch r {
	case prober.Success:
		return ProbeSuccess
	case prober.Failure:
		return ProbeFailure
	}
	return ProbeUnknown
}
