package admin

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Controller is what the Server needs from a running service. The
// scheduler implements it; the methods are called from HTTP handler
// goroutines, concurrently, so they must be safe for concurrent use.
//
// Errors should wrap ErrNotFound, ErrInvalid or ErrConflict (with %w) so
// the Server answers 404, 400 or 409; any other error is a 500. The error's
// text is shown to the user as is, so make it a sentence that says what is
// wrong and how to fix it.
type Controller interface {
	// Status is a snapshot of the service: every instance and container.
	Status() ServiceStatus
	// Endpoints lists the ready endpoints, in routing order.
	Endpoints() []Endpoint
	// Events returns the retained events with Seq >= since, oldest first,
	// and the Seq the next event will get (pass it as since next time).
	Events(since int) (events []Event, next int)
	// Subscribe delivers every event published after the call until ctx is
	// done; the channel is closed then, or when the service shuts down. A
	// subscriber that falls behind may miss events (seen as a gap in Seq).
	Subscribe(ctx context.Context) <-chan Event
	// Kill sends sig (a canonical name such as "SIGKILL", see ParseSignal)
	// to every container of the instance.
	Kill(instance, sig string) error
	// Pause freezes every container of the instance; Unpause thaws them.
	Pause(instance string) error
	Unpause(instance string) error
	// Scale sets the desired number of instances (n >= 0).
	Scale(n int) error
	// Shutdown starts tearing the service down and returns without waiting;
	// the process unregisters itself and exits when done.
	Shutdown() error
	// LogPath names the log file of a container of an instance; container
	// "" means the instance's first container. The path may change when the
	// container restarts; the Server asks again while following.
	LogPath(instance, container string) (string, error)
}

// Error classes a Controller wraps so the Server picks the status code.
var (
	ErrNotFound = errors.New("not found")         // 404
	ErrInvalid  = errors.New("invalid request")   // 400
	ErrConflict = errors.New("conflicting state") // 409
)

// Errorf returns an error of the given class (ErrNotFound, ErrInvalid,
// ErrConflict) whose text is only the formatted sentence, so users read
// "service demo has no instance demo-7" rather than "not found: ...".
func Errorf(class error, format string, args ...any) error {
	return &classError{class: class, err: fmt.Errorf(format, args...)}
}

type classError struct {
	class error
	err   error
}

func (e *classError) Error() string   { return e.err.Error() }
func (e *classError) Unwrap() []error { return []error{e.class, e.err} }

// ServiceStatus is a snapshot of one running service (GET /v1/status).
type ServiceStatus struct {
	Name       string `json:"name"`
	GatewayURL string `json:"gateway_url,omitempty"`
	// Desired is the number of instances the scheduler keeps (after scale).
	Desired   int              `json:"desired"`
	Instances []InstanceStatus `json:"instances"`
	// NotReady is the service's report of the desired instances that are
	// not ready: each one's state, containers, last exit and last probe
	// outputs. Empty when every desired instance is ready.
	NotReady string `json:"not_ready,omitempty"`
}

// InstanceStatus is one instance (pod) of the service.
type InstanceStatus struct {
	Name string `json:"name"`
	IP   string `json:"ip,omitempty"`
	// State is the scheduler's lifecycle state: Pending, Creating,
	// Starting, Running, CrashLoopBackOff, Terminating, Stopped, Failed.
	State  string `json:"state"`
	Ready  bool   `json:"ready"`
	Paused bool   `json:"paused,omitempty"` // frozen by `easlocal pause`
	// Restarts is the sum of the containers' restart counts.
	Restarts int `json:"restarts"`
	// Reason and Message say why the instance is not ready or running,
	// e.g. "CrashLoopBackOff", "back-off 40s restarting container c0".
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Containers []ContainerStatus `json:"containers"`
}

// ContainerStatus is one container of an instance.
type ContainerStatus struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
	Port  int    `json:"port,omitempty"`
	// State is Waiting, Running, Terminating or Terminated, and Reason
	// says why when it is not Running (CrashLoopBackOff, Completed, ...).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	Ready  bool   `json:"ready"` // readiness probe passing (or none)
	Live   bool   `json:"live"`  // liveness probe passing (or none)
	// Started is true once the startup probe passed (or there is none).
	Started   bool      `json:"started"`
	StartedAt time.Time `json:"started_at,omitzero"`
	Restarts  int       `json:"restarts"`
	// NextRestart is when a crash-loop back-off ends (zero: none pending).
	NextRestart time.Time `json:"next_restart,omitzero"`
	LastExit    *Exit     `json:"last_exit,omitempty"`
	// Probes holds the last result of each probe kind the container has,
	// keyed by kind: "startup", "liveness", "readiness".
	Probes map[string]ProbeResult `json:"probes,omitempty"`
}

// Exit is how a container last ended.
type Exit struct {
	Code      int    `json:"code"`
	Signal    string `json:"signal,omitempty"` // e.g. "SIGKILL"
	OOMKilled bool   `json:"oom_killed,omitempty"`
	// Reason is Completed, Error, OOMKilled, Unhealthy or StartError;
	// Message a sentence such as "killed by SIGKILL".
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	At      time.Time `json:"at,omitzero"`
}

// ProbeResult is the last outcome of one probe.
type ProbeResult struct {
	Result string    `json:"result"` // success, failure or unknown
	Output string    `json:"output,omitempty"`
	At     time.Time `json:"at,omitzero"`
	// Failures and Successes are the current consecutive counts.
	Failures  int `json:"failures,omitempty"`
	Successes int `json:"successes,omitempty"`
}

// Endpoint is one ready instance as the gateway routes to it.
type Endpoint struct {
	Instance string `json:"instance"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
}

// Event types, as in Kubernetes.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event is one thing that happened to the service (GET /v1/events).
// Reasons follow the kubelet's where one exists: Created, Started,
// Killing, Unhealthy, BackOff, Ready, NotReady, Paused, Scaled, ...
type Event struct {
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Instance  string    `json:"instance,omitempty"`
	Container string    `json:"container,omitempty"`
	Type      string    `json:"type"`
	Reason    string    `json:"reason"`
	Message   string    `json:"message"`
}
