package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/internal/testutil"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// callLog records the order of runtime and endpoint calls, so tests can
// check e.g. that an endpoint is removed before its container is stopped.
type callLog struct {
	testutil.CallLog
}

// index returns the position of the first call equal to s after from, or -1.
func (l *callLog) index(s string, from int) int {
	for i, c := range l.Calls() {
		if i >= from && c == s {
			return i
		}
	}
	return -1
}

func (l *callLog) count(s string) int {
	n := 0
	for _, c := range l.Calls() {
		if c == s {
			n++
		}
	}
	return n
}

// fakeRuntime is an in-memory runtime.Interface.
type fakeRuntime struct {
	log *callLog

	mu         sync.Mutex
	nextIP     int
	seq        int
	pods       map[string]*runtime.Pod // live pods by instance
	containers []*fakeContainer
	starts     map[string][]time.Time // "inst/c0" → start times
	configs    map[string]runtime.ContainerConfig

	createPodErr error
	startErr     error
	stopErr      error
	removePodErr error
	ignoreTERM   bool // containers survive SIGTERM (only SIGKILL ends them)
	execFn       func(c *runtime.Container, args []string) (runtime.ExecResult, error)
	// createPodFn, when set, runs first in CreatePod (outside mu): it may
	// take time or fail, as creating a network namespace does.
	createPodFn func(ctx context.Context, cfg runtime.PodConfig) error
}

// setErr sets one of the error fields (*p) while the scheduler runs.
func (f *fakeRuntime) setErr(p *error, err error) {
	f.mu.Lock()
	*p = err
	f.mu.Unlock()
}

type fakeContainer struct {
	c       *runtime.Container
	done    chan struct{} // closed when it exits
	status  runtime.ExitStatus
	exited  bool
	deleted bool
}

func newFakeRuntime(log *callLog) *fakeRuntime {
	return &fakeRuntime{log: log, pods: map[string]*runtime.Pod{}, starts: map[string][]time.Time{}, configs: map[string]runtime.ContainerConfig{}}
}

func (f *fakeRuntime) EnsureImage(ctx context.Context, ref, auth string, progress io.Writer) error {
	f.log.Add("pull %s", ref)
	return nil
}

func (f *fakeRuntime) CreatePod(ctx context.Context, cfg runtime.PodConfig) (*runtime.Pod, error) {
	if f.createPodFn != nil {
		if err := f.createPodFn(ctx, cfg); err != nil {
			f.log.Add("createpod-cancelled %s", cfg.Instance)
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createPodErr != nil {
		f.log.Add("createpod-failed %s", cfg.Instance)
		return nil, f.createPodErr
	}
	f.nextIP++
	p := &runtime.Pod{Service: cfg.Service, Instance: cfg.Instance, IP: netip.AddrFrom4([4]byte{10, 213, 0, byte(1 + f.nextIP)}), NetNS: "/run/netns/" + cfg.Instance}
	f.pods[cfg.Instance] = p
	f.log.Add("createpod %s", cfg.Instance)
	return p, nil
}

func (f *fakeRuntime) RemovePod(ctx context.Context, pod *runtime.Pod) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		f.log.Add("removepod-cancelled %s", pod.Instance)
		return err
	}
	f.log.Add("removepod %s", pod.Instance)
	if f.removePodErr != nil {
		return f.removePodErr
	}
	for _, c := range f.containers {
		if c.c.Pod == pod {
			c.deleted = true
		}
	}
	delete(f.pods, pod.Instance)
	return nil
}

func (f *fakeRuntime) StartContainer(ctx context.Context, pod *runtime.Pod, cfg runtime.ContainerConfig) (*runtime.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := pod.Instance + "/" + cfg.Name
	if f.startErr != nil {
		f.log.Add("start-failed %s", key)
		return nil, f.startErr
	}
	f.seq++
	c := &runtime.Container{ID: fmt.Sprintf("%s-%d", key, f.seq), Name: cfg.Name, Pod: pod, Started: time.Now()}
	f.containers = append(f.containers, &fakeContainer{c: c, done: make(chan struct{})})
	f.starts[key] = append(f.starts[key], time.Now())
	f.configs[key] = cfg
	f.log.Add("start %s", key)
	return c, nil
}

func (f *fakeRuntime) find(c *runtime.Container) *fakeContainer {
	for _, fc := range f.containers {
		if fc.c == c {
			return fc
		}
	}
	return nil
}

