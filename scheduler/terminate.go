package scheduler

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
)

// Termination is how EAS takes a container away: the caller has removed
// the instance from the endpoints already; then, with SIGTERM false (EAS's
// rpc.enable_sigterm default) the process gets no signal and keeps
// running through Grace, so requests in flight finish, and is SIGKILLed
// at its end; with SIGTERM true it gets SIGTERM at once and SIGKILL when
// Grace ends and it is still running. It is the one rule for every stop:
// scale-in, down, replacement in an update, and liveness/startup kills
// (the kubelet kills those with the pod's grace period too).
type Termination struct {
	// Grace is eas.termination_grace_period (default 30s).
	Grace time.Duration
	// SIGTERM is rpc.enable_sigterm.
	SIGTERM bool
}

// DefaultTerminationGrace is EAS's eas.termination_grace_period default.
const DefaultTerminationGrace = 30 * time.Second

func (t Termination) withDefaults() Termination {
	if t.Grace <= 0 {
		t.Grace = DefaultTerminationGrace
	}
	return t
}

// describe is the Terminating event's sentence fragment.
func (t Termination) describe() string {
	if t.SIGTERM {
		return fmt.Sprintf("SIGTERM now (rpc.enable_sigterm), SIGKILL if still running after the %s grace period", t.Grace)
	}
	return fmt.Sprintf("no SIGTERM (rpc.enable_sigterm is false): it keeps running through the %s grace period, then SIGKILL", t.Grace)
}

// killWait bounds the wait for a container to end after SIGKILL.
const killWait = 10 * time.Second

// terminate stops one container by the Termination rule and deletes it.
// It emits Terminating, then Exited (it ended within the grace period) or
// Killed (SIGKILL at its end), both with the time it took. It reads only
// immutable scheduler state, so teardown runs it for several containers
// at once. ctx should outlive the grace period (teardown's does); if it
// ends first the container is killed at once.
func (in *instance) terminate(ctx context.Context, name string, c *runtime.Container, paused bool, t Termination, why string) (runtime.ExitStatus, error) {
	t = t.withDefaults()
	rt := in.s.rt
	in.event(name, events.Normal, events.Terminating, fmt.Sprintf("Terminating container %s of %s (%s): %s", name, in.name, why, t.describe()))
	begin := time.Now()
	if paused {
		// A frozen process can neither finish requests nor handle a signal.
		if err := rt.Resume(ctx, c); err != nil {
			in.s.log.Debug().Err(err).Str("instance", in.name).Str("container", name).Msg("resume before stop")
		}
	}
	exited, err := rt.Wait(ctx, c)
	if err != nil {
		// Not watchable (already deleted?): the runtime's stop ends it.
		return rt.Stop(ctx, c, 0)
	}
	if t.SIGTERM {
		if err := rt.Kill(ctx, c, syscall.SIGTERM); err != nil {
			in.s.log.Debug().Err(err).Str("instance", in.name).Str("container", name).Msg("SIGTERM")
		}
	}
	timer := time.NewTimer(t.Grace)
	defer timer.Stop()
	var st runtime.ExitStatus
	ended := false
	select {
	case st, ended = <-exited:
	case <-timer.C:
	case <-ctx.Done():
	}
	if ended {
		took := time.Since(begin)
		in.event(name, events.Normal, events.Exited, fmt.Sprintf("Container %s %s %s after Terminating, within its %s grace period",
			name, ExitReason{Code: st.Code, Signal: st.Signal, OOMKilled: st.OOMKilled}, took.Round(time.Millisecond), t.Grace))
	} else {
		sent := time.Since(begin)
		if err := rt.Kill(ctx, c, syscall.SIGKILL); err != nil {
			in.s.log.Debug().Err(err).Str("instance", in.name).Str("container", name).Msg("SIGKILL")
		}
		kt := time.NewTimer(killWait)
		select {
		case st = <-exited:
		case <-kt.C:
		case <-ctx.Done():
		}
		kt.Stop()
		took := time.Since(begin)
		in.event(name, events.Normal, events.Killed, fmt.Sprintf("Container %s killed by SIGKILL sent %s after Terminating, at the end of its %s grace period; it ended %s after Terminating",
			name, sent.Round(time.Millisecond), t.Grace, took.Round(time.Millisecond)))
	}
	// Delete it; a container still running here (SIGKILL not done yet)
	// gets the runtime's own SIGTERM/SIGKILL at once.
	final, err := rt.Stop(ctx, c, 0)
	if !ended {
		st = final
	}
	return st, err
}
