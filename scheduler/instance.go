package scheduler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// The instance goroutine and its mailbox. What it does with containers is
// in container.go; how it computes and publishes its status, in status.go.

// instance is one replica: a pod and its containers, driven by exactly
// one goroutine (run). Other goroutines talk to it only through post
// (the mailbox) and read it only through snap.
type instance struct {
	s       *Scheduler
	name    string
	ordinal int
	rev     *revision // what it runs; immutable
	created time.Time // immutable
	// held: a paused update keeps this failed new instance out of the
	// endpoints whatever its probes say.
	held   atomic.Bool
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	stopping   bool   // scale-down or an update asked it to stop; guarded by s.mu
	stopReason string // why, for the Terminating event; guarded by s.mu

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
	gen     int                // incremented per started container; exits and probe results carry it
	running bool               // c is running (not exited, not being stopped)
	state   ContainerState
	reason  string

	live, ready, started bool
	hasReadiness         bool // a readiness probe runs for the current container
	probes               ProbeHandle
	probeStatus          map[service.ProbeKind]ProbeStatus

	restarts  int
	everRan   bool
	stay      bool // the decision was Stay: no new container comes
	paused    bool // the current container is frozen
	hist      History
	lastExit  *ExitInfo
	restartAt time.Time // end of the back-off (CrashLoopBackOff); zero when none pending
}

// containerReady: running, started, and readiness-success (no readiness
// probe = ready when running and started).
func (sl *slot) containerReady() bool {
	return sl.running && sl.started && (!sl.hasReadiness || sl.ready)
}

// Reasons of a Waiting container slot.
const (
	waitingCreating = "ContainerCreating"
	waitingBackOff  = "CrashLoopBackOff"
	// reasonCrashBlocked: a Terminated container kept by crash block.
	reasonCrashBlocked = "CrashBlocked"
)

// probeMsg is a probe result, or only a probe's output, about container
// generation gen of a slot. A result about an older generation (a
// replaced container) is dropped.
type probeMsg struct {
	container string
	gen       int
	kind      service.ProbeKind
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

func newInstance(s *Scheduler, name string, ordinal int, rev *revision, cancel context.CancelFunc) *instance {
	in := &instance{
		s: s, name: name, ordinal: ordinal, rev: rev, cancel: cancel, created: time.Now(),
		done:  make(chan struct{}),
		wake:  make(chan struct{}, 1),
		state: StatePending,
	}
	for i := range rev.svc.Containers {
		in.slots = append(in.slots, &slot{
			idx: i, name: containerName(i), spec: &rev.svc.Containers[i],
			state: ContainerWaiting, reason: waitingCreating,
		})
	}
	in.snapshot() // the caller (reconcile) notifies watchers
	return in
}

// isReady reports the readiness last published.
func (in *instance) isReady() bool {
	st := in.snap.Load()
	return st != nil && st.Ready
}

// hold keeps the instance out of the endpoints from now on.
func (in *instance) hold() {
	in.held.Store(true)
	in.post(callMsg{fn: func(context.Context) error { return nil }, reply: make(chan error, 1)})
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
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("instance %s is shutting down", in.name))
	}
}

func (in *instance) event(container, typ, reason, msg string) {
	in.s.event(events.Ref{Instance: in.name, Container: container}, typ, reason, msg)
}

// run is the instance goroutine: create the pod, start the containers,
// then act on exits, probe results, commands and back-off timers until
// ctx is cancelled; then tear down.
func (in *instance) run(ctx context.Context) {
	defer in.s.instanceGone(in)
	defer close(in.done)
	defer in.teardown(ctx)

	if !in.create(ctx) {
		return
	}

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

// create creates the pod and starts the containers. Both hold one of
// the scheduler's creation tokens (maxCreating), and waiting for one
// ends with ctx: a cancelled scale-up creates nothing more. It reports
// whether the instance got as far as running; a bad container config
// (checked by Run already) leaves it Failed until ctx ends.
func (in *instance) create(ctx context.Context) bool {
	for _, sl := range in.slots {
		cfg, err := in.s.containerConfig(in.rev, in.name, sl.idx)
		if err != nil {
			in.setFailed(err.Error())
			<-ctx.Done()
			return false
		}
		sl.cfg = cfg
	}
	if !in.createPod(ctx) {
		return false
	}
	if !in.acquireCreating(ctx) {
		return false
	}
	defer in.s.releaseCreating()
	in.state = StateStarting
	in.publish()
	for _, sl := range in.slots {
		if ctx.Err() != nil {
			return false
		}
		in.startContainer(ctx, sl)
	}
	in.refresh()
	return true
}

// acquireCreating takes a creation token, or reports false once ctx
// has ended. While it waits the instance's status says why.
func (in *instance) acquireCreating(ctx context.Context) bool {
	s := in.s
	select {
	case s.creating <- struct{}{}:
	default:
		msg := in.message
		in.message = fmt.Sprintf("waiting: at most %d instances are created at once", maxCreating)
		in.publish()
		select {
		case s.creating <- struct{}{}:
			in.message = msg
		case <-ctx.Done():
			return false
		}
	}
	// Both may have been ready and the select chose the token; or Run is
	// ending and ctx, one of many instance contexts cancelled after its
	// parent, has not been reached yet: a token another instance freed on
	// its cancellation must not start a creation.
	if ctx.Err() != nil || s.stopping() {
		s.releaseCreating()
		return false
	}
	return true
}

// stopping reports whether Run's context has ended.
func (s *Scheduler) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runCtx != nil && s.runCtx.Err() != nil
}

func (s *Scheduler) releaseCreating() { <-s.creating }

// createPod creates the pod, retrying with back-off until it works or
// ctx ends. Each attempt holds a creation token; the back-off does not.
// It reports whether a pod exists.
func (in *instance) createPod(ctx context.Context) bool {
	var h History
	for {
		in.state = StateCreating
		in.publish()
		if !in.acquireCreating(ctx) {
			return false
		}
		h.Started = time.Now()
		pod, err := in.s.rt.CreatePod(ctx, runtime.PodConfig{Service: in.s.svc.Metadata.Name, Instance: in.name})
		in.s.releaseCreating()
		if err == nil {
			in.pod = pod
			in.message = ""
			in.event("", events.Normal, events.Created, fmt.Sprintf("Created pod %s with IP %s", in.name, pod.IP))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		d := Decide(RestartAlways, in.s.backoff, ExitReason{Kind: StartError}, h, time.Now())
		h = d.Next
		msg := fmt.Sprintf("cannot create the pod: %v", err)
		in.event("", events.Warning, events.Failed, fmt.Sprintf("%s; retrying in %s", msg, d.Delay))
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
