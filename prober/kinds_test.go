package prober

import (
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// Short names for the probe kinds in this package's tests.
type Kind = service.ProbeKind

const (
	Liveness  = service.Liveness
	Readiness = service.Readiness
	Startup   = service.Startup
)

// probeEvent is one Listener.ProbeEvent call.
type probeEvent struct {
	Kind       Kind
	Generation int
	events.Event
}
