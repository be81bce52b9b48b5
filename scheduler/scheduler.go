package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/service"
)

// DefaultStopGrace is the time between SIGTERM and SIGKILL, Kubernetes'
// default terminationGracePeriodSeconds.
const DefaultStopGrace = 30 * time.Second

// maxCreating bounds how many instances create their pod and start
// their containers at once. Each creation is a network namespace, CNI
// plugin runs and containerd shims: a large scale-up done all at once
// loads the machine, and once Run is cancelled every creation under way
// still has to finish and be undone. Waiting instances give up as soon as
// their context ends.
const maxCreating = 8

// Options configures a Scheduler. Zero values take the documented defaults.
type Options struct {
	// Service is the parsed service.json (required, with at least one
	// container).
	Service *service.Service
	// Instances overrides metadata.instance when > 0.
	Instances int
	// RestartPolicy applies to every container (default RestartAlways).
	RestartPolicy RestartPolicy
	// BackoffInitial and BackoffMax are the crash-loop back-off numbers
	// (default 10s and 300s). BackoffReset is how long a container must
	// run for its back-off to be forgotten (default 2×BackoffMax).
	BackoffInitial, BackoffMax, BackoffReset time.Duration
	// StopGrace is the time between SIGTERM and SIGKILL (default 30s).
	StopGrace time.Duration
	// MaxInstances bounds Scale (default service.DefaultMaxInstances): the
	// local instance limit of --max-instances.
	MaxInstances int
	// Mounts binds storage mount paths to host directories
	// (mount_path → host dir, optionally ending in :ro or :rw), from
	// `--mount MOUNT_PATH=HOST_DIR[:ro|:rw]`.
	Mounts map[string]string
	// StateDir holds empty directories for unbound storage mounts
	// (default os.TempDir()); they are removed when Run returns.
	StateDir string
	// Output, if set, gives the writer for a container's output (e.g.
	// one that prefixes lines with the instance name).
	Output func(instance, container string) io.Writer
	// PullProgress receives image pull progress (default discarded).
	PullProgress io.Writer
	// Events receives every event of the service, the scheduler's own and
	// those ProbeListener forwards from the prober (default discarded);
	// an *events.Log keeps them for the control API.
	Events events.Recorder
	Logger zerolog.Logger
}

// Scheduler keeps a service's instances alive. Create it with New, then
// call Run; every other method is safe to call concurrently, before,
// during or after Run.
type Scheduler struct {
	rt      runtime.Interface
	pr      Prober    // nil = no probes run
	ep      Endpoints // never nil (a no-op when New got nil)
	svc     *service.Service
	opts    Options
	backoff Backoff
	log     zerolog.Logger
	events  events.Recorder

	// Written by Run before any instance starts, read-only afterwards.
	mounts mountPlan

	mu        sync.Mutex
	desired   int                  // guarded by mu
	instances map[string]*instance // live instance goroutines by name; guarded by mu
	changed   chan struct{}        // closed and replaced on any status change; guarded by mu
	started   bool                 // Run was called; guarded by mu
	runErr    error                // why Run ended; guarded by mu
	runCtx    context.Context      // parent of instance contexts; guarded by mu
	// leftBehind collects teardown failures (pods not removed); guarded by mu.
	leftBehind []error
	wg         sync.WaitGroup // instance goroutines

	scaleCh  chan struct{} // pokes Run's loop to reconcile (cap 1)
	creating chan struct{} // a token per instance creating (cap maxCreating)
	done     chan struct{} // closed when Run returns
}

// New returns a Scheduler for opts.Service. pr may be nil (no probes:
// containers are ready once running); ep may be nil.
func New(rt runtime.Interface, pr Prober, ep Endpoints, opts Options) *Scheduler {
	if opts.StopGrace <= 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.Events == nil {
		opts.Events = events.Discard
	}
	if opts.StateDir == "" {
		opts.StateDir = os.TempDir()
	}
	if opts.PullProgress == nil {
		opts.PullProgress = io.Discard
	}
	if ep == nil {
		ep = nopEndpoints{}
	}
	s := &Scheduler{
		rt:        rt,
		pr:        pr,
		ep:        ep,
		svc:       opts.Service,
		opts:      opts,
		backoff:   Backoff{Initial: opts.BackoffInitial, Max: opts.BackoffMax, ResetAfter: opts.BackoffReset},
		log:       opts.Logger,
		events:    opts.Events,
		instances: map[string]*instance{},
		changed:   make(chan struct{}),
		scaleCh:   make(chan struct{}, 1),
		creating:  make(chan struct{}, maxCreating),
		done:      make(chan struct{}),
	}
	s.desired = opts.Instances
	if s.desired <= 0 && s.svc != nil {
		// metadata.instance 0 is a stopped service (service.Parse fills
		// in 1 when the field is absent).
		s.desired = max(s.svc.Metadata.Instance, 0)
	}
	return s
}

type nopEndpoints struct{}

func (nopEndpoints) Set(string, endpoints.Endpoint) {}
func (nopEndpoints) Remove(string)                  {}

