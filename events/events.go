package events

import "time"

// Event is one thing that happened to the service, named as a Kubernetes
// user knows it. Seq numbers events from 1 in the order Log stored them.
type Event struct {
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Instance  string    `json:"instance,omitempty"`
	Container string    `json:"container,omitempty"`
	// Type is Normal or Warning.
	Type    string `json:"type"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// Event types, as in Kubernetes.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// Reasons. They follow the kubelet's where one exists.
const (
	// Scheduler: instance and container lifecycle.
	Pulled       = "Pulled"
	Created      = "Created" // pod (network namespace + IP) created
	Started      = "Started" // container started
	Failed       = "Failed"  // pod or container could not be created/started/stopped
	Killing      = "Killing" // liveness or startup failure: the container is stopped
	BackOff      = "BackOff"
	Exited       = "Exited"
	Ready        = "Ready"
	NotReady     = "NotReady"
	Paused       = "Paused"
	Resumed      = "Resumed"
	Stopped      = "Stopped" // pod removed, or a container stays stopped
	Scaled       = "Scaled"
	Killed       = "Killed" // easlocal kill sent a signal, or SIGKILL ended a grace period
	MountUnbound = "MountNotBound"
	LogDropped   = "LogDropped" // container output could not be kept

	// Prober: one per probe run that deserves one.
	Unhealthy    = "Unhealthy"
	ProbeWarning = "ProbeWarning"

	// Gateway: the endpoint list changed.
	EndpointAdded   = "EndpointAdded"
	EndpointRemoved = "EndpointRemoved"
	// Gateway: a limit started refusing requests (429, 450, or 408 after
	// waiting in a queue); again after a quiet minute.
	Limited = "Limited"

	// Faults: injected (easlocal fault, easlocal test) and reverted.
	FaultInjected = "FaultInjected"
	FaultReverted = "FaultReverted"
)

// Reasons of the service lifecycle: termination, crash block and
// rolling updates.
const (
	// Terminating: a container is being taken away (endpoint removed,
	// grace period, with or without SIGTERM); Exited or Killed follow.
	Terminating = "Terminating"
	// CrashBlocked: runtime.enable_crash_block kept a crashed container
	// stopped for inspection.
	CrashBlocked = "CrashBlocked"
	// Rolling updates: each step, a pause (a new instance failed) and the end.
	RollingUpdate  = "RollingUpdate"
	UpdatePaused   = "UpdatePaused"
	UpdateComplete = "UpdateComplete"
)

// Ref names what an event is about: an instance, one of its containers,
// or (both empty) the service itself.
type Ref struct {
	Instance, Container string
}

// Recorder receives events. Implementations must be safe for concurrent
// use and must not block: instance goroutines and probe workers call it.
type Recorder interface {
	// Event records an event of eventtype (Normal or Warning) with a
	// reason from this package and a message sentence.
	Event(ref Ref, eventtype, reason, message string)
	// Eventf is Event with a formatted message.
	Eventf(ref Ref, eventtype, reason, format string, args ...any)
}

// Discard is a Recorder that drops every event.
var Discard Recorder = discard{}

type discard struct{}

func (discard) Event(Ref, string, string, string)          {}
func (discard) Eventf(Ref, string, string, string, ...any) {}
