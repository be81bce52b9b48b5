package scheduler

import (
	"context"
	"net/netip"
	"time"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// Small interfaces where they are used; prober_adapter.go adapts package
// prober to them and *endpoints.Set implements Endpoints.

// ProbeResult is a published probe result.
type ProbeResult int

const (
	ProbeUnknown ProbeResult = iota
	ProbeSuccess
	ProbeFailure
)

func (r ProbeResult) String() string {
	switch r {
	case ProbeSuccess:
		return "success"
	case ProbeFailure:
		return "failure"
	}
	return "unknown"
}

// ProbeTarget is one started container to probe. A new container (every
// restart) gets a new target and so fresh probe workers.
type ProbeTarget struct {
	Instance  string
	Container string
	// Generation numbers the containers of one slot; every result for
	// this target must be delivered with it (see ProbeChanged).
	Generation int
	Host       netip.Addr // the pod's IP
	Started    time.Time  // this container's start (initial_delay counts from it)
	// Admitted is when the instance was admitted: liveness and startup
	// probes tick from there, as the kubelet's workers do.
	Admitted time.Time
	// Exec runs a command in this container (exec probes). TimedOut in the
	// result means the command outlived timeout and was killed: a failure.
	Exec func(ctx context.Context, args []string, timeout time.Duration) (runtime.ExecResult, error)
	// Probe specs of the container; nil = no such probe.
	Liveness, Readiness, Startup *service.Probe
}

// ProbeHandle stops the probes of one target.
type ProbeHandle interface {
	// Stop ends the target's workers. When it returns, no more results
	// for this target may be delivered to ProbeChanged (results already
	// delivered carry the target's generation and are discarded by the
	// scheduler). Idempotent.
	Stop()
}

// Prober starts the probes of one container. Results come back through
// (*Scheduler).ProbeChanged, called by ProbeListener from the
// prober's listener, as transitions of the published result. The initial
// results assumed for a new container are the kubelet's: liveness
// success, readiness failure, startup unknown (not started) when a
// startup probe exists.
type Prober interface {
	Start(ctx context.Context, t ProbeTarget) ProbeHandle
}

// Endpoints is the live list of ready instances; *endpoints.Set
// implements it. Set adds or updates, Remove is idempotent; both are
// called from instance goroutines, so the implementation must be safe for
// concurrent use and must not block long.
type Endpoints interface {
	Set(instance string, ep endpoints.Endpoint)
	Remove(instance string)
}
