// Package schedctl adapts a running scheduler to admin.Controller, so
// `easlocal up` serves the control API with:
//
//	ctrl := schedctl.New(sched, schedctl.Options{
//		Service:    svc.Metadata.Name,
//		GatewayURL: gatewayURL,
//		Endpoints:  schedctl.EndpointsOf(epSet),
//		LogPath:    func(inst, ctr string) string { return rtCfg.LogPath(svc.Metadata.Name, inst, ctr) },
//		Shutdown:   cancelUp, // starts the teardown
//	})
//	defer ctrl.Close()
//	srv := admin.NewServer(ctrl, admin.Options{...})
//
// Create it before the scheduler's Run so every event is numbered.
package schedctl

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/scheduler"
)

// Scheduler is what the adapter uses of *scheduler.Scheduler.
type Scheduler interface {
	Status() []scheduler.InstanceStatus
	Desired() int
	Events() []scheduler.Event
	Subscribe() (<-chan scheduler.Event, func())
	Kill(instance string, sig syscall.Signal) error
	Pause(instance string) error
	Unpause(instance string) error
	Scale(n int) error
}

var _ Scheduler = (*scheduler.Scheduler)(nil)

// Options says what the scheduler does not know itself.
type Options struct {
	Service    string // metadata.name
	GatewayURL string
	// Endpoints lists the ready endpoints (see EndpointsOf); nil: none.
	Endpoints func() []admin.Endpoint
	// LogPath names a container's log file; the runtime appends to it
	// across restarts (runtime.Config.LogPath).
	LogPath func(instance, container string) string
	// Shutdown starts tearing the service down and returns at once.
	Shutdown func()
	// EventBuffer is how many events the control API keeps (default 1000).
	EventBuffer int
}

// Controller implements admin.Controller over a Scheduler.
type Controller struct {
	s      Scheduler
	opts   Options
	events *admin.EventLog

	unsubscribe func()
	pumped      chan struct{} // closed when the event pump has returned
	closeOnce   sync.Once
}

var _ admin.Controller = (*Controller)(nil)

// New starts copying the scheduler's events into a numbered log. Close
// stops it.
func New(s Scheduler, opts Options) *Controller {
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 1000
	}
	c := &Controller{s: s, opts: opts, events: admin.NewEventLog(opts.EventBuffer), pumped: make(chan struct{})}
	// Subscribe before reading the history; the overlap is dropped below.
	ch, unsub := s.Subscribe()
	c.unsubscribe = unsub
	backlog := s.Events()
	seen := make(map[scheduler.Event]bool, len(backlog))
	for _, e := range backlog {
		c.events.Publish(convertEvent(e))
		seen[e] = true
	}
	// The pump goroutine owns seen.
	go func() {
		defer close(c.pumped)
		for e := range ch {
			if seen != nil {
				if seen[e] {
					continue // published between Subscribe and Events
				}
				seen = nil // past the overlap: no more duplicates possible
			}
			c.events.Publish(convertEvent(e))
		}
	}()
	return c
}

// Close stops copying events and ends the followers' event streams.
// Idempotent.
func (c *Controller) Close() {
	c.closeOnce.Do(func() {
		c.unsubscribe()
		<-c.pumped
		c.events.Close()
	})
}

// Status converts the scheduler's snapshot.
func (c *Controller) Status() admin.ServiceStatus {
	st := admin.ServiceStatus{Name: c.opts.Service, GatewayURL: c.opts.GatewayURL, Desired: c.s.Desired(),
		Instances: []admin.InstanceStatus{}}
	for _, in := range c.s.Status() {
		st.Instances = append(st.Instances, convertInstance(in))
	}
	return st
}

