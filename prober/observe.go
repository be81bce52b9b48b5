package prober

import (
	"slices"
	"sync"
	"time"

	"github.com/easlocal/easlocal/service"
)

// What the prober saw of each container, for advice about probe
// settings: how long after its start each kind first succeeded, how
// often it failed before, and how long the runs took. Keyed by instance
// and container name, so the numbers outlive restarts (a new Start of
// the same names is a new generation of one container).

// LatencyWindow is how many recent runs per container and kind the
// latency percentiles are computed over.
const LatencyWindow = 128

// ContainerKey names one container of one instance.
type ContainerKey struct{ Instance, Container string }

// KindObservation is what one probe kind of one container showed.
type KindObservation struct {
	// Succeeded: a run of this kind succeeded in some generation;
	// FirstSuccess is then the time from that generation's start
	// (Target.Started) to the end of its first successful run, and
	// FailuresBeforeSuccess the failed runs before it. Both are about the
	// latest generation that had a success.
	Succeeded             bool
	FirstSuccess          time.Duration
	FailuresBeforeSuccess int
	// FailingNow counts the failed runs of the current generation while it
	// has had no success yet (0 once it has).
	FailingNow int
	// KilledBeforeSuccess counts generations whose liveness or startup
	// probe published Failure before any run of that kind succeeded: the
	// container was restarted before it ever answered the probe.
	KilledBeforeSuccess int
	// Runs counts the runs that gave a verdict (successful or failed),
	// every generation; TimedOut those that failed after running for the
	// whole timeout.
	Runs, TimedOut int
	// Latency of the last LatencyWindow runs (successful and failed).
	Latency Latency
}

// Latency summarises run durations (nearest-rank percentiles).
type Latency struct {
	Samples       int
	P50, P99, Max time.Duration
}

// ContainerObservation is what the prober saw of one container.
type ContainerObservation struct {
	// Generation and Started are those of the latest Start.
	Generation int
	Started    time.Time
	Kinds      map[service.ProbeKind]KindObservation
}

// Observations returns a snapshot for every container ever started,
// keyed by instance and container; the caller owns it.
func (m *Manager) Observations() map[ContainerKey]ContainerObservation {
	return m.obs.snapshot()
}

// observer is guarded by mu; workers of any container call it.
type observer struct {
	mu sync.Mutex
	m  map[ContainerKey]*containerObs
}

type containerObs struct {
	gen     int
	started time.Time
	kinds   map[service.ProbeKind]*kindObs
}

type kindObs struct {
	KindObservation
	// gen is the generation the pending counters are about;
	// succeededThisGen whether it has had a success.
	gen              int
	succeededThisGen bool
	ring             []time.Duration // LatencyWindow at most, oldest overwritten
	next             int
}

func (o *observer) container(t Target) *containerObs {
	if o.m == nil {
		o.m = make(map[ContainerKey]*containerObs)
	}
	k := ContainerKey{t.Instance, t.Container}
	c := o.m[k]
	if c == nil {
		c = &containerObs{kinds: make(map[service.ProbeKind]*kindObs)}
		o.m[k] = c
	}
	return c
}

// start records a new generation of the container.
func (o *observer) start(t Target) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.container(t)
	c.gen, c.started = t.Generation, t.Started
}

// kind returns the kind's record, its pending counters reset when t is
// a newer generation than they are about. Called with mu held.
func (o *observer) kind(t Target, k service.ProbeKind) *kindObs {
	c := o.container(t)
	ko := c.kinds[k]
	if ko == nil {
		ko = &kindObs{gen: t.Generation}
		c.kinds[k] = ko
	}
	if ko.gen != t.Generation {
		ko.gen, ko.succeededThisGen, ko.FailingNow = t.Generation, false, 0
	}
	return ko
}

// run records one run that gave a verdict, ending at end.
func (o *observer) run(t Target, k service.ProbeKind, success bool, took, timeout time.Duration, end time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ko := o.kind(t, k)
	ko.Runs++
	if len(ko.ring) < LatencyWindow {
		ko.ring = append(ko.ring, took)
	} else {
		ko.ring[ko.next] = took
		ko.next = (ko.next + 1) % LatencyWindow
	}
	switch {
	case !success:
		if took >= timeout {
			ko.TimedOut++
		}
		if !ko.succeededThisGen {
			ko.FailingNow++
		}
	case !ko.succeededThisGen:
		ko.succeededThisGen = true
		ko.Succeeded = true
		ko.FirstSuccess = end.Sub(t.Started)
		ko.FailuresBeforeSuccess = ko.FailingNow
		ko.FailingNow = 0
	}
}

// failed records that the kind published Failure (liveness and startup:
// the container is killed).
func (o *observer) failed(t Target, k service.ProbeKind) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ko := o.kind(t, k); !ko.succeededThisGen {
		ko.KilledBeforeSuccess++
	}
}

func (o *observer) snapshot() map[ContainerKey]ContainerObservation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[ContainerKey]ContainerObservation, len(o.m))
	for key, c := range o.m {
		co := ContainerObservation{Generation: c.gen, Started: c.started, Kinds: make(map[service.ProbeKind]KindObservation, len(c.kinds))}
		for k, ko := range c.kinds {
			v := ko.KindObservation
			if ko.gen != c.gen {
				v.FailingNow = 0 // about a generation that is gone
			}
			v.Latency = latency(ko.ring)
			co.Kinds[k] = v
		}
		out[key] = co
	}
	return out
}

func latency(ring []time.Duration) Latency {
	if len(ring) == 0 {
		return Latency{}
	}
	s := slices.Clone(ring)
	slices.Sort(s)
	rank := func(p int) time.Duration {
		i := (p*len(s)+99)/100 - 1 // nearest rank: ceil(p/100 × n)
		return s[max(i, 0)]
	}
	return Latency{Samples: len(s), P50: rank(50), P99: rank(99), Max: s[len(s)-1]}
}
