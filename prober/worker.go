package prober

import (
	"context"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// Kubernetes defaults for timing fields left at 0.
const (
	defaultPeriod           = 10 * time.Second
	defaultTimeout          = 1 * time.Second
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// worker probes one kind of one container. Everything below is owned by
// the worker's goroutine except c (shared, guarded by c.mu).
type worker struct {
	c       *Container
	kind    service.ProbeKind
	probe   *service.Probe
	period  time.Duration
	timeout time.Duration
	delay   time.Duration
	success int
	failure int
	// trigger, readiness only, asks for a probe outside the ticker.
	trigger <-chan struct{}

	// lastResult and streak count consecutive equal probe results.
	lastResult Result
	streak     int
}

func newWorker(c *Container, k service.ProbeKind, p *service.Probe) *worker {
	w := &worker{
		c: c, kind: k, probe: p,
		period:  secondsOr(p.PeriodSeconds, defaultPeriod),
		timeout: secondsOr(p.TimeoutSeconds, defaultTimeout),
		delay:   secondsOr(p.InitialDelaySeconds, 0),
		success: p.SuccessThreshold,
		failure: p.FailureThreshold,
	}
	if w.success <= 0 {
		w.success = defaultSuccessThreshold
	}
	if w.failure <= 0 {
		w.failure = defaultFailureThreshold
	}
	return w
}

func secondsOr(n int, def time.Duration) time.Duration {
	if n <= 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// run probes at once (liveness and startup: at the pod's next tick, see
// Target.Admitted), then on every tick until doProbe says stop or ctx
// ends. Ticks that fall due while a probe runs are dropped (the ticker
// keeps at most one), so a slow probe is followed at once by the next.
func (w *worker) run(ctx context.Context) {
	defer w.c.wg.Done()
	if first := w.firstTick(time.Now()); first > 0 {
		t := time.NewTimer(first)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	ticker := time.NewTicker(w.period)
	defer ticker.Stop()
	for w.doProbe(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.trigger:
			// As the kubelet: the period restarts from a manual run.
			ticker.Reset(w.period)
		}
	}
}

// firstTick is how long after now a liveness or startup worker's first
// probe is due: the next tick of a ticker started at the pod's admission,
// as the kubelet's worker, created with the pod, ticks. A probe at the
// very start finds most servers not yet listening, and with the EAS
// default liveness failure_threshold 1 that kills the container.
func (w *worker) firstTick(now time.Time) time.Duration {
	adm := w.c.target.Admitted
	if w.kind == service.Readiness || adm.IsZero() || adm.After(now) {
		return 0
	}
	return w.period - now.Sub(adm)%w.period
}

// doProbe runs one probe when it is due and applies the thresholds. It
// returns false when the worker has nothing left to do: the container's
// probes were stopped, or the worker holds (liveness after publishing
// Failure, startup after publishing anything) until a new Start.
func (w *worker) doProbe(ctx context.Context) (keepGoing bool) {
	if ctx.Err() != nil {
		return false
	}
	c := w.c
	// Skipped while initial_delay_seconds since this container's start
	// has not passed.
	if w.delay > 0 && time.Since(c.target.Started) < w.delay {
		return true
	}
	// Liveness and readiness wait for the startup probe.
	if w.kind != service.Startup && !c.started() {
		return true
	}

	begin := time.Now()
	out, output, err := probeWithTries(ctx, c.m.checkFn, w.probe, c.target, w.timeout)
	took := time.Since(begin)
	if ctx.Err() != nil {
		// Stopped mid-probe: the answer is about a container being torn
		// down, not about its health.
		return false
	}
	var result Result
	switch {
	case err != nil:
		c.m.stats.observe(w.kind, OutcomeUnknown, took)
		c.event(w.kind, events.Warning, events.Unhealthy,
			title(w.kind)+" probe errored and resulted in unknown state: "+err.Error())
		// Neither success nor failure: the run of equal results goes on.
		return true
	case out == outFailure:
		c.m.stats.observe(w.kind, OutcomeFailed, took)
		c.event(w.kind, events.Warning, events.Unhealthy, title(w.kind)+" probe failed: "+output)
		result = Failure
	case out == outWarning:
		c.m.stats.observe(w.kind, OutcomeSuccessful, took)
		c.event(w.kind, events.Warning, events.ProbeWarning, title(w.kind)+" probe warning: "+output)
		result = Success
	default:
		c.m.stats.observe(w.kind, OutcomeSuccessful, took)
		result = Success
	}

	c.m.obs.run(c.target, w.kind, result == Success, took, w.timeout, time.Now())
	if result == w.lastResult {
		w.streak++
	} else {
		w.lastResult, w.streak = result, 1
	}
	if (result == Failure && w.streak < w.failure) || (result == Success && w.streak < w.success) {
		return true // below the threshold: the published result stays
	}
	if result == Failure && w.kind != service.Readiness {
		c.m.obs.failed(c.target, w.kind) // the container is killed now
	}
	c.publish(w.kind, result, output)
	if w.kind == service.Startup || (w.kind == service.Liveness && result == Failure) {
		return false // hold until the container is replaced
	}
	return true
}