func convertInstance(in scheduler.InstanceStatus) admin.InstanceStatus {
	out := admin.InstanceStatus{
		Name: in.Name, State: string(in.State), Ready: in.Ready, Paused: in.Paused,
		Restarts: in.Restarts, Message: in.Message, Containers: []admin.ContainerStatus{},
	}
	if in.IP.IsValid() {
		out.IP = in.IP.String()
	}
	for _, ct := range in.Containers {
		cs := admin.ContainerStatus{
			Name: ct.Name, Image: ct.Image, Port: ct.Port, State: string(ct.State), Reason: ct.Reason,
			Ready: ct.Ready, Live: ct.Live, Started: ct.Started, StartedAt: ct.StartedAt,
			Restarts: ct.Restarts, NextRestart: ct.NextRestart,
		}
		if x := ct.LastExit; x != nil {
			cs.LastExit = &admin.Exit{Code: x.Code, OOMKilled: x.OOMKilled, Reason: x.Reason, Message: x.Message, At: x.At}
			if x.Signal != 0 {
				cs.LastExit.Signal = unix.SignalName(syscall.Signal(x.Signal))
			}
		}
		if len(ct.Probes) > 0 {
			cs.Probes = make(map[string]admin.ProbeResult, len(ct.Probes))
			for kind, p := range ct.Probes {
				cs.Probes[string(kind)] = admin.ProbeResult{Result: p.Result.String(), Output: p.Output, At: p.Time}
			}
		}
		out.Containers = append(out.Containers, cs)
	}
	return out
}

func convertEvent(e scheduler.Event) admin.Event {
	return admin.Event{Time: e.Time, Instance: e.Instance, Container: e.Container, Type: e.Type, Reason: e.Reason, Message: e.Message}
}

// EndpointsOf lists a set's ready endpoints for Options.Endpoints.
func EndpointsOf(set *endpoints.Set) func() []admin.Endpoint {
	return func() []admin.Endpoint {
		snap := set.Snapshot()
		out := make([]admin.Endpoint, 0, snap.Len())
		for _, ep := range snap.Endpoints {
			out = append(out, admin.Endpoint{Instance: ep.Instance, IP: ep.IP.String(), Port: ep.Port})
		}
		return out
	}
}

// Endpoints lists the ready endpoints.
func (c *Controller) Endpoints() []admin.Endpoint {
	if c.opts.Endpoints == nil {
		return nil
	}
	return c.opts.Endpoints()
}

// Events returns the numbered history.
func (c *Controller) Events(since int) ([]admin.Event, int) { return c.events.Events(since) }

// Subscribe delivers new events until ctx is done or Close.
func (c *Controller) Subscribe(ctx context.Context) <-chan admin.Event {
	return c.events.Subscribe(ctx)
}

// Kill converts the signal name the Server passes.
func (c *Controller) Kill(instance, sig string) error {
	_, num, err := admin.ParseSignal(sig)
	if err != nil {
		return err
	}
	return c.classify(instance, c.s.Kill(instance, num))
}

func (c *Controller) Pause(instance string) error {
	return c.classify(instance, c.s.Pause(instance))
}

func (c *Controller) Unpause(instance string) error {
	return c.classify(instance, c.s.Unpause(instance))
}

func (c *Controller) Scale(n int) error {
	if n < 0 {
		return admin.Errorf(admin.ErrInvalid, "cannot scale to %d instances; give 0 or more", n)
	}
	return c.s.Scale(n)
}

// Shutdown starts the teardown.
func (c *Controller) Shutdown() error {
	if c.opts.Shutdown == nil {
		return errors.New("this service cannot be stopped through its control API; stop the `easlocal up` process")
	}
	c.opts.Shutdown()
	return nil
}

// LogPath resolves container "" to the instance's first container and
// answers ErrNotFound for names the service does not have.
func (c *Controller) LogPath(instance, container string) (string, error) {
	in, ok := c.instance(instance)
	if !ok {
		return "", admin.Errorf(admin.ErrNotFound, "service %s has no instance %q", c.opts.Service, instance)
	}
	var names []string
	for _, ct := range in.Containers {
		if container == "" || ct.Name == container {
			if c.opts.LogPath == nil {
				return "", errors.New("this service does not keep log files")
			}
			return c.opts.LogPath(instance, ct.Name), nil
		}
		names = append(names, ct.Name)
	}
	return "", admin.Errorf(admin.ErrNotFound, "instance %s has no container %q (it has: %s)", instance, container, strings.Join(names, ", "))
}

func (c *Controller) instance(name string) (scheduler.InstanceStatus, bool) {
	for _, in := range c.s.Status() {
		if in.Name == name {
			return in, true
		}
	}
	return scheduler.InstanceStatus{}, false
}

// classify marks an error about an instance that has gone as ErrNotFound
// (it was scaled away between the Server's check and the call).
func (c *Controller) classify(instance string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := c.instance(instance); !ok {
		return admin.Errorf(admin.ErrNotFound, "%w", err)
	}
	return err
}
