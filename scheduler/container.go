package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// Container handling of an instance: start, probe outcomes, exits, the
// restart decision, kill and pause, and teardown. Everything here runs
// on the instance goroutine (see instance.go).

// startContainer starts a new container in the slot, with fresh probe
// state and workers. A failure to start is handled like an exit.
func (in *instance) startContainer(ctx context.Context, sl *slot) {
	sl.state, sl.reason = ContainerWaiting, waitingCreating
	sl.stay = false
	in.publish()
	sl.hist.Started = time.Now() // a failed start "ran" zero seconds
	c, err := in.s.rt.StartContainer(ctx, in.pod, sl.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		in.event(sl.name, events.Warning, events.Failed, fmt.Sprintf("Error: cannot start container %s: %v", sl.name, err))
		in.ended(ctx, sl, ExitReason{Kind: StartError}, err.Error())
		return
	}
	if sl.everRan {
		sl.restarts++
	}
	sl.everRan = true
	sl.gen++
	sl.c = c
	sl.paused = false
	sl.running = true
	sl.state, sl.reason = ContainerRunning, ""
	if !c.Started.IsZero() {
		sl.hist.Started = c.Started
	}
	// The kubelet's initial results for a new container.
	// Without a Prober no probe runs: started and ready once running.
	probed := in.s.pr != nil
	sl.hasReadiness = probed && sl.spec.HealthCheck != nil
	sl.live, sl.ready, sl.started = true, false, !probed || sl.spec.StartupCheck == nil
	sl.probeStatus = map[service.ProbeKind]ProbeStatus{}
	if probed {
		now := time.Now()
		for _, kind := range service.ProbeKinds {
			if sl.spec.Probe(kind) == nil {
				continue
			}
			r := ProbeUnknown // startup: not started yet
			switch kind {
			case service.Liveness:
				r = ProbeSuccess
			case service.Readiness:
				r = ProbeFailure
			}
			sl.probeStatus[kind] = ProbeStatus{Result: r, Time: now}
		}
	}

	if ch, err := in.s.rt.Wait(ctx, c); err != nil {
		in.s.log.Warn().Err(err).Str("instance", in.name).Str("container", sl.name).
			Msg("cannot watch the container for exits; only probes will notice it ending")
	} else {
		go in.forwardExit(ctx, ch, sl.idx, sl.gen)
	}
	in.event(sl.name, events.Normal, events.Started, fmt.Sprintf("Started container %s (restarts %d)", sl.name, sl.restarts))

	spec := sl.spec
	if in.s.pr != nil && (spec.LivenessCheck != nil || spec.HealthCheck != nil || spec.StartupCheck != nil) {
		rt := in.s.rt
		sl.probes = in.s.pr.Start(ctx, ProbeTarget{
			Instance:   in.name,
			Container:  sl.name,
			Generation: sl.gen,
			Host:       in.pod.IP,
			Started:    sl.hist.Started,
			Admitted:   in.created,
			Exec: func(ctx context.Context, args []string, timeout time.Duration) (runtime.ExecResult, error) {
				return rt.Exec(ctx, c, args, timeout)
			},
			Liveness:  spec.LivenessCheck,
			Readiness: spec.HealthCheck,
			Startup:   spec.StartupCheck,
		})
	}
}

// forwardExit turns the runtime's exit channel into a mailbox message.
func (in *instance) forwardExit(ctx context.Context, ch <-chan runtime.ExitStatus, idx, gen int) {
	select {
	case st, ok := <-ch:
		in.post(exitMsg{idx: idx, gen: gen, status: st, ok: ok})
	case <-ctx.Done():
	}
}

// stopProbes ends the probes of the slot's current container. Results
// of it still queued in the mailbox carry its generation: onProbe drops
// them once the slot holds a newer container or none.
func (in *instance) stopProbes(sl *slot) {
	if sl.probes != nil {
		sl.probes.Stop()
		sl.probes = nil
	}
}

func (in *instance) slotByName(name string) *slot {
	for _, sl := range in.slots {
		if sl.name == name {
			return sl
		}
	}
	return nil
}