// Wait may be called more than once per container, as on the real runtime.
func (f *fakeRuntime) Wait(ctx context.Context, c *runtime.Container) (<-chan runtime.ExitStatus, error) {
	f.mu.Lock()
	fc := f.find(c)
	f.mu.Unlock()
	ch := make(chan runtime.ExitStatus, 1)
	go func() {
		defer close(ch)
		select {
		case <-fc.done:
			f.mu.Lock()
			st := fc.status
			f.mu.Unlock()
			ch <- st
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// endLocked makes a container exit with st (once).
func (f *fakeRuntime) endLocked(fc *fakeContainer, st runtime.ExitStatus) {
	if fc.exited {
		return
	}
	fc.exited = true
	st.ExitedAt = time.Now()
	fc.status = st
	close(fc.done)
}

func (f *fakeRuntime) Stop(ctx context.Context, c *runtime.Container, grace time.Duration) (runtime.ExitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		// As the real runtime: a cancelled context stops nothing, so a
		// teardown on Run's (cancelled) context would leave containers.
		f.log.Add("stop-cancelled %s/%s", c.Pod.Instance, c.Name)
		return runtime.ExitStatus{}, err
	}
	f.log.Add("stop %s/%s", c.Pod.Instance, c.Name)
	fc := f.find(c)
	f.endLocked(fc, runtime.ExitStatus{Code: 143, Signal: syscall.SIGTERM})
	fc.deleted = true
	if f.stopErr != nil {
		return runtime.ExitStatus{}, f.stopErr
	}
	return fc.status, nil
}

func (f *fakeRuntime) Kill(ctx context.Context, c *runtime.Container, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log.Add("kill %s/%s %d", c.Pod.Instance, c.Name, int(sig))
	if sig == syscall.SIGTERM && f.ignoreTERM {
		return nil
	}
	if sig == syscall.SIGTERM {
		// An app that honours SIGTERM exits 0.
		f.endLocked(f.find(c), runtime.ExitStatus{})
		return nil
	}
	f.endLocked(f.find(c), runtime.ExitStatus{Code: 128 + int(sig), Signal: sig})
	return nil
}

func (f *fakeRuntime) Pause(ctx context.Context, c *runtime.Container) error {
	f.log.Add("pause %s/%s", c.Pod.Instance, c.Name)
	return nil
}

func (f *fakeRuntime) Resume(ctx context.Context, c *runtime.Container) error {
	f.log.Add("resume %s/%s", c.Pod.Instance, c.Name)
	return nil
}

func (f *fakeRuntime) Exec(ctx context.Context, c *runtime.Container, args []string, timeout time.Duration) (runtime.ExecResult, error) {
	f.mu.Lock()
	fn := f.execFn
	f.mu.Unlock()
	if fn != nil {
		return fn(c, args)
	}
	return runtime.ExecResult{}, nil
}

func (f *fakeRuntime) Cleanup(ctx context.Context, service string) error { return nil }

// exit makes the current container of inst/name end on its own.
func (f *fakeRuntime) exit(t *testing.T, inst, name string, st runtime.ExitStatus) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.containers) - 1; i >= 0; i-- {
		fc := f.containers[i]
		if fc.c.Pod.Instance == inst && fc.c.Name == name && !fc.exited {
			f.endLocked(fc, st)
			return
		}
	}
	t.Fatalf("no running container %s/%s to exit", inst, name)
}

// leftovers lists pods and containers not removed.
func (f *fakeRuntime) leftovers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for name := range f.pods {
		out = append(out, "pod "+name)
	}
	for _, c := range f.containers {
		if !c.deleted {
			out = append(out, "container "+c.c.ID)
		}
	}
	return out
}

func (f *fakeRuntime) startTimes(key string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.starts[key]...)
}

// fakeProber records targets; tests deliver results by hand through
// (*Scheduler).ProbeChanged.
type fakeProber struct {
	mu      sync.Mutex
	targets map[string][]*fakeHandle // "inst/c0" → one per started container
}

type fakeHandle struct {
	target  ProbeTarget
	mu      sync.Mutex
	stopped bool
}

func (h *fakeHandle) Stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
}

func (h *fakeHandle) isStopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopped
}

func (p *fakeProber) Start(ctx context.Context, t ProbeTarget) ProbeHandle {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.targets == nil {
		p.targets = map[string][]*fakeHandle{}
	}
	h := &fakeHandle{target: t}
	key := t.Instance + "/" + t.Container
	p.targets[key] = append(p.targets[key], h)
	return h
}

func (p *fakeProber) handles(key string) []*fakeHandle {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*fakeHandle(nil), p.targets[key]...)
}

// fakeEndpoints is the endpoint set, logging into the shared call log.
type fakeEndpoints struct {
	log *callLog
	mu  sync.Mutex
	set map[string]netip.AddrPort
}

