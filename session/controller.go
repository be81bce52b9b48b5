package session

import (
	"context"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// controller adapts a running service (scheduler, endpoint set, event
// log, runtime log paths) to admin.Controller. It holds no state of its
// own and checks nothing itself: the scheduler's errors (errdefs classes)
// pass through unchanged.
type controller struct {
	name       string
	gatewayURL string
	sched      *scheduler.Scheduler
	set        *endpoints.Set
	rtcfg      runtime.Config
	events     *events.Log
	shutdown   func()  // starts the teardown; safe to call more than once
	faults     *faults // the active faults (faults.go)
	// svc and probes give the probe advice (advice.go).
	svc    *service.Service
	probes *prober.Manager
}

var _ admin.Controller = (*controller)(nil)

func (c *controller) Status() admin.ServiceStatus {
	st := admin.ServiceStatus{Name: c.name, GatewayURL: c.gatewayURL, Desired: c.sched.Desired()}
	all := c.sched.Status()
	for _, in := range all {
		st.Instances = append(st.Instances, toAdminInstance(in))
	}
	st.NotReady = notReadyReport(st.Desired, all)
	st.Update = updateStatus(c.sched)
	st.Faults = c.faults.List()
	return st
}

func toAdminInstance(in scheduler.InstanceStatus) admin.InstanceStatus {
	out := admin.InstanceStatus{
		Name:     in.Name,
		Revision: in.Revision,
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

func (c *controller) Events(since int) ([]events.Event, int) { return c.events.Events(since) }

func (c *controller) Subscribe(ctx context.Context) <-chan events.Event {
	return c.events.Subscribe(ctx)
}

func (c *controller) Kill(instance string, sig syscall.Signal) error {
	return c.sched.Kill(instance, sig)
}

func (c *controller) Pause(instance string) error   { return c.sched.Pause(instance) }
func (c *controller) Unpause(instance string) error { return c.sched.Unpause(instance) }
func (c *controller) Scale(n int) error             { return c.sched.Scale(n) }

func (c *controller) Shutdown() error {
	c.shutdown()
	return nil
}

func (c *controller) LogPath(instance, container string) (string, error) {
	name, err := c.sched.Container(instance, container)
	if err != nil {
		return "", err
	}
	return c.rtcfg.LogPath(c.name, instance, name), nil
}

func signalName(n int) string {
	if name := unix.SignalName(syscall.Signal(n)); name != "" {
		return name
	}
	return strconv.Itoa(n)
}
