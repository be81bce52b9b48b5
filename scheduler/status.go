package scheduler

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

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
	Name    string     `json:"name"`
	Ordinal int        `json:"ordinal"`
	IP      netip.Addr `json:"ip"`
	State   State      `json:"state"`
	Ready   bool       `json:"ready"`
	Paused  bool       `json:"paused,omitempty"`
	// Restarts is the sum over the containers.
	Restarts int `json:"restarts"`
	// Message says why the instance is in its state when that is not
	// obvious (e.g. the pod could not be created).
	Message    string            `json:"message,omitempty"`
	Containers []ContainerStatus `json:"containers"`
}

// ContainerStatus is a snapshot of one container slot of an instance.
type ContainerStatus struct {
	Name     string         `json:"name"`
	Image    string         `json:"image"`
	Port     int            `json:"port"`
	State    ContainerState `json:"state"`
	Reason   string         `json:"reason,omitempty"`
	Ready    bool           `json:"ready"`
	Live     bool           `json:"live"`
	Started  bool           `json:"started"`
	Restarts int            `json:"restarts"`
	Paused   bool           `json:"paused,omitempty"`
	// StartedAt is the current container's start (zero when none runs).
	StartedAt time.Time `json:"startedAt,omitzero"`
	// NextRestart is when a back-off ends (zero when none is pending).
	NextRestart time.Time `json:"nextRestart,omitzero"`
	LastExit    *ExitInfo `json:"lastExit,omitempty"`
	// Probes holds the last result seen per probe kind, this container.
	Probes map[ProbeKind]ProbeStatus `json:"probes,omitempty"`
}

// ExitInfo describes how the previous container of a slot ended.
type ExitInfo struct {
	Kind      ExitKind  `json:"kind"`
	Code      int       `json:"code"`
	Signal    int       `json:"signal,omitempty"`
	OOMKilled bool      `json:"oomKilled,omitempty"`
	Reason    string    `json:"reason"` // Completed, Error, OOMKilled, Unhealthy, StartError
	Message   string    `json:"message"`
	At        time.Time `json:"at"`
}

// ProbeStatus is the last published result of one probe.
type ProbeStatus struct {
	Result ProbeResult `json:"result"`
	Output string      `json:"output,omitempty"`
	Time   time.Time   `json:"time"`
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
		fmt.Fprintf(&b, "\n  instance %s: %s", in.Name, in.State)
		if in.Message != "" {
			fmt.Fprintf(&b, ": %s", in.Message)
		}
		for _, c := range in.Containers {
			fmt.Fprintf(&b, "\n    container %s (%s): %s", c.Name, c.Image, c.State)
			if c.Reason != "" {
				fmt.Fprintf(&b, " (%s)", c.Reason)
			}
			fmt.Fprintf(&b, ", ready=%t started=%t, restarts %d", c.Ready, c.Started, c.Restarts)
			if c.LastExit != nil {
				fmt.Fprintf(&b, "\n      last exit: %s", c.LastExit.Message)
			}
			for _, k := range []ProbeKind{Startup, Liveness, Readiness} {
				if p, ok := c.Probes[k]; ok {
					fmt.Fprintf(&b, "\n      %s probe: %s", k, p.Result)
					if out := strings.TrimSpace(p.Output); out != "" {
						fmt.Fprintf(&b, ": %s", truncate(out, 300))
					}
				}
			}
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
