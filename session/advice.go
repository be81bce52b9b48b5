package session

import (
	"context"
	"fmt"
	"time"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/advise"
	"github.com/easlocal/easlocal/internal/tick"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

var _ admin.AdviceController = (*controller)(nil)

// Advice implements admin.AdviceController: package advise over the
// service and what the prober saw of the current instances.
func (c *controller) Advice() admin.AdviceReport {
	return adviceReport(c.svc, c.sched.Status(), c.probes.Observations())
}

// adviceReport joins the instances the scheduler has now with the
// prober's observations (which also remember instances scaled away) and
// runs the advisor.
func adviceReport(svc *service.Service, all []scheduler.InstanceStatus, obs map[prober.ContainerKey]prober.ContainerObservation) admin.AdviceReport {
	rep := admin.AdviceReport{Service: svc.Metadata.Name}
	var in []advise.Observed
	for _, inst := range all {
		for i, ct := range inst.Containers {
			o, ok := obs[prober.ContainerKey{Instance: inst.Name, Container: ct.Name}]
			if !ok {
				continue
			}
			ao := advise.Observed{Instance: inst.Name, Container: i, Probes: map[service.ProbeKind]advise.Probe{}}
			oc := admin.ObservedContainer{Instance: inst.Name, Container: ct.Name, Restarts: ct.Restarts, Probes: map[string]admin.ObservedProbe{}}
			for k, ko := range o.Kinds {
				ao.Probes[k] = ko
				oc.Probes[string(k)] = admin.ObservedProbe{
					Succeeded: ko.Succeeded, FirstSuccess: seconds(ko.FirstSuccess), FailuresBeforeSuccess: ko.FailuresBeforeSuccess,
					FailingNow: ko.FailingNow, KilledBeforeSuccess: ko.KilledBeforeSuccess, Runs: ko.Runs, TimedOut: ko.TimedOut,
					Samples: ko.Latency.Samples, P50: seconds(ko.Latency.P50), P99: seconds(ko.Latency.P99), Max: seconds(ko.Latency.Max),
				}
			}
			in = append(in, ao)
			rep.Observed = append(rep.Observed, oc)
		}
	}
	for _, a := range advise.Advise(svc, in) {
		rep.Advice = append(rep.Advice, admin.Advice{
			Container: a.Container, Instance: a.Instance, Probe: string(a.Kind),
			Rule: string(a.Rule), Risk: a.Risk, Message: a.Message,
		})
	}
	return rep
}

// seconds rounds to the millisecond, enough for advice and stable JSON.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// adviceInterval is how often a foreground `up` looks for new advice.
const adviceInterval = 5 * time.Second

// watchAdvice prints each advice at risk once, as it appears (a slow
// start shows once the container first passes or is killed, latencies
// once enough probes ran), until ctx ends.
func (s *Session) watchAdvice(ctx context.Context, every time.Duration) {
	defer s.bg.Done()
	shown := map[string]bool{}
	tick.Every(ctx, every, func() error {
		for _, a := range s.advice().Risks() {
			key := a.Container + " " + a.Probe + " " + a.Rule
			if shown[key] {
				continue
			}
			shown[key] = true
			fmt.Fprintf(s.opts.Out, "advice: %s (easlocal advise %s)\n", admin.FormatAdvice(a), s.svc.Metadata.Name)
		}
		return nil
	})
}
