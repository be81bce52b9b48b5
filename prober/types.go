package prober

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// kinds lists every probe kind, in the order workers are started.
var kinds = [...]service.ProbeKind{service.Liveness, service.Readiness, service.Startup}

// title is the kubelet's spelling in event messages ("Liveness probe failed: ...").
func title(k service.ProbeKind) string {
	if k == "" {
		return "Unknown"
	}
	return strings.ToUpper(string(k[:1])) + string(k[1:])
}

// Result is a published probe result.
type Result int

const (
	// Unknown is the initial startup result: the container has not started.
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// ExecFunc runs args inside the container. It returns the exit code and the
// combined output (the prober keeps at most 10 KiB). The function must kill
// a command that outlives timeout and then return an error wrapping
// ErrExecTimedOut. Any other error means "the probe could not be run"
// (not a failure): the prober retries and then discards the attempt.
// ctx is cancelled when the container's probes stop and carries a hard
// deadline of timeout+ExecGrace; a context.DeadlineExceeded from it counts
// as a timeout too.
type ExecFunc func(ctx context.Context, args []string, timeout time.Duration) (exitCode int, output []byte, err error)

// ErrExecTimedOut is what an ExecFunc returns (wrapped) when the command
// outlived its timeout and was killed. The probe then fails with the
// kubelet's message `command "<args>" timed out`.
var ErrExecTimedOut = errors.New("exec probe timed out")

// ExecGrace is how long after the probe timeout the prober itself gives up
// on an ExecFunc that did not return (the kubelet gives the runtime 2
// minutes; a local tool should not stall that long).
const ExecGrace = 10 * time.Second

// Target is one container to probe. The scheduler builds a new Target for
// every container it starts (restarts included).
type Target struct {
	// Instance and Container name the container in transitions, events and logs.
	Instance, Container string
	// Host is the instance's IP: http_get and tcp_socket probes connect to
	// it from the host.
	Host netip.Addr
	// Started is when this container started; initial_delay_seconds counts
	// from here.
	Started time.Time
	// Admitted is when the container's pod was admitted. The kubelet's
	// workers tick from there, not from a container's start, so the
	// first liveness and startup probe of a (re)started container comes
	// 0 to one period after its start; readiness still runs at once.
	// Zero: every kind runs at Start.
	Admitted time.Time
	// Generation tells successive containers of one name apart; it is
	// handed back in every Transition and event, so the caller can drop
	// a result about a container it has replaced.
	Generation int
	// Exec runs exec probes; nil makes every exec probe an error.
	Exec ExecFunc
}

// Specs are the container's probes; nil means "no such probe". Zero timing
// fields fall back to the kubelet defaults (period 10 s, timeout 1 s,
// thresholds 1 and 3, no initial delay); service.Parse has normally filled
// in the EAS defaults already.
type Specs struct {
	Liveness, Readiness, Startup *service.Probe
}

func (s Specs) get(k service.ProbeKind) *service.Probe {
	switch k {
	case service.Liveness:
		return s.Liveness
	case service.Readiness:
		return s.Readiness
	case service.Startup:
		return s.Startup
	}
	return nil
}

// Transition is a change of a published result.
type Transition struct {
	Instance, Container string
	Generation          int // Target.Generation
	Kind                service.ProbeKind
	Result              Result // the new published result
	Previous            Result
	// Output is what the probe that caused the change said (a failure
	// message, or the response body / command output on success).
	Output string
	Time   time.Time
}

// Listener receives results. Its methods are called from the probe
// workers' goroutines, possibly concurrently for different kinds and
// containers (in order for one container and kind). They must return
// quickly and must not call (*Container).Stop of the same container
// synchronously: Stop waits for the workers, so hand the work to another
// goroutine.
//
// ProbeEvent gets a Kubernetes-style event about one run of the probe of
// that kind on that container generation (Target.Generation), e.g.
// Warning Unhealthy "Liveness probe failed: HTTP probe failed with
// statuscode: 500" (reason events.Unhealthy or events.ProbeWarning).
type Listener interface {
	ProbeChanged(Transition)
	ProbeEvent(kind service.ProbeKind, generation int, e events.Event)
}

type nopListener struct{}

func (nopListener) ProbeChanged(Transition)                         {}
func (nopListener) ProbeEvent(service.ProbeKind, int, events.Event) {}
