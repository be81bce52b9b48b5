package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
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
	// Termination is how containers are stopped: the grace period
	// (eas.termination_grace_period, or --stop-grace; default 30s) and
	// whether SIGTERM is sent (rpc.enable_sigterm). See Termination.
	Termination Termination
	// MaxSurge and MaxUnavailable are rolling_strategy's values, used by
	// Restart before any Update ("" = the defaults; see ResolveRollLimits).
	MaxSurge, MaxUnavailable string
	// CrashBlock is runtime.enable_crash_block: a container that crashes
	// is not restarted; its instance stays, not ready, for inspection.
	CrashBlock bool
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

	updateMu sync.Mutex // serialises Update calls

	mu        sync.Mutex
	update    *update              // the last rolling update; guarded by mu
	cur       *revision            // what new instances run; nil before Run; guarded by mu
	tmpDirs   []string             // revisions' unbound-mount directories; guarded by mu
	gone      map[string]*revision // removed instances, whose logs stay readable; guarded by mu
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
	opts.Termination = opts.Termination.withDefaults()
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
		gone:      map[string]*revision{},
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

	defer s.removeTmpDirs()
	rev, err := s.newRevision(ctx, 1, s.svc, s.opts.Termination, s.opts.CrashBlock)
	if err != nil {
		return err
	}

	s.mu.Lock()
	s.runCtx = ctx
	s.cur = rev
	s.mu.Unlock()
	due := s.reconcile()
	for {
		var timer *time.Timer
		var timerC <-chan time.Time
		if !due.IsZero() {
			timer = time.NewTimer(time.Until(due))
			timerC = timer.C
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return s.teardownAll()
		case <-s.scaleCh:
		case <-timerC:
		}
		if timer != nil {
			timer.Stop()
		}
		due = s.reconcile()
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

// instanceGone is called by an instance goroutine as its last act.
func (s *Scheduler) instanceGone(in *instance) {
	s.mu.Lock()
	if s.instances[in.name] == in {
		delete(s.instances, in.name)
		s.gone[in.name] = in.rev
	}
	if in.teardownErr != nil {
		s.leftBehind = append(s.leftBehind, in.teardownErr)
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.poke()
	s.wg.Done()
}

func (s *Scheduler) poke() { s.pokeLocked() }

// pokeLocked is poke; it takes no lock, so callers may hold s.mu.
func (s *Scheduler) pokeLocked() {
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
// container. An instance removed during this run (scale-in, update) still
// resolves, so its log stays readable until the service is down. An
// unknown instance or container is errdefs.ErrNotFound.
func (s *Scheduler) Container(instance, container string) (string, error) {
	var rev *revision
	if in, err := s.lookup(instance); err == nil {
		rev = in.rev
	} else {
		s.mu.Lock()
		rev = s.gone[instance]
		s.mu.Unlock()
		if rev == nil {
			return "", err
		}
	}
	var names []string
	for i := range rev.svc.Containers {
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
			if in.State == StateTerminating {
				continue // being scaled away or replaced
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