func (in *instance) onProbe(ctx context.Context, m probeMsg) {
	sl := in.slotByName(m.container)
	if sl == nil || !sl.running || m.gen != sl.gen {
		return // for a container that is gone, going or replaced
	}
	if m.outputOnly {
		ps := sl.probeStatus[m.kind]
		ps.Output, ps.Time = m.output, m.at
		sl.probeStatus[m.kind] = ps
		in.publish()
		return
	}
	sl.probeStatus[m.kind] = ProbeStatus{Result: m.result, Output: m.output, Time: m.at}
	if m.result == ProbeUnknown {
		in.publish()
		return
	}
	// Per-run Unhealthy events are the prober's (ProbeListener.ProbeEvent).
	ok := m.result == ProbeSuccess
	switch m.kind {
	case service.Readiness:
		sl.ready = ok
	case service.Startup:
		if ok {
			sl.started = true
		} else {
			in.killForProbe(ctx, sl, StartupFailed, "startup")
			return
		}
	case service.Liveness:
		sl.live = ok
		if !ok {
			in.killForProbe(ctx, sl, LivenessFailed, "liveness")
			return
		}
	}
	in.refresh()
}

// killForProbe stops a container whose liveness or startup probe failed:
// out of the endpoints first, then the Termination rule (the kubelet
// kills with the pod's grace period too); then the restart decision.
func (in *instance) killForProbe(ctx context.Context, sl *slot, kind ExitKind, probe string) {
	sl.running, sl.ready = false, false
	sl.state, sl.reason = ContainerTerminating, "Killing"
	in.refresh() // removes the endpoint before anything is stopped
	what := "will be restarted"
	if in.s.opts.RestartPolicy == RestartNever {
		what = "will not be restarted (restart policy never)"
	}
	in.event(sl.name, events.Normal, events.Killing, fmt.Sprintf("Container %s failed %s probe, %s", sl.name, probe, what))
	in.stopProbes(sl)
	var st runtime.ExitStatus
	var err error
	if sl.c != nil {
		st, err = in.terminate(ctx, sl.name, sl.c, sl.paused, in.rev.term, "failed "+probe+" probe")
	}
	if ctx.Err() != nil {
		return // teardown finishes the job
	}
	if err != nil {
		in.event(sl.name, events.Warning, events.Failed, fmt.Sprintf("Error stopping container %s: %v", sl.name, err))
	}
	in.ended(ctx, sl, ExitReason{Kind: kind, Code: st.Code, Signal: st.Signal, OOMKilled: st.OOMKilled}, "")
}

func (in *instance) onExit(ctx context.Context, m exitMsg) {
	sl := in.slots[m.idx]
	if m.gen != sl.gen || !sl.running {
		return // a container we stopped ourselves, or an older one
	}
	sl.running, sl.ready = false, false
	sl.state, sl.reason = ContainerTerminated, ""
	in.refresh() // not ready any more: out of the endpoints
	in.stopProbes(sl)
	st := m.status
	exit := ExitReason{Kind: Exited, Code: st.Code, Signal: st.Signal, OOMKilled: st.OOMKilled}
	if !m.ok {
		exit.Code = -1
	}
	typ := events.Normal
	if exit.Failed() {
		typ = events.Warning
	}
	in.event(sl.name, typ, events.Exited, fmt.Sprintf("Container %s %s", sl.name, exit))
	// The task has ended; delete the container and its snapshot.
	if _, err := in.s.rt.Stop(ctx, sl.c, 0); err != nil && ctx.Err() == nil {
		in.s.log.Warn().Err(err).Str("instance", in.name).Str("container", sl.name).Msg("cannot delete the exited container")
	}
	if ctx.Err() != nil {
		return
	}
	in.ended(ctx, sl, exit, "")
}

// ended records how the slot's container ended and acts on the decision:
// restart now, restart after a back-off (CrashLoopBackOff), or stay.
func (in *instance) ended(ctx context.Context, sl *slot, exit ExitReason, detail string) {
	now := time.Now()
	sl.c = nil
	sl.running, sl.ready = false, false
	policy := Decide(in.s.opts.RestartPolicy, in.s.backoff, exit, sl.hist, now)
	d := BlockCrash(policy, in.rev.crashBlock, exit)
	blocked := policy.Action == Restart && d.Action == Stay
	sl.hist = d.Next
	msg := exit.String()
	if detail != "" {
		msg += ": " + detail
	}
	sl.lastExit = &ExitInfo{
		Kind: exit.Kind, Code: exit.Code, Signal: int(exit.Signal), OOMKilled: exit.OOMKilled,
		Failed: exit.Failed(), Reason: exit.Reason(), Message: msg, At: now,
	}
	switch {
	case blocked:
		sl.stay = true
		sl.state, sl.reason = ContainerTerminated, reasonCrashBlocked
		in.message = fmt.Sprintf("container %s %s; kept stopped for inspection (runtime.enable_crash_block): see its logs, `easlocal down` or an update removes it", sl.name, exit)
		in.event(sl.name, events.Warning, events.CrashBlocked, fmt.Sprintf("Container %s %s and is not restarted (runtime.enable_crash_block); instance %s stays, not ready, until down or an update", sl.name, exit, in.name))
		in.refresh()
	case d.Action == Stay:
		sl.stay = true
		sl.state, sl.reason = ContainerTerminated, exit.Reason()
		in.event(sl.name, events.Normal, events.Stopped, fmt.Sprintf("Container %s stays stopped: %s", sl.name, d.Reason))
		in.refresh()
	case d.Delay == 0:
		in.startContainer(ctx, sl)
		in.refresh()
	default:
		sl.state, sl.reason = ContainerWaiting, waitingBackOff
		sl.restartAt = now.Add(d.Delay)
		in.event(sl.name, events.Warning, events.BackOff, fmt.Sprintf("Back-off %s restarting failed container %s (%s)", d.Delay, sl.name, exit))
		in.refresh()
	}
}

