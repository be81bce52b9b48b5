package prober

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/service"
)

// The timeline tests run inside a testing/synctest bubble: time is fake,
// so a 60-second timeline takes microseconds. The probe itself is faked
// (no network inside the bubble); the real checkers are tested against
// httptest servers elsewhere.

// appFunc answers probe attempt n (0-based, per kind) made at time at
// (since the harness started).
type appFunc func(k Kind, n int, at time.Duration) (outcome, string, error)

// at is one recorded transition, time relative to the harness start.
type at struct {
	At     time.Duration
	Kind   Kind
	Result Result
}

func (a at) String() string { return fmt.Sprintf("%v %s=%s", a.At, a.Kind, a.Result) }

type harness struct {
	t     *testing.T
	t0    time.Time
	m     *Manager
	specs Specs
	app   appFunc

	mu          sync.Mutex
	kindOf      map[*service.Probe]Kind
	calls       map[Kind][]time.Duration // when each attempt started
	transitions []at
	events      []probeEvent
}

// newHarness must be called inside the bubble. Probes in specs get an
// http_get action when they have none, so they are well-formed.
func newHarness(t *testing.T, specs Specs, app appFunc) *harness {
	h := &harness{
		t: t, t0: time.Now(), specs: specs, app: app,
		kindOf: map[*service.Probe]Kind{},
		calls:  map[Kind][]time.Duration{},
	}
	for _, k := range kinds {
		if p := specs.get(k); p != nil {
			if p.HTTPGet == nil && p.TCPSocket == nil && p.Exec == nil {
				p.HTTPGet = &service.HTTPGetAction{Path: "/", Port: 8000}
			}
			h.kindOf[p] = k
		}
	}
	h.m = NewManager(Options{Listener: h})
	h.m.checkFn = h.check
	return h
}

// withHarness runs body in a synctest bubble with a harness for specs
// and app, so that the probes' timers run on the bubble's clock.
func withHarness(t *testing.T, specs Specs, app appFunc, body func(t *testing.T, h *harness)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		body(t, newHarness(t, specs, app))
	})
}

func (h *harness) since() time.Duration { return time.Since(h.t0) }

func (h *harness) check(ctx context.Context, p *service.Probe, tg Target, timeout time.Duration) (outcome, string, error) {
	k := h.kindOf[p]
	h.mu.Lock()
	n := len(h.calls[k])
	h.calls[k] = append(h.calls[k], h.since())
	h.mu.Unlock()
	if h.app == nil {
		return h.m.check(ctx, p, tg, timeout) // real checker (exec only in a bubble)
	}
	return h.app(k, n, h.since())
}

func (h *harness) ProbeChanged(tr Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.transitions = append(h.transitions, at{tr.Time.Sub(h.t0), tr.Kind, tr.Result})
}

func (h *harness) ProbeEvent(k Kind, gen int, e events.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, probeEvent{k, gen, e})
}

// start starts a container that started at the current (fake) time.
func (h *harness) start() *Container {
	return h.startTarget(Target{Instance: "demo-0", Container: "c0",
		Host: netip.MustParseAddr("10.213.0.5"), Started: time.Now()})
}

func (h *harness) startTarget(tg Target) *Container {
	c := h.m.Start(h.t.Context(), tg, h.specs)
	h.t.Cleanup(c.Stop)
	return c
}

func (h *harness) gotTransitions() []at {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.transitions)
}

func (h *harness) gotCalls(k Kind) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls[k])
}

func (h *harness) gotEvents() []probeEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events)
}

func (h *harness) wantTransitions(want ...at) {
	h.t.Helper()
	if got := h.gotTransitions(); !slices.Equal(got, want) {
		h.t.Errorf("transitions:\n got %v\nwant %v", got, want)
	}
}

func (h *harness) wantCalls(k Kind, want ...time.Duration) {
	h.t.Helper()
	if got := h.gotCalls(k); !slices.Equal(got, want) {
		h.t.Errorf("%s probe attempts at:\n got %v\nwant %v", k, got, want)
	}
}

// eventsAt renders events as "<time> <Type> <Reason> <Message>".
func (h *harness) eventLines() []string {
	var out []string
	for _, e := range h.gotEvents() {
		out = append(out, fmt.Sprintf("%v %s %s %s", e.Time.Sub(h.t0), e.Type, e.Reason, e.Message))
	}
	return out
}

func (h *harness) wantEvents(want ...string) {
	h.t.Helper()
	if got := h.eventLines(); !slices.Equal(got, want) {
		h.t.Errorf("events:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func secs(ns ...float64) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n * float64(time.Second))
	}
	return out
}

// span returns from, from+1, ..., to (whole seconds).
func span(from, to int) []time.Duration {
	var out []time.Duration
	for s := from; s <= to; s++ {
		out = append(out, time.Duration(s)*time.Second)
	}
	return out
}

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

func probe(period, failure, success int) *service.Probe {
	return &service.Probe{PeriodSeconds: period, TimeoutSeconds: 1, FailureThreshold: failure, SuccessThreshold: success}
}

// httpStatus fakes an http_get answer the way checkHTTP words it.
// statusWhile is an app that answers HTTP code while bad says so and 200
// otherwise.
func statusWhile(code int, bad func(k Kind, n int, at time.Duration) bool) appFunc {
	return func(k Kind, n int, at time.Duration) (outcome, string, error) {
		if bad(k, n, at) {
			return httpStatus(code)
		}
		return httpStatus(200)
	}
}

func httpStatus(code int) (outcome, string, error) {
	if code >= 200 && code < 400 {
		return outSuccess, "ok", nil
	}
	return outFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code), nil
}

// sleep advances the fake clock by d and lets every goroutine that is due
// at the new instant run until it blocks, so boundaries are deterministic.
func (h *harness) sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}