func (e *fakeEndpoints) Set(instance string, ep endpoints.Endpoint) {
	e.mu.Lock()
	e.set[instance] = ep.AddrPort()
	e.mu.Unlock()
	e.log.Add("ep.set %s %s", instance, ep)
}

// The real endpoint set plugs in without an adapter.
var _ Endpoints = (*endpoints.Set)(nil)

func (e *fakeEndpoints) Remove(instance string) {
	e.mu.Lock()
	delete(e.set, instance)
	e.mu.Unlock()
	e.log.Add("ep.remove %s", instance)
}

func (e *fakeEndpoints) snapshot() map[string]netip.AddrPort {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]netip.AddrPort{}
	for k, v := range e.set {
		out[k] = v
	}
	return out
}

// harness wires a Scheduler to the fakes. Create it inside a synctest
// bubble; stop() cancels Run and waits for teardown.
type harness struct {
	t   *testing.T
	log *callLog
	rt  *fakeRuntime
	pr  *fakeProber
	ep  *fakeEndpoints
	ev  *events.Log
	s   *Scheduler

	cancel  context.CancelFunc
	errc    chan error
	stopped bool
	runErr  error
}

func probe() *service.Probe {
	return &service.Probe{HTTPGet: &service.HTTPGetAction{Path: "/", Port: 8000}, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
}

// testService returns a one-container service; tweak it before use.
func testService(instances int) *service.Service {
	return &service.Service{
		Metadata:   service.Metadata{Name: "demo", Instance: instances},
		Containers: []service.Container{{Image: "example:latest", Port: 8000, Command: "/app --port 8000"}},
	}
}

func newHarness(t *testing.T, opts Options) *harness {
	log := &callLog{}
	h := &harness{t: t, log: log, rt: newFakeRuntime(log), pr: &fakeProber{}, ep: &fakeEndpoints{log: log, set: map[string]netip.AddrPort{}}}
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	h.ev = events.NewLog(1000)
	opts.Events = h.ev
	h.s = New(h.rt, h.pr, h.ep, opts)
	return h
}

// withHarness runs body in a synctest bubble with a started harness for
// opts, then stops the scheduler: Run must return no error.
func withHarness(t *testing.T, opts Options, body func(t *testing.T, h *harness)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, opts)
		h.start()
		body(t, h)
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// startWith starts a harness for opts once arrange has set up its fake
// runtime (e.g. a call that fails from the first time).
func startWith(t *testing.T, opts Options, arrange func(*fakeRuntime)) *harness {
	h := newHarness(t, opts)
	arrange(h.rt)
	h.start()
	return h
}

// stopClean stops the scheduler (Run must return no error) and checks
// that its teardown left nothing in the fake runtime.
func (h *harness) stopClean(t *testing.T) {
	t.Helper()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if left := h.rt.leftovers(); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// scale asks for n instances and waits until the bubble is idle; it
// returns where the call log stood before.
func (h *harness) scale(t *testing.T, n int) (mark int) {
	t.Helper()
	mark = len(h.log.Calls())
	if err := h.s.Scale(n); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
	return mark
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.errc = make(chan error, 1)
	go func() { h.errc <- h.s.Run(ctx) }()
	// A failing test must still end every goroutine of the bubble.
	h.t.Cleanup(func() { _ = h.stop() })
	synctestWait()
}

// stop cancels Run and returns its error once teardown is done (only
// the first call waits).
func (h *harness) stop() error {
	h.cancel()
	if h.stopped {
		return h.runErr
	}
	h.stopped = true
	h.runErr = <-h.errc
	return h.runErr
}

func (h *harness) status(name string) InstanceStatus {
	h.t.Helper()
	for _, st := range h.s.Status() {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("no instance %s in %+v", name, h.s.Status())
	return InstanceStatus{}
}

// probe delivers a result for the current container of inst/c, as the
// prober would.
func (h *harness) probe(inst, c string, kind service.ProbeKind, r ProbeResult, out string) {
	h.s.ProbeChanged(inst, c, h.gen(inst, c), kind, r, out)
	synctestWait()
}

// gen is the generation of the container the prober was last started for.
func (h *harness) gen(inst, c string) int {
	hs := h.pr.handles(inst + "/" + c)
	if len(hs) == 0 {
		return 0
	}
	return hs[len(hs)-1].target.Generation
}

func (h *harness) events() []events.Event {
	evs, _ := h.ev.Events(0)
	return evs
}

func (h *harness) hasEvent(reason, substr string) bool {
	for _, e := range h.events() {
		if e.Reason == reason && strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

var errBoom = errors.New("boom")