// kill sends sig to every running container (easlocal kill).
func (in *instance) kill(ctx context.Context, sig syscall.Signal) error {
	var errs []error
	n := 0
	for _, sl := range in.slots {
		if !sl.running || sl.c == nil {
			continue
		}
		n++
		if sl.paused {
			// A frozen process cannot act on a signal; thaw it so the
			// kill lands now, as a crash would.
			if err := in.s.rt.Resume(ctx, sl.c); err == nil {
				sl.paused = false
			}
		}
		if err := in.s.rt.Kill(ctx, sl.c, sig); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", sl.name, err))
		}
	}
	if n == 0 {
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("instance %s has no running container to kill", in.name))
	}
	in.event("", events.Warning, events.Killed, fmt.Sprintf("Sent signal %d (%s) to every running container of %s", int(sig), sig, in.name))
	return errors.Join(errs...)
}

// pause freezes (or thaws) every running container. A container started
// later (a restart) is not frozen: like a hung process replaced by a
// fresh one.
func (in *instance) pause(ctx context.Context, freeze bool) error {
	var errs []error
	changed := 0
	for _, sl := range in.slots {
		if !sl.running || sl.c == nil || sl.paused == freeze {
			continue
		}
		var err error
		if freeze {
			err = in.s.rt.Pause(ctx, sl.c)
		} else {
			err = in.s.rt.Resume(ctx, sl.c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", sl.name, err))
			continue
		}
		sl.paused = freeze
		changed++
	}
	if changed > 0 && freeze {
		in.event("", events.Normal, events.Paused, "Paused the containers of "+in.name+"; its probes will time out")
	} else if changed > 0 {
		in.event("", events.Normal, events.Resumed, "Resumed the containers of "+in.name)
	}
	return errors.Join(errs...)
}

// teardown runs as the goroutine ends: endpoint removed first, probes
// stopped, containers stopped in parallel by the Termination rule, pod
// removed. It uses a fresh context: ctx is already cancelled.
func (in *instance) teardown(ctx context.Context) {
	in.terminating = true
	in.state = StateTerminating
	in.ready = false
	in.s.ep.Remove(in.name) // before anything is stopped, even if never ready
	in.publish()
	in.s.mu.Lock()
	why := in.stopReason
	in.s.mu.Unlock()
	if why == "" {
		why = "the service is stopping"
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.rev.term.Grace+killWait+30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for _, sl := range in.slots {
		in.stopProbes(sl)
		sl.restartAt = time.Time{}
		if sl.c == nil {
			continue
		}
		sl.running = false
		c, paused := sl.c, sl.paused
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if _, err := in.terminate(tctx, name, c, paused, in.rev.term, why); err != nil {
				// RemovePod below removes whatever is left.
				in.event(name, events.Warning, events.Failed, fmt.Sprintf("Error stopping container %s: %v", name, err))
			}
		}(sl.name)
	}
	wg.Wait()
	for _, sl := range in.slots {
		if sl.c != nil {
			sl.c = nil
			sl.state, sl.reason = ContainerTerminated, "Stopped"
		}
	}
	if in.pod != nil {
		if err := in.s.rt.RemovePod(tctx, in.pod); err != nil {
			in.teardownErr = fmt.Errorf("instance %s: cannot remove the pod: %w", in.name, err)
			in.event("", events.Warning, events.Failed, in.teardownErr.Error())
		}
	}
	in.state = StateStopped
	in.event("", events.Normal, events.Stopped, "Stopped instance "+in.name)
	in.publish()
}
