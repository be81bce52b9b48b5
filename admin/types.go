package admin

import (
	"context"
	"syscall"
	"time"

	"github.com/easlocal/easlocal/events"
)

// Controller is what the Server needs from a running service; the
// session adapts the scheduler, the endpoint set and the event log to it
// (admintest.Fake is one for tests). The methods are called from HTTP
// handler goroutines, concurrently, so they must be safe for concurrent
// use.
//
// Errors carry a github.com/containerd/errdefs class (errdefs.ErrNotFound
// for an unknown instance or container, ErrInvalidArgument,
// ErrFailedPrecondition, ErrConflict, ...); the Server maps it to the HTTP
// status with errhttp, and the Client maps the status back, so callers
// test errdefs.IsNotFound(err). An error without a class is a 500. The
// error's text is shown to the user as is, so make it a sentence that
// says what is wrong and how to fix it.
type Controller interface {
	// Status is a snapshot of the service: every instance and container.
	Status() ServiceStatus
	// Endpoints lists the ready endpoints, in routing order.
	Endpoints() []Endpoint
	// Events returns the retained events with Seq >= since, oldest first,
	// and the Seq the next event will get (pass it as since next time).
	Events(since int) (evs []events.Event, next int)
	// Subscribe delivers every event published after the call until ctx is
	// done; the channel is closed then, or when the service shuts down. A
	// subscriber that falls behind may miss events (seen as a gap in Seq).
	Subscribe(ctx context.Context) <-chan events.Event
	// Kill sends sig to every running container of the instance (the
	// Server parses what the user wrote with ParseSignal).
	Kill(instance string, sig syscall.Signal) error
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

// ServiceStatus is a snapshot of one running service (GET /v1/status).
type ServiceStatus struct {
	Name       string `json:"name"`
	GatewayURL string `json:"gateway_url,omitempty"`
	// Desired is the number of instances the scheduler keeps (after scale).
	Desired   int              `json:"desired"`
	Instances []InstanceStatus `json:"instances"`
	// Update is the last rolling update (`easlocal update`/`restart`);
	// nil when there has been none.
	Update *UpdateStatus `json:"update,omitempty"`
	// NotReady is the service's report of the desired instances that are
	// not ready: each one's state, containers, last exit and last probe
	// outputs. Empty when every desired instance is ready.
	NotReady string `json:"not_ready,omitempty"`
	// Faults are the active injected faults (faults.go).
	Faults []Fault `json:"faults,omitempty"`
}

// LiveReady counts the instances that are not terminating (what an
// update's max_surge bounds) and how many of those are ready (what its
// max_unavailable bounds).
func (s ServiceStatus) LiveReady() (live, ready int) {
	for _, in := range s.Instances {
		if in.State == "Terminating" {
			continue
		}
		live++
		if in.Ready {
			ready++
		}
	}
	return live, ready
}

// InstanceStatus is one instance (pod) of the service.
type InstanceStatus struct {
	Name string `json:"name"`
	// Revision is the revision of service.json it runs: 1 from up, one
	// more per update or restart.
	Revision int    `json:"revision,omitempty"`
	IP       string `json:"ip,omitempty"`
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
}

// Endpoint is one ready instance as the gateway routes to it.
type Endpoint struct {
	Instance string `json:"instance"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
}

// Event is an event as GET /v1/events sends it; the one event type of
// easlocal, named here for the API's clients.
type Event = events.Event