// Run pulls the images, creates the instances in parallel (at most
// maxCreating at once; none more once ctx is cancelled) and keeps them
// alive until ctx is cancelled, then tears everything down (endpoints
// removed first, containers stopped with the grace period, pods removed)
// on a fresh context, so teardown completes although ctx is done. It
// returns an error when the service cannot be started at all or when
// teardown left something behind. Run may be called once.
func (s *Scheduler) Run(ctx context.Context) (err error) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errdefs.ErrFailedPrecondition.WithMessage("scheduler: Run was already called")
	}
	s.started = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.runErr = err
		if s.runErr == nil {
			s.runErr = errors.New("the service was stopped")
		}
		s.notifyLocked()
		s.mu.Unlock()
		close(s.done)
	}()

	if s.svc == nil || len(s.svc.Containers) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("scheduler: the service has no containers; add one to containers[] in service.json")
	}
	for i := range s.svc.Containers {
		if _, err := commandArgs(&s.svc.Containers[i]); err != nil {
			return fmt.Errorf("containers[%d]: %w", i, err)
		}
	}
	plan, err := planMounts(s.svc, s.opts.Mounts, s.opts.StateDir)
	if err != nil {
		return err
	}
	s.mounts = plan
	if plan.tmpDir != "" {
		defer os.RemoveAll(plan.tmpDir)
	}
	for _, path := range plan.unbound {
		s.event(events.Ref{}, events.Warning, events.MountUnbound, fmt.Sprintf(
			"storage mount %s is not bound to a host directory; it is an empty directory. Bind it with --mount %s=HOST_DIR",
			path, path))
	}

	seen := map[string]bool{}
	for _, c := range s.svc.Containers {
		if seen[c.Image] {
			continue
		}
		seen[c.Image] = true
		if err := s.rt.EnsureImage(ctx, c.Image, s.svc.DockerAuth, s.opts.PullProgress); err != nil {
			return fmt.Errorf("cannot get image %s: %w", c.Image, err)
		}
		s.event(events.Ref{}, events.Normal, events.Pulled, "Image "+c.Image+" is present")
	}

	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	s.reconcile()
	for {
		select {
		case <-ctx.Done():
			return s.teardownAll()
		case <-s.scaleCh:
			s.reconcile()
		}
	}
}

// teardownAll cancels every instance and waits for their teardowns.
func (s *Scheduler) teardownAll() error {
	s.mu.Lock()
	all := make([]*instance, 0, len(s.instances))
	for _, in := range s.instances {
		all = append(all, in)
	}
	s.mu.Unlock()
	for _, in := range all {
		in.cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.leftBehind...)
}

// reconcile starts missing instances and stops extra ones (highest
// ordinals first: every ordinal >= desired is stopped).
func (s *Scheduler) reconcile() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runCtx == nil || s.runCtx.Err() != nil {
		return
	}
	for name, in := range s.instances {
		if in.ordinal >= s.desired && !in.stopping {
			in.stopping = true
			s.event(events.Ref{Instance: name}, events.Normal, events.Scaled, "Scaled down: stopping "+name)
			in.cancel()
		}
	}
	for i := 0; i < s.desired; i++ {
		name := s.svc.Metadata.Name + "-" + strconv.Itoa(i)
		if _, ok := s.instances[name]; ok {
			continue // running, or still terminating: started again once gone
		}
		ctx, cancel := context.WithCancel(s.runCtx)
		in := newInstance(s, name, i, cancel)
		s.instances[name] = in
		s.wg.Add(1)
		go in.run(ctx)
	}
	s.notifyLocked()
}

// instanceGone is called by an instance goroutine as its last act.
func (s *Scheduler) instanceGone(in *instance) {
	s.mu.Lock()
	if s.instances[in.name] == in {
		delete(s.instances, in.name)
	}
	if in.teardownErr != nil {
		s.leftBehind = append(s.leftBehind, in.teardownErr)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.poke()
	s.wg.Done()
}

func (s *Scheduler) poke() {
	select {
	case s.scaleCh <- struct{}{}:
	default:
	}
}

func (s *Scheduler) notify() {
	s.mu.Lock()
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Scheduler) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Scale sets the number of instances. Scale-up creates the missing
// ordinals; scale-down stops the highest ones (endpoints removed first).
func (s *Scheduler) Scale(n int) error {
	if n < 0 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot scale to %d instances; give 0 or more", n))
	}
	if limit := cmp.Or(max(s.opts.MaxInstances, 0), service.DefaultMaxInstances); n > limit {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot scale to %d instances: at most %d run on one machine; start the service with --max-instances N to raise the limit", n, limit))
	}
	s.mu.Lock()
	old := s.desired
	s.desired = n
	if old != n {
		s.event(events.Ref{}, events.Normal, events.Scaled, fmt.Sprintf("Scaled from %d to %d instances", old, n))
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// Desired returns the instance count the scheduler keeps.
func (s *Scheduler) Desired() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desired
}

// lookup finds a live instance; an unknown name is errdefs.ErrNotFound,
// with the names there are.
func (s *Scheduler) lookup(name string) (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.instances[name]; ok {
		return in, nil
	}
	names := make([]string, 0, len(s.instances))
	for _, in := range s.instances {
		names = append(names, in.name)
	}
	sort.Slice(names, func(i, j int) bool { return s.instances[names[i]].ordinal < s.instances[names[j]].ordinal })
	msg := fmt.Sprintf("service %s has no instance %q", s.svc.Metadata.Name, name)
	if len(names) > 0 {
		msg += "; its instances are " + strings.Join(names, ", ")
	} else {
		msg += "; it has no instances now"
	}
	return nil, errdefs.ErrNotFound.WithMessage(msg)
}

// Container resolves a container name of an instance: "" is its first
// container. An unknown instance or container is errdefs.ErrNotFound.
func (s *Scheduler) Container(instance, container string) (string, error) {
	if _, err := s.lookup(instance); err != nil {
		return "", err
	}
	var names []string
	for i := range s.svc.Containers {
		name := containerName(i)
		if container == "" || container == name {
			return name, nil
		}
		names = append(names, name)
	}
	return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("instance %s has no container %q (it has: %s)", instance, container, strings.Join(names, ", ")))
}

