package scheduler

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// Status of instances: the snapshot types readers get, how an instance
// goroutine computes and publishes them, and the not-ready report.

// State is an instance's place in the lifecycle (see doc.go).
type State string

const (
	StatePending          State = "Pending"
	StateCreating         State = "Creating"
	StateStarting         State = "Starting"
	StateRunning          State = "Running"
	StateCrashLoopBackOff State = "CrashLoopBackOff"
	StateTerminating      State = "Terminating"
	StateStopped          State = "Stopped"
	StateFailed           State = "Failed"
)

// ContainerState is a container slot's state, as Kubernetes shows it.
type ContainerState string

const (
	// ContainerWaiting: not running yet or again; Reason says why
	// (ContainerCreating, CrashLoopBackOff, StartError).
	ContainerWaiting ContainerState = "Waiting"
	ContainerRunning ContainerState = "Running"
	// ContainerTerminating: being stopped by the scheduler.
	ContainerTerminating ContainerState = "Terminating"
	// ContainerTerminated: ended and staying stopped; Reason is
	// Completed, Error, OOMKilled or Unhealthy.
	ContainerTerminated ContainerState = "Terminated"
)

// InstanceStatus is a snapshot of one instance.
type InstanceStatus struct {
	Name    string
	Ordinal int
	// Revision is the revision of the spec it runs: 1 from up, +1 per
	// update or restart.
	Revision int
	IP       netip.Addr
	State    State
	Ready    bool
	Paused   bool
	// Restarts is the sum over the containers.
	Restarts int
	// Message says why the instance is in its state when that is not
	// obvious (e.g. the pod could not be created).
	Message    string
	Containers []ContainerStatus
}

// ContainerStatus is a snapshot of one container slot of an instance.
type ContainerStatus struct {
	Name     string
	Image    string
	Port     int
	State    ContainerState
	Reason   string
	Ready    bool
	Live     bool
	Started  bool
	Restarts int
	Paused   bool
	// StartedAt is the current container's start (zero when none runs).
	StartedAt time.Time
	// NextRestart is when a back-off ends (zero when none is pending).
	NextRestart time.Time
	LastExit    *ExitInfo
	// Probes holds the last result seen per probe kind, this container.
	Probes map[service.ProbeKind]ProbeStatus
}

// ExitInfo describes how the previous container of a slot ended.
type ExitInfo struct {
	Kind      ExitKind
	Code      int
	Signal    int
	OOMKilled bool
	// Failed: the end counts as a failure (ExitReason.Failed).
	Failed  bool
	Reason  string // Completed, Error, OOMKilled, Unhealthy, StartError (display only)
	Message string
	At      time.Time
}

// ProbeStatus is the last published result of one probe.
type ProbeStatus struct {
	Result ProbeResult
	Output string
	Time   time.Time
}

// refresh recomputes readiness and state, tells Endpoints about a
// readiness change, and publishes the snapshot.
func (in *instance) refresh() {
	ready := in.pod != nil && !in.terminating && !in.held.Load()
	for _, sl := range in.slots {
		if !sl.containerReady() {
			ready = false
		}
	}
	if ready != in.ready {
		in.ready = ready
		if ready {
			port := in.rev.port()
			in.s.ep.Set(in.name, endpoints.Endpoint{Instance: in.name, IP: in.pod.IP, Port: port})
			in.event("", events.Normal, events.Ready, fmt.Sprintf("Instance %s is ready at %s", in.name, endpointString(in.pod.IP.String(), port)))
		} else {
			in.s.ep.Remove(in.name)
			in.event("", events.Normal, events.NotReady, fmt.Sprintf("Instance %s is not ready; removed from the endpoints", in.name))
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
			if sl.lastExit != nil && sl.lastExit.Failed {
				failed = true
			}
		case !sl.restartAt.IsZero():
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

// publish stores a fresh snapshot, wakes status watchers and has Run's
// goroutine look again (readiness drives scaling and updates).
func (in *instance) publish() {
	in.snapshot()
	in.s.notify()
	in.s.poke()
}

// snapshot stores a fresh InstanceStatus for readers.
func (in *instance) snapshot() {
	st := &InstanceStatus{
		Name: in.name, Ordinal: in.ordinal, Revision: in.rev.num, State: in.state, Ready: in.ready,
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
			cs.Probes = make(map[service.ProbeKind]ProbeStatus, len(sl.probeStatus))
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

// NotReadyError is what WaitReady returns when its context ends first:
// the instances that are not ready, with why.
type NotReadyError struct {
	Want     int
	NotReady []InstanceStatus
	Cause    error // the context's error, or why the scheduler stopped
}

func (e *NotReadyError) Unwrap() error { return e.Cause }

func (e *NotReadyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d instances are not ready", len(e.NotReady), e.Want)
	if e.Cause != nil {
		fmt.Fprintf(&b, " (%v)", e.Cause)
	}
	b.WriteString(":")
	for _, in := range e.NotReady {
		describeInstance(&b, in)
	}
	return b.String()
}

// describeInstance writes why in is not ready: its state, and per
// container the state, last exit and last probe outputs.
func describeInstance(b *strings.Builder, in InstanceStatus) {
	fmt.Fprintf(b, "\n  instance %s: %s", in.Name, in.State)
	if in.Message != "" {
		fmt.Fprintf(b, ": %s", in.Message)
	}
	for _, c := range in.Containers {
		fmt.Fprintf(b, "\n    container %s (%s): %s", c.Name, c.Image, c.State)
		if c.Reason != "" {
			fmt.Fprintf(b, " (%s)", c.Reason)
		}
		fmt.Fprintf(b, ", ready=%t started=%t, restarts %d", c.Ready, c.Started, c.Restarts)
		if c.LastExit != nil {
			fmt.Fprintf(b, "\n      last exit: %s", c.LastExit.Message)
		}
		for _, k := range service.ProbeKinds {
			if p, ok := c.Probes[k]; ok {
				fmt.Fprintf(b, "\n      %s probe: %s", k, p.Result)
				if out := strings.TrimSpace(p.Output); out != "" {
					fmt.Fprintf(b, ": %s", truncate(out, 300))
				}
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
