package scenario

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/containerd/errdefs"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/loadgen"
)

// FaultInjector injects faults into a running service and reverts them.
// Inject returns the id Clear reverts the fault by ("" for a fault that
// needs no revert, such as kill). ClearAll reverts every fault still
// active; the runner calls it on teardown whatever happened.
type FaultInjector interface {
	// Supports reports whether the kind can be injected.
	Supports(kind string) bool
	Inject(ctx context.Context, f Fault, instance string) (id string, err error)
	Clear(ctx context.Context, id string) error
	ClearAll(ctx context.Context) error
}

// Observer is what the runner reads from the running service.
type Observer interface {
	Status(ctx context.Context) (admin.ServiceStatus, error)
	Endpoints(ctx context.Context) ([]admin.Endpoint, error)
	Events(ctx context.Context, since int) ([]events.Event, int, error)
}

// Loader drives the scenario's load until its duration has passed or ctx
// ends; started says when recording began.
type Loader func(ctx context.Context) (*loadgen.Result, error)

// sampleEvery is how often the runner reads status, endpoints and events.
const sampleEvery = 250 * time.Millisecond

// sample is one reading of the service.
type sample struct {
	At        time.Time
	Endpoints int
	Ready     map[string]bool // instance -> ready
	Restarts  map[string]int  // instance -> restarts
	Desired   int
	AllReady  bool
}

// FaultRun is what happened to one fault of the schedule.
type FaultRun struct {
	Index    int       `json:"index"`
	Fault    string    `json:"fault"`              // Describe()
	Instance string    `json:"instance,omitempty"` // the instance name it hit
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"` // cleared, or (instant faults) the instance was ready again
	Error    string    `json:"error,omitempty"`

	id       string
	restarts int // the instance's restarts before the fault
}

// measurement is everything a run observed; execute's goroutine owns it
// until execute returns.
type measurement struct {
	Start, LoadEnd, End time.Time
	Records             []loadgen.Record
	Samples             []sample
	Events              []events.Event
	Faults              []FaultRun
	// Recovered is when every instance was ready again after the last
	// fault ended (zero: not seen). LastFaultEnd is that end.
	Recovered, LastFaultEnd time.Time
	Interrupted             bool
	// Order is the instance names as the service first listed them: the
	// order fault and restart indexes refer to.
	Order   []string
	LoadErr error
}

// action is one step of the schedule: fault Index starts or ends.
type action struct {
	At    time.Duration
	Index int
	Start bool
}

