package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// instance is one replica: a pod and its containers, driven by exactly
// one goroutine (run). Other goroutines talk to it only through post
// (the mailbox) and read it only through snap.
type instance struct {
	s       *Scheduler
	name    string
	ordinal int
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns

	stopping bool // scale-down asked it to stop; guarded by s.mu

	// Mailbox: any goroutine appends under mu and wakes run.
	mu    sync.Mutex
	inbox []any
	wake  chan struct{} // cap 1

	snap atomic.Pointer[InstanceStatus] // published by run

	// Owned by the run goroutine.
	state       State
	message     string
	pod         *runtime.Pod
	slots       []*slot
	ready       bool  // as last told to Endpoints
	terminating bool  // teardown has begun
	teardownErr error // final; read by Run after the goroutine ended
}

// slot is one entry of containers[]: successive containers replace each
// other in it. Owned by the instance's run goroutine.
type slot struct {
	idx  int
	name string
	spec *service.Container
	cfg  runtime.ContainerConfig

	c       *runtime.Container // the current container; nil when none exists
	gen     int                // incremented per started container
	running bool               // c is running (not exited, not being stopped)
	state   ContainerState
	reason  string

	live, ready, started bool
	hasReadiness         bool // a readiness probe runs for the current container
	probes               ProbeHandle
	probeStatus          map[ProbeKind]ProbeStatus

	restarts  int
	everRan   bool
	stay      bool // the decision was Stay: no new container comes
	paused    bool // the current container is frozen
	hist      History
	lastExit  *ExitInfo
	restartAt time.Time // end of the back-off; zero when none pending
}

// containerReady: running, started, and readiness-success (no readiness
// probe = ready when running and started).
func (sl *slot) containerReady() bool {
	return sl.running && sl.started && (!sl.hasReadiness || sl.ready)
}

type probeMsg struct {
	container string
	kind      ProbeKind
	result    ProbeResult
	output    string
	at        time.Time
	// outputOnly: a probe ran (and failed) without changing the published
	// result; only its output is kept, so a container that never became
	// ready still says why.
	outputOnly bool
}

type exitMsg struct {
	idx, gen int
	status   runtime.ExitStatus
	ok       bool // false: the Wait channel closed without a status
}

type callMsg struct {
	fn    func(ctx context.Context) error
	reply chan error
}

func newInstance(s *Scheduler, name string, ordinal int, cancel context.CancelFunc) *instance {
	in := &instance{
		s: s, name: name, ordinal: ordinal, cancel: cancel,
		done:  make(chan struct{}),
		wake:  make(chan struct{}, 1),
		state: StatePending,
	}
	for i := range s.svc.Containers {
		in.slots = append(in.slots, &slot{
			idx: i, name: containerName(i), spec: &s.svc.Containers[i],
			state: ContainerWaiting, reason: "ContainerCreating",
		})
	}
	in.snapshot() // the caller (reconcile) notifies watchers
	return in
}

