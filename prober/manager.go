package prober

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// DefaultUserAgent is sent by http_get probes: the kubelet sends
// kube-probe/<major>.<minor>; easlocal pretends to be Kubernetes 1.33.
const DefaultUserAgent = "kube-probe/1.33"

// Options configure a Manager. Zero values mean the defaults.
type Options struct {
	Logger zerolog.Logger // default: disabled
	// Listener receives transitions and events (default: dropped).
	Listener Listener
	// UserAgent of http_get probes (default DefaultUserAgent).
	UserAgent string
}

// Manager runs probes for any number of containers. It is safe for
// concurrent use.
type Manager struct {
	log       zerolog.Logger
	listener  Listener
	userAgent string
	stats     statsRecorder
	obs       observer
	// checkFn runs one probe attempt; tests replace it with a fake inside a
	// synctest bubble. Set before Start, read-only afterwards.
	checkFn checkFunc
}

// NewManager returns a Manager.
func NewManager(opts Options) *Manager {
	m := &Manager{
		log:       opts.Logger,
		listener:  opts.Listener,
		userAgent: opts.UserAgent,
	}
	if m.listener == nil {
		m.listener = nopListener{}
	}
	if m.userAgent == "" {
		m.userAgent = DefaultUserAgent
	}
	m.checkFn = m.check
	return m
}

// Stats returns a snapshot of the probe counters and durations.
func (m *Manager) Stats() Stats { return m.stats.snapshot() }

// Container is the probing of one container: one worker goroutine per
// configured probe kind. It lives until Stop or until the Start context is
// cancelled; a restarted container needs a new Start.
type Container struct {
	m      *Manager
	target Target
	log    zerolog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// readyTrigger asks the readiness worker for an immediate probe
	// (buffered 1, sends never block); nil without a readiness probe.
	// Written only by Start.
	readyTrigger chan struct{}
	// mu guards results, which every worker reads (startup gating) and
	// each worker writes for its own kind.
	mu      sync.Mutex
	results map[service.ProbeKind]Result
}

// Start begins probing the container t with the probes in s and returns at
// once. Published results start as the kubelet's for a new container:
// liveness Success, readiness Failure (not ready), startup Unknown; a kind
// without a probe is Success for good. Every worker probes once at once,
// then every period.
func (m *Manager) Start(ctx context.Context, t Target, s Specs) *Container {
	ctx, cancel := context.WithCancel(ctx)
	m.obs.start(t)
	c := &Container{
		m:       m,
		target:  t,
		log:     m.log.With().Str("instance", t.Instance).Str("container", t.Container).Logger(),
		cancel:  cancel,
		results: make(map[service.ProbeKind]Result, len(kinds)),
	}
	initial := map[service.ProbeKind]Result{service.Liveness: Success, service.Readiness: Failure, service.Startup: Unknown}
	var workers []*worker
	for _, k := range kinds {
		p := s.get(k)
		if p == nil {
			c.results[k] = Success
			continue
		}
		c.results[k] = initial[k]
		w := newWorker(c, k, p)
		if k == service.Readiness {
			c.readyTrigger = make(chan struct{}, 1)
			w.trigger = c.readyTrigger
		}
		workers = append(workers, w)
	}
	c.wg.Add(len(workers))
	for _, w := range workers {
		go w.run(ctx)
	}
	return c
}

// Stop ends every worker of the container and waits for them to exit; no
// Listener call for this container happens after Stop returns. A probe in
// flight is abandoned and not counted. Stop is idempotent.
func (c *Container) Stop() {
	c.cancel()
	c.wg.Wait()
}

// State returns the published results. ready alone is not "ready to serve":
// the instance is an endpoint only when the container runs, started is
// Success and ready is Success.
func (c *Container) State() (live, ready, started Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results[service.Liveness], c.results[service.Readiness], c.results[service.Startup]
}

// started reports whether liveness and readiness may run.
func (c *Container) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results[service.Startup] == Success
}

// publish sets the result of kind k and, when it changed, tells the
// listener. Like a kubelet pod sync after any probe update, a change makes
// a started but not-ready container run its readiness probe at once.
func (c *Container) publish(k service.ProbeKind, r Result, output string) {
	c.mu.Lock()
	prev := c.results[k]
	c.results[k] = r
	triggerReady := c.results[service.Startup] == Success && c.results[service.Readiness] != Success
	c.mu.Unlock()
	if prev == r {
		return
	}
	now := time.Now()
	c.log.Info().Str("probe", string(k)).Stringer("result", r).Stringer("previous", prev).Msg("probe result changed")
	c.m.listener.ProbeChanged(Transition{
		Instance: c.target.Instance, Container: c.target.Container, Generation: c.target.Generation,
		Kind: k, Result: r, Previous: prev, Output: output, Time: now,
	})
	if triggerReady && c.readyTrigger != nil {
		select {
		case c.readyTrigger <- struct{}{}:
		default: // a run is already pending
		}
	}
}

func (c *Container) event(k service.ProbeKind, typ, reason, msg string) {
	c.log.Debug().Str("probe", string(k)).Str("reason", reason).Msg(msg)
	c.m.listener.ProbeEvent(k, c.target.Generation, events.Event{
		Time: time.Now(), Instance: c.target.Instance, Container: c.target.Container,
		Type: typ, Reason: reason, Message: msg,
	})
}