// schedule orders the starts and timed ends of the faults; at the same
// time, ends come before starts so a fault ending at 8s and one starting
// at 8s on the same instance do not overlap.
func schedule(faults []Fault) []action {
	var out []action
	for i, f := range faults {
		out = append(out, action{At: f.At, Index: i, Start: true})
		if f.For > 0 {
			out = append(out, action{At: f.At + f.For, Index: i})
		}
	}
	slices.SortStableFunc(out, func(a, b action) int {
		if c := cmp.Compare(a.At, b.At); c != 0 {
			return c
		}
		if a.Start != b.Start {
			if a.Start {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return out
}

// instant reports whether a fault kind is over once injected (the
// instance then recovers by itself).
func instant(kind string) bool { return kind == Kill || kind == Exit }

// execute runs the load and the fault schedule against a service that is
// up and ready, sampling it, and returns what it measured. It returns
// when the load is over, every fault has ended and (with an expectation
// on recovery) the service recovered or the time for it passed, or when
// ctx ends. Faults still active are left to the caller's ClearAll.
func execute(ctx context.Context, sc Scenario, obs Observer, inj FaultInjector, load Loader) *measurement {
	m := &measurement{Start: time.Now()}
	for i, f := range sc.Faults {
		m.Faults = append(m.Faults, FaultRun{Index: i, Fault: f.Describe()})
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	type loadResult struct {
		res *loadgen.Result
		err error
	}
	loadDone := make(chan loadResult, 1)
	go func() {
		r, err := load(loadCtx)
		loadDone <- loadResult{r, err}
	}()

	acts := schedule(sc.Faults)
	next := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	if len(acts) > 0 {
		timer.Reset(acts[0].At)
	} else {
		timer.Stop()
	}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	since := 0
	var last sample
	readService := func() {
		s, ok := m.read(ctx, obs)
		if ok {
			last = s
			m.Samples = append(m.Samples, s)
		}
		evs, nxt, err := obs.Events(ctx, since)
		if err == nil {
			m.Events = append(m.Events, evs...)
			since = nxt
		}
	}
	readService()
	loadOver := false
	var recoverBy time.Time
	for {
		select {
		case <-ctx.Done():
		case <-timer.C:
			for next < len(acts) && time.Since(m.Start) >= acts[next].At {
				m.act(ctx, sc, acts[next], inj, last)
				next++
			}
			if next < len(acts) {
				timer.Reset(acts[next].At - time.Since(m.Start))
			}
		case <-tick.C:
			readService()
		case r := <-loadDone:
			loadOver = true
			m.LoadEnd = time.Now()
			m.LoadErr = r.err
			if r.res != nil {
				m.Records = r.res.Records
			}
			// Faults that outlast the load end with it.
			for ; next < len(acts); next++ {
				if !acts[next].Start {
					m.act(ctx, sc, acts[next], inj, last)
				}
			}
		}
		if ctx.Err() != nil {
			// Also when the load ended because ctx did: that is no normal end.
			m.Interrupted = true
			break
		}
		m.trackRecovery(sc, last)
		if !loadOver || next < len(acts) {
			continue
		}
		if sc.Expect.RecoveredWithin == nil || !m.Recovered.IsZero() {
			break
		}
		if recoverBy.IsZero() {
			recoverBy = m.lastFaultEnd(sc).Add(*sc.Expect.RecoveredWithin)
		}
		if !time.Now().Before(recoverBy) {
			break
		}
	}
	stopLoad()
	if !loadOver {
		r := <-loadDone
		m.LoadEnd = time.Now()
		if r.res != nil {
			m.Records = r.res.Records
		}
	}
	if !m.Interrupted {
		readService()
	}
	m.LastFaultEnd = m.lastFaultEnd(sc)
	m.End = time.Now()
	return m
}

// read takes one sample of the service.
func (m *measurement) read(ctx context.Context, obs Observer) (sample, bool) {
	st, err := obs.Status(ctx)
	if err != nil {
		return sample{}, false
	}
	eps, err := obs.Endpoints(ctx)
	if err != nil {
		return sample{}, false
	}
	s := sample{At: time.Now(), Endpoints: len(eps), Ready: map[string]bool{}, Restarts: map[string]int{},
		Desired: st.Desired, AllReady: admin.Ready(st)}
	for _, in := range st.Instances {
		s.Ready[in.Name] = in.Ready
		s.Restarts[in.Name] = in.Restarts
	}
	if m.Order == nil {
		for _, in := range st.Instances {
			m.Order = append(m.Order, in.Name)
		}
	}
	return s, true
}

// instanceName resolves a fault's instance against the last status:
// an index is the position in the service's instance list.
func instanceName(f Fault, names []string) (string, error) {
	if f.Index < 0 {
		return f.Instance, nil
	}
	if f.Index >= len(names) {
		return "", fmt.Errorf("the service has %d instance(s), so there is no instance %d", len(names), f.Index)
	}
	return names[f.Index], nil
}

// act carries out one step of the schedule.
func (m *measurement) act(ctx context.Context, sc Scenario, a action, inj FaultInjector, last sample) {
	fr := &m.Faults[a.Index]
	f := sc.Faults[a.Index]
	if !a.Start {
		if fr.Error != "" || fr.Started.IsZero() || !fr.Ended.IsZero() {
			return
		}
		if fr.id != "" {
			if err := inj.Clear(ctx, fr.id); err != nil && !errdefs.IsNotFound(err) {
				fr.Error = fmt.Sprintf("could not revert the fault: %v", err)
			}
		}
		fr.Ended = time.Now()
		return
	}
	name, err := instanceName(f, m.Order)
	if err != nil {
		fr.Error = err.Error()
		return
	}
	fr.Instance = name
	fr.restarts = last.Restarts[name]
	fr.Started = time.Now()
	id, err := inj.Inject(ctx, f, name)
	if err == nil {
		fr.id = id
		return
	}
	fr.Started = time.Time{} // not injected: no phase
	fr.Error = fmt.Sprintf("could not inject the fault: %v", err)
}

// trackRecovery notes when instant faults are over (their instance
// restarted and is ready) and when the whole service recovered after the
// last fault.
func (m *measurement) trackRecovery(sc Scenario, s sample) {
	if s.At.IsZero() {
		return
	}
	for i := range m.Faults {
		fr := &m.Faults[i]
		if !instant(sc.Faults[i].Kind) || fr.Started.IsZero() || !fr.Ended.IsZero() || fr.Error != "" {
			continue
		}
		if s.At.After(fr.Started) && s.Ready[fr.Instance] && s.Restarts[fr.Instance] > fr.restarts {
			fr.Ended = s.At
		}
	}
	if !m.Recovered.IsZero() || !m.allEnded(sc) {
		return
	}
	if s.AllReady && !s.At.Before(m.lastFaultEnd(sc)) {
		m.Recovered = s.At
	}
}

// allEnded reports whether every fault of the schedule has started and
// ended (instant ones: their instance is back).
func (m *measurement) allEnded(sc Scenario) bool {
	for i, fr := range m.Faults {
		if fr.Error != "" {
			continue
		}
		if fr.Started.IsZero() {
			return false
		}
		if fr.Ended.IsZero() && (sc.Faults[i].For > 0 || instant(sc.Faults[i].Kind)) {
			return false
		}
	}
	return true
}

// lastFaultEnd is when the last fault ended: cleared, or (instant and
// self-ending faults) injected.
func (m *measurement) lastFaultEnd(sc Scenario) time.Time {
	var t time.Time
	for i, fr := range m.Faults {
		end := fr.Started
		if sc.Faults[i].For > 0 && !fr.Ended.IsZero() {
			end = fr.Ended
		}
		if end.After(t) {
			t = end
		}
	}
	return t
}
