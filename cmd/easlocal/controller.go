package main

import (
	"context"
	"fmt"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// controller adapts a running service (scheduler, endpoint set, runtime
// log paths) to admin.Controller. It holds no state of its own beyond the
// event log, which the session's event pump fills.
type controller struct {
	name       string
	gatewayURL string
	sched      *scheduler.Scheduler
	set        *endpoints.Set
	rtcfg      runtime.Config
	events     *admin.EventLog
	shutdown   func() // starts the teardown; safe to call more than once
	// maxInstances is --max-instances (0: service.DefaultMaxInstances).
	maxInstances int
}

var _ admin.Controller = (*controller)(nil)

func (c *controller) Status() admin.ServiceStatus {
	st := admin.ServiceStatus{Name: c.name, GatewayURL: c.gatewayURL, Desired: c.sched.Desired()}
	for _, in := range c.sched.Status() {
		st.Instances = append(st.Instances, toAdminInstance(in))
	}
	return st
}

func toAdminInstance(in scheduler.InstanceStatus) admin.InstanceStatus {
	out := admin.InstanceStatus{
		Name:     in.Name,
		State:    string(in.State),
		Ready:    in.Ready,
		Paused:   in.Paused,
		Restarts: in.Restarts,
		Message:  in.Message,
	}
	if in.IP.IsValid() {
		out.IP = in.IP.String()
	}
	for _, ct := range in.Containers {
		ac := admin.ContainerStatus{
			Name: ct.Name, Image: ct.Image, Port: ct.Port,
			State: string(ct.State), Reason: ct.Reason,
			Ready: ct.Ready, Live: ct.Live, Started: ct.Started,
			StartedAt: ct.StartedAt, Restarts: ct.Restarts, NextRestart: ct.NextRestart,
		}
		if ct.Reason != "" && out.Reason == "" && ct.State != scheduler.ContainerRunning {
			out.Reason = ct.Reason
		}
		if e := ct.LastExit; e != nil {
			ae := &admin.Exit{Code: e.Code, OOMKilled: e.OOMKilled, Reason: e.Reason, Message: e.Message, At: e.At}
			if e.Signal != 0 {
				ae.Signal = signalName(e.Signal)
			}
			ac.LastExit = ae
		}
		if len(ct.Probes) > 0 {
			ac.Probes = make(map[string]admin.ProbeResult, len(ct.Probes))
			for k, p := range ct.Probes {
				ac.Probes[string(k)] = admin.ProbeResult{Result: p.Result.String(), Output: p.Output, At: p.Time}
			}
		}
		out.Containers = append(out.Containers, ac)
	}
	return out
}

func (c *controller) Endpoints() []admin.Endpoint {
	snap := c.set.Snapshot()
	out := make([]admin.Endpoint, 0, snap.Len())
	for _, ep := range snap.Endpoints {
		out = append(out, admin.Endpoint{Instance: ep.Instance, IP: ep.IP.String(), Port: ep.Port})
	}
	return out
}

func (c *controller) Events(since int) ([]admin.Event, int) { return c.events.Events(since) }

func (c *controller) Subscribe(ctx context.Context) <-chan admin.Event {
	return c.events.Subscribe(ctx)
}

// instance maps an unknown instance name to admin.ErrNotFound (404).
func (c *controller) instance(name string) error {
	for _, in := range c.sched.Status() {
		if in.Name == name {
			return nil
		}
	}
	return admin.Errorf(admin.ErrNotFound, "service %s has no instance %q; see `easlocal ps %s` for the names", c.name, name, c.name)
}

func (c *controller) Kill(instance, sig string) error {
	if err := c.instance(instance); err != nil {
		return err
	}
	_, num, err := admin.ParseSignal(sig)
	if err != nil {
		return err
	}
	return c.sched.Kill(instance, num)
}

func (c *controller) Pause(instance string) error {
	if err := c.instance(instance); err != nil {
		return err
	}
	return c.sched.Pause(instance)
}

func (c *controller) Unpause(instance string) error {
	if err := c.instance(instance); err != nil {
		return err
	}
	return c.sched.Unpause(instance)
}

func (c *controller) Scale(n int) error {
	if n < 0 {
		return admin.Errorf(admin.ErrInvalid, "cannot scale to %d instances; give 0 or more", n)
	}
	limit := c.maxInstances
	if limit <= 0 {
		limit = service.DefaultMaxInstances
	}
	if n > limit {
		return admin.Errorf(admin.ErrInvalid, "cannot scale to %d instances: at most %d run on one machine; start the service with --max-instances N to raise the limit", n, limit)
	}
	return c.sched.Scale(n)
}

func (c *controller) Shutdown() error {
	c.shutdown()
	return nil
}

func (c *controller) LogPath(instance, container string) (string, error) {
	if err := c.instance(instance); err != nil {
		return "", err
	}
	for _, in := range c.sched.Status() {
		if in.Name != instance {
			continue
		}
		for _, ct := range in.Containers {
			if container == "" {
				container = ct.Name // the first container
			}
			if ct.Name == container {
				return c.rtcfg.LogPath(c.name, instance, container), nil
			}
		}
	}
	return "", admin.Errorf(admin.ErrNotFound, "instance %s has no container %q", instance, container)
}

// toAdminEvent converts a scheduler event for the admin event log.
func toAdminEvent(e scheduler.Event) admin.Event {
	return admin.Event{Time: e.Time, Instance: e.Instance, Container: e.Container, Type: e.Type, Reason: e.Reason, Message: e.Message}
}

func signalName(n int) string {
	name, _, err := admin.ParseSignal(fmt.Sprint(n))
	if err != nil {
		return fmt.Sprint(n)
	}
	return name
}