func (in *instance) post(m any) {
	in.mu.Lock()
	in.inbox = append(in.inbox, m)
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// call runs fn on the instance goroutine and returns its error.
func (in *instance) call(fn func(ctx context.Context) error) error {
	reply := make(chan error, 1)
	in.post(callMsg{fn: fn, reply: reply})
	select {
	case err := <-reply:
		return err
	case <-in.done:
		return fmt.Errorf("instance %s is shutting down", in.name)
	}
}

// dropProbeResults discards queued probe results of a container whose
// probes were just stopped: they belong to the container that is gone.
func (in *instance) dropProbeResults(container string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	kept := in.inbox[:0]
	for _, m := range in.inbox {
		if p, ok := m.(probeMsg); ok && p.container == container {
			continue
		}
		kept = append(kept, m)
	}
	clear(in.inbox[len(kept):])
	in.inbox = kept
}

func (in *instance) event(container, typ, reason, msg string) {
	in.s.event(in.name, container, typ, reason, msg)
}

// run is the instance goroutine: create the pod, start the containers,
// then act on exits, probe results, commands and back-off timers until
// ctx is cancelled; then tear down.
func (in *instance) run(ctx context.Context) {
	defer in.s.instanceGone(in)
	defer close(in.done)
	defer in.teardown(ctx)

	if !in.createPod(ctx) {
		return
	}
	for _, sl := range in.slots {
		cfg, err := in.s.containerConfig(in.name, sl.idx)
		if err != nil { // checked by Run already; kept for safety
			in.setFailed(err.Error())
			<-ctx.Done()
			return
		}
		sl.cfg = cfg
	}
	in.state = StateStarting
	in.publish()
	for _, sl := range in.slots {
		if ctx.Err() != nil {
			return
		}
		in.startContainer(ctx, sl)
	}
	in.refresh()

	for ctx.Err() == nil {
		var timer *time.Timer
		var timerC <-chan time.Time
		if due := in.nextRestart(); !due.IsZero() {
			timer = time.NewTimer(time.Until(due))
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
		case <-in.wake:
			in.drain(ctx)
		case <-timerC:
			in.restartDue(ctx)
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// createPod creates the pod, retrying with back-off until it works or
// ctx ends. It reports whether a pod exists.
func (in *instance) createPod(ctx context.Context) bool {
	var h History
	for {
		in.state = StateCreating
		in.publish()
		h.Started = time.Now()
		pod, err := in.s.rt.CreatePod(ctx, runtime.PodConfig{Service: in.s.svc.Metadata.Name, Instance: in.name})
		if err == nil {
			in.pod = pod
			in.message = ""
			in.event("", EventNormal, ReasonCreated, fmt.Sprintf("Created pod %s with IP %s", in.name, pod.IP))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		d := Decide(RestartAlways, in.s.backoff, ExitReason{Kind: StartError}, h, time.Now())
		h = d.Next
		msg := fmt.Sprintf("cannot create the pod: %v", err)
		in.event("", EventWarning, ReasonFailed, fmt.Sprintf("%s; retrying in %s", msg, d.Delay))
		in.setFailed(msg)
		if d.Delay > 0 {
			t := time.NewTimer(d.Delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
			}
		}
	}
}

func (in *instance) setFailed(msg string) {
	in.state = StateFailed
	in.message = msg
	in.publish()
}

func (in *instance) drain(ctx context.Context) {
	for ctx.Err() == nil {
		in.mu.Lock()
		if len(in.inbox) == 0 {
			in.mu.Unlock()
			return
		}
		m := in.inbox[0]
		in.inbox[0] = nil
		in.inbox = in.inbox[1:]
		in.mu.Unlock()
		switch m := m.(type) {
		case probeMsg:
			in.onProbe(ctx, m)
		case exitMsg:
			in.onExit(ctx, m)
		case callMsg:
			err := m.fn(ctx)
			in.refresh() // the caller sees its effect in Status at once
			m.reply <- err
		}
	}
}

func (in *instance) nextRestart() time.Time {
	var due time.Time
	for _, sl := range in.slots {
		if !sl.restartAt.IsZero() && (due.IsZero() || sl.restartAt.Before(due)) {
			due = sl.restartAt
		}
	}
	return due
}

func (in *instance) restartDue(ctx context.Context) {
	now := time.Now()
	for _, sl := range in.slots {
		if !sl.restartAt.IsZero() && !sl.restartAt.After(now) && ctx.Err() == nil {
			sl.restartAt = time.Time{}
			in.startContainer(ctx, sl)
		}
	}
	in.refresh()
}

// startContainer starts a new container in the slot, with fresh probe
// state and workers. A failure to start is handled like an exit.
func (in *instance) startContainer(ctx context.Context, sl *slot) {
	sl.state, sl.reason = ContainerWaiting, "ContainerCreating"
	sl.stay = false
	in.publish()
	sl.hist.Started = time.Now() // a failed start "ran" zero seconds
	c, err := in.s.rt.StartContainer(ctx, in.pod, sl.cfg)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		in.event(sl.name, EventWarning, ReasonFailed, fmt.Sprintf("Error: cannot start container %s: %v", sl.name, err))
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
	sl.probeStatus = map[ProbeKind]ProbeStatus{}
	if probed {
		now := time.Now()
		for kind, p := range map[ProbeKind]*service.Probe{Liveness: sl.spec.LivenessCheck, Readiness: sl.spec.HealthCheck, Startup: sl.spec.StartupCheck} {
			if p == nil {
				continue
			}
			r := ProbeUnknown // startup: not started yet
			switch kind {
			case Liveness:
				r = ProbeSuccess
			case Readiness:
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
	in.event(sl.name, EventNormal, ReasonStarted, fmt.Sprintf("Started container %s (restarts %d)", sl.name, sl.restarts))

	spec := sl.spec
	if in.s.pr != nil && (spec.LivenessCheck != nil || spec.HealthCheck != nil || spec.StartupCheck != nil) {
		rt := in.s.rt
		sl.probes = in.s.pr.Start(ctx, ProbeTarget{
			Instance:  in.name,
			Container: sl.name,
			Host:      in.pod.IP,
			Started:   sl.hist.Started,
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

func (in *instance) stopProbes(sl *slot) {
	if sl.probes != nil {
		sl.probes.Stop()
		sl.probes = nil
	}
	in.dropProbeResults(sl.name)
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
	if sl == nil || !sl.running {
		return // for a container that is gone or going
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
	// Per-run Unhealthy events are the prober's (see RecordEvent).
	ok := m.result == ProbeSuccess
	switch m.kind {
	case Readiness:
		sl.ready = ok
	case Startup:
		if ok {
			sl.started = true
		} else {
			in.killForProbe(ctx, sl, StartupFailed, "startup")
			return
		}
	case Liveness:
		sl.live = ok
		if !ok {
			in.killForProbe(ctx, sl, LivenessFailed, "liveness")
			return
		}
	}
	in.refresh()
}

// killForProbe stops a container whose liveness or startup probe failed:
// out of the endpoints first, then SIGTERM, grace, SIGKILL; then the
// restart decision.
func (in *instance) killForProbe(ctx context.Context, sl *slot, kind ExitKind, probe string) {
	sl.running, sl.ready = false, false
	sl.state, sl.reason = ContainerTerminating, "Killing"
	in.refresh() // removes the endpoint before anything is stopped
	what := "will be restarted"
	if in.s.opts.RestartPolicy == RestartNever {
		what = "will not be restarted (restart policy never)"
	}
	in.event(sl.name, EventNormal, ReasonKilling, fmt.Sprintf("Container %s failed %s probe, %s", sl.name, probe, what))
	in.stopProbes(sl)
	st, err := in.stopContainer(ctx, sl)
	if ctx.Err() != nil {
		return // teardown finishes the job
	}
	if err != nil {
		in.event(sl.name, EventWarning, ReasonFailed, fmt.Sprintf("Error stopping container %s: %v", sl.name, err))
	}
	in.ended(ctx, sl, ExitReason{Kind: kind, Code: st.Code, Signal: st.Signal, OOMKilled: st.OOMKilled}, "")
}

// stopContainer stops (and deletes) the slot's container with the grace
// period (the runtime thaws a frozen container first).
func (in *instance) stopContainer(ctx context.Context, sl *slot) (runtime.ExitStatus, error) {
	if sl.c == nil {
		return runtime.ExitStatus{}, nil
	}
	if sl.paused {
		if err := in.s.rt.Resume(ctx, sl.c); err != nil {
			in.s.log.Debug().Err(err).Str("instance", in.name).Str("container", sl.name).Msg("resume before stop")
		}
	}
	return in.s.rt.Stop(ctx, sl.c, in.s.opts.StopGrace)
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
	typ := EventNormal
	if exit.Failed() {
		typ = EventWarning
	}
	in.event(sl.name, typ, ReasonExited, fmt.Sprintf("Container %s %s", sl.name, exit))
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
	d := Decide(in.s.opts.RestartPolicy, in.s.backoff, exit, sl.hist, now)
	sl.hist = d.Next
	msg := exit.String()
	if detail != "" {
		msg += ": " + detail
	}
	sl.lastExit = &ExitInfo{
		Kind: exit.Kind, Code: exit.Code, Signal: int(exit.Signal), OOMKilled: exit.OOMKilled,
		Reason: exit.Reason(), Message: msg, At: now,
	}
	switch {
	case d.Action == Stay:
		sl.stay = true
		sl.state, sl.reason = ContainerTerminated, exit.Reason()
		in.event(sl.name, EventNormal, ReasonStopped, fmt.Sprintf("Container %s stays stopped: %s", sl.name, d.Reason))
		in.refresh()
	case d.Delay == 0:
		in.startContainer(ctx, sl)
		in.refresh()
	default:
		sl.state, sl.reason = ContainerWaiting, "CrashLoopBackOff"
		sl.restartAt = now.Add(d.Delay)
		in.event(sl.name, EventWarning, ReasonBackOff, fmt.Sprintf("Back-off %s restarting failed container %s (%s)", d.Delay, sl.name, exit))
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
		return fmt.Errorf("instance %s has no running container to kill", in.name)
	}
	in.event("", EventWarning, ReasonKilled, fmt.Sprintf("Sent signal %d (%s) to every running container of %s", int(sig), sig, in.name))
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
		in.event("", EventNormal, ReasonPaused, "Paused the containers of "+in.name+"; its probes will time out")
	} else if changed > 0 {
		in.event("", EventNormal, ReasonResumed, "Resumed the containers of "+in.name)
	}
	return errors.Join(errs...)
}

// refresh recomputes readiness and state, tells Endpoints about a
// readiness change, and publishes the snapshot.
func (in *instance) refresh() {
	ready := in.pod != nil && !in.terminating
	for _, sl := range in.slots {
		if !sl.containerReady() {
			ready = false
		}
	}
	if ready != in.ready {
		in.ready = ready
		if ready {
			port := in.s.svc.Containers[0].Port
			in.s.ep.Set(in.name, endpoints.Endpoint{Instance: in.name, IP: in.pod.IP, Port: port})
			in.event("", EventNormal, ReasonReady, fmt.Sprintf("Instance %s is ready at %s", in.name, endpointString(in.pod.IP.String(), port)))
		} else {
			in.s.ep.Remove(in.name)
			in.event("", EventNormal, ReasonNotReady, fmt.Sprintf("Instance %s is not ready; removed from the endpoints", in.name))
		}
	}
	if in.pod != nil && !in.terminating {
		in.state = in.computeState()
	}
	in.publish()
}

func endpointString(ip string, port int) string { return fmt.Sprintf("%s:%d", ip, port) }

func (in *instance) computeState() State {
	running, terminated, failed, backoff := 0, 0, false, false
	for _, sl := range in.slots {
		switch {
		case sl.running:
			running++
		case sl.stay:
			terminated++
			if sl.lastExit != nil && sl.lastExit.Reason != "Completed" {
				failed = true
			}
		case sl.reason == "CrashLoopBackOff":
			backoff = true
		}
	}
	switch {
	case backoff:
		return StateCrashLoopBackOff
	case terminated == len(in.slots) && failed:
		return StateFailed
	case terminated == len(in.slots):
		return StateStopped
	case running+terminated == len(in.slots):
		return StateRunning
	}
	return StateStarting
}

// teardown runs as the goroutine ends: endpoint removed first, probes
// stopped, containers stopped in parallel with the grace period, pod
// removed. It uses a fresh context: ctx is already cancelled.
func (in *instance) teardown(ctx context.Context) {
	in.terminating = true
	in.state = StateTerminating
	in.ready = false
	in.s.ep.Remove(in.name) // before anything is stopped, even if never ready
	in.publish()
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.s.opts.StopGrace+30*time.Second)
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
			if paused {
				_ = in.s.rt.Resume(tctx, c)
			}
			if _, err := in.s.rt.Stop(tctx, c, in.s.opts.StopGrace); err != nil {
				// RemovePod below removes whatever is left.
				in.event(name, EventWarning, ReasonFailed, fmt.Sprintf("Error stopping container %s: %v", name, err))
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
			in.event("", EventWarning, ReasonFailed, in.teardownErr.Error())
		}
	}
	in.state = StateStopped
	in.event("", EventNormal, ReasonStopped, "Stopped instance "+in.name)
	in.publish()
}

// publish stores a fresh snapshot and wakes status watchers.
func (in *instance) publish() {
	in.snapshot()
	in.s.notify()
}

// snapshot stores a fresh InstanceStatus for readers.
func (in *instance) snapshot() {
	st := &InstanceStatus{
		Name: in.name, Ordinal: in.ordinal, State: in.state, Ready: in.ready,
		Message: in.message,
	}
	if in.pod != nil {
		st.IP = in.pod.IP
	}
	for _, sl := range in.slots {
		cs := ContainerStatus{
			Name: sl.name, Image: sl.spec.Image, Port: sl.spec.Port,
			State: sl.state, Reason: sl.reason,
			Ready: sl.containerReady(), Live: sl.running && sl.live, Started: sl.running && sl.started,
			Restarts: sl.restarts, NextRestart: sl.restartAt,
		}
		if sl.running {
			cs.StartedAt = sl.hist.Started
		}
		if sl.lastExit != nil {
			e := *sl.lastExit
			cs.LastExit = &e
		}
		if len(sl.probeStatus) > 0 {
			cs.Probes = make(map[ProbeKind]ProbeStatus, len(sl.probeStatus))
			for k, v := range sl.probeStatus {
				cs.Probes[k] = v
			}
		}
		cs.Paused = sl.running && sl.paused
		st.Paused = st.Paused || cs.Paused
		st.Restarts += sl.restarts
		st.Containers = append(st.Containers, cs)
	}
	in.snap.Store(st)
}