// Kill sends sig to every running container of the instance, as a crash
// would: the exits are then handled by the restart policy.
func (s *Scheduler) Kill(instance string, sig syscall.Signal) error {
	in, err := s.lookup(instance)
	if err != nil {
		return err
	}
	return in.call(func(ctx context.Context) error { return in.kill(ctx, sig) })
}

// Pause freezes every container of the instance; its probes then time
// out and the usual outcomes follow.
func (s *Scheduler) Pause(instance string) error {
	in, err := s.lookup(instance)
	if err != nil {
		return err
	}
	return in.call(func(ctx context.Context) error { return in.pause(ctx, true) })
}

// Unpause thaws the instance's containers.
func (s *Scheduler) Unpause(instance string) error {
	in, err := s.lookup(instance)
	if err != nil {
		return err
	}
	return in.call(func(ctx context.Context) error { return in.pause(ctx, false) })
}

// ProbeChanged delivers a probe transition of instance's container
// generation gen (ProbeTarget.Generation). ProbeListener calls it from
// the prober's listener; it never blocks. Results for unknown instances,
// for containers no longer running and for replaced containers (an older
// generation) are dropped.
func (s *Scheduler) ProbeChanged(instance, container string, gen int, kind service.ProbeKind, result ProbeResult, output string) {
	s.post(instance, probeMsg{container: container, gen: gen, kind: kind, result: result, output: output, at: time.Now()})
}

// ProbeOutput records the output of a probe run that did not change the
// published result (e.g. each failure before failure_threshold), so
// Status and WaitReady can say why a container is not ready yet.
func (s *Scheduler) ProbeOutput(instance, container string, gen int, kind service.ProbeKind, output string) {
	s.post(instance, probeMsg{container: container, gen: gen, kind: kind, output: output, at: time.Now(), outputOnly: true})
}

func (s *Scheduler) post(instance string, m probeMsg) {
	s.mu.Lock()
	in := s.instances[instance]
	s.mu.Unlock()
	if in != nil {
		in.post(m)
	}
}

// Status returns a snapshot of every instance, by ordinal.
func (s *Scheduler) Status() []InstanceStatus {
	s.mu.Lock()
	out := make([]InstanceStatus, 0, len(s.instances))
	for _, in := range s.instances {
		if st := in.snap.Load(); st != nil {
			out = append(out, *st)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Ordinal < out[j].Ordinal })
	return out
}

// Done is closed when Run has returned.
func (s *Scheduler) Done() <-chan struct{} { return s.done }

// WaitReady returns nil once every wanted instance is ready. When ctx
// ends first, or Run returns, it returns a *NotReadyError naming each
// instance that is not ready and why (state, last exits, probe outputs).
func (s *Scheduler) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		want, changed := s.desired, s.changed
		s.mu.Unlock()
		st := s.Status()
		var notReady []InstanceStatus
		readyCount := 0
		for _, in := range st {
			if in.Ordinal >= want {
				continue
			}
			if in.Ready {
				readyCount++
			} else {
				notReady = append(notReady, in)
			}
		}
		if readyCount >= want {
			return nil
		}
		var cause error
		select {
		case <-changed:
			continue
		case <-ctx.Done():
			cause = ctx.Err()
		case <-s.done:
			s.mu.Lock()
			cause = s.runErr
			s.mu.Unlock()
		}
		return &NotReadyError{Want: want, NotReady: notReady, Cause: cause}
	}
}

// event records and logs one of the scheduler's events. The recorder
// never blocks, so callers may hold s.mu.
func (s *Scheduler) event(ref events.Ref, typ, reason, msg string) {
	s.events.Event(ref, typ, reason, msg)
	lvl := zerolog.InfoLevel
	if typ == events.Warning {
		lvl = zerolog.WarnLevel
	}
	l := s.log.WithLevel(lvl).Str("reason", reason)
	if ref.Instance != "" {
		l = l.Str("instance", ref.Instance)
	}
	if ref.Container != "" {
		l = l.Str("container", ref.Container)
	}
	l.Msg(msg)
}
