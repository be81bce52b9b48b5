package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/easlocal/easlocal/admin"
	"github.com/easlocal/easlocal/dashboard"
	"github.com/easlocal/easlocal/endpoints"
	"github.com/easlocal/easlocal/events"
	"github.com/easlocal/easlocal/prober"
	"github.com/easlocal/easlocal/proxy"
	"github.com/easlocal/easlocal/runtime"
	"github.com/easlocal/easlocal/scheduler"
	"github.com/easlocal/easlocal/service"
)

// Options is everything `up` and `run` take from the command line.
type Options struct {
	File string
	// Instances overrides metadata.instance when set.
	Instances *int
	// MaxInstances is --max-instances (service.DefaultMaxInstances).
	MaxInstances   int
	RestartPolicy  scheduler.RestartPolicy
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	StopGrace      time.Duration
	Listen         string
	Token          string
	NoRetry        bool
	Mounts         map[string]string
	RegistryDir    string
	Runtime        runtime.Config
	// AdminListen is the control API's address (default 127.0.0.1:0).
	AdminListen string
	// ShowLogs prints events, probe advice and container output with
	// instance prefixes.
	ShowLogs bool
	// HideOutput leaves container output out of what ShowLogs prints
	// (it stays in the containers' capped logs): a background process's
	// output file would otherwise grow without bound.
	HideOutput bool
	// Out receives logs and events; Err receives warnings.
	Out, Err io.Writer
	Log      zerolog.Logger
	// LockFile is the service's lock (admin.Lock) as the process that
	// started this one took it and handed it down (`up -d`); nil: Start
	// takes it.
	LockFile *os.File
}

// Session is one running service: everything `up` started, in the order
// it is torn down in reverse. Fields are set by Start and read-only
// afterwards; the goroutines it starts end in Wait.
type Session struct {
	opts   Options
	svc    *service.Service
	rt     *runtime.Runtime
	set    *endpoints.Set
	sched  *scheduler.Scheduler
	events *events.Log // the one event stream: scheduler, prober, endpoints
	admin  *admin.Server
	entry  admin.Entry
	reg    admin.Registry
	lock   *admin.Lock // held from before any cleanup until close ends

	gatewayURL string // http://host:port
	predictURL string // gatewayURL + /api/predict/<service>

	cancelRun context.CancelFunc // stops the scheduler (teardown)
	stopOnce  sync.Once
	stopping  chan struct{} // closed when a shutdown was asked for
	runErr    chan error    // scheduler.Run's result, once
	bg        sync.WaitGroup
	bgCancel  context.CancelFunc
	sidecars  *proxy.Sidecars
	gwDone    chan error
	dashboard *dashboard.Dashboard // set once, by attachDashboard in Start
	faults    *faults              // set once in Start; reverted first in close

	advice func() admin.AdviceReport // the controller's (advice.go)
}

// Start loads the service and brings up the runtime, the
// scheduler, the gateway and the control API. On error everything
// started so far is stopped again.
func Start(ctx context.Context, o Options) (s *Session, err error) {
	svc, warnings, err := service.Load(o.File)
	for _, w := range warnings {
		fmt.Fprintf(o.Err, "warning: %s\n", w)
	}
	if err != nil {
		return nil, err
	}
	if o.Instances != nil {
		svc.Metadata.Instance = *o.Instances
	}
	if err := service.CheckInstances(svc.Metadata.Instance, o.MaxInstances, o.Instances != nil); err != nil {
		return nil, err
	}
	o.Token = gatewayToken(o.Err, o.Token, svc.Token)
	name := svc.Metadata.Name
	reg := admin.Registry{Dir: o.RegistryDir}
	// The lock comes before anything is removed or created: a second
	// `up` of the same service would otherwise remove this one's pods
	// as leftovers and write into its log files.
	var lock *admin.Lock
	if o.LockFile != nil {
		lock, err = reg.AdoptLock(name, o.LockFile, admin.LockUp)
	} else {
		lock, err = reg.TryLock(name, admin.LockUp)
	}
	if err != nil {
		return nil, err
	}
	self, err := admin.Self()
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("cannot identify this process for the service registry: %w", err)
	}
	s = &Session{opts: o, svc: svc, reg: reg, lock: lock, stopping: make(chan struct{}), runErr: make(chan error, 1), gwDone: make(chan error, 1)}
	started := s
	defer func() {
		if err != nil {
			started.close()
		}
	}()
	rt, err := runtime.New(ctx, o.Runtime, o.Log.With().Str("component", "runtime").Logger())
	if err != nil {
		return nil, err
	}
	s.rt = rt
	// Leftovers of an earlier run that was killed (SIGKILL, crash) are
	// removed before anything new is created, so names and IPs are free.
	if left, lerr := rt.Leftovers(ctx, name); lerr == nil && !left.Empty() {
		fmt.Fprintf(o.Err, "removing what an earlier run of %s left behind\n", name)
	}
	if err := rt.Cleanup(ctx, name); err != nil {
		return s, fmt.Errorf("cannot remove what an earlier run of %s left behind: %w", name, err)
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return s, fmt.Errorf("the gateway cannot listen on %s: %w; choose another address with --listen", o.Listen, err)
	}
	s.gatewayURL = "http://" + ln.Addr().String()
	s.predictURL = s.gatewayURL + proxy.PredictPrefix + name

	s.set = endpoints.New()
	s.events = events.NewLog(1000)
	life := lifecycleOf(svc, o.StopGrace)
	listener := &scheduler.ProbeListener{}
	pm := prober.NewManager(prober.Options{Listener: listener, Logger: o.Log.With().Str("component", "prober").Logger()})
	s.sched = scheduler.New(rt, scheduler.ProberManager{M: pm}, s.set, scheduler.Options{
		Service:        svc,
		RestartPolicy:  o.RestartPolicy,
		BackoffInitial: o.BackoffInitial,
		BackoffMax:     o.BackoffMax,
		Termination:    life.term,
		CrashBlock:     life.crashBlock,
		MaxSurge:       life.maxSurge,
		MaxUnavailable: life.maxUnavailable,
		MaxInstances:   o.MaxInstances,
		Mounts:         o.Mounts,
		Output:         s.output,
		PullProgress:   o.Err,
		Events:         s.events,
		Logger:         o.Log.With().Str("component", "scheduler").Logger(),
	})
	listener.Bind(s.sched)

	adminToken := admin.NewToken()
	popts := proxy.Options{
		Service:      name,
		Token:        o.Token,
		ControlToken: adminToken, // never forwarded to an instance
		NoRetry:      o.NoRetry,
		Endpoints:    s.set,
		Faults:       proxy.NewFaults(),
		Logger:       o.Log.With().Str("component", "gateway").Logger(),
	}
	s.faults = newFaults(name, rt, schedActions{s.sched}, popts.Faults, s.events, o.Log.With().Str("component", "faults").Logger())
	if rpc := svc.Metadata.RPC; rpc != nil && rpc.Keepalive > 0 {
		popts.Keepalive = time.Duration(rpc.Keepalive) * time.Millisecond
	}
	gatewayLimits(svc, &popts)
	limitOpts := popts // a copy: popts changes below
	popts.OnLimit = func(kind string) {
		s.events.Event(events.Ref{}, events.Warning, events.Limited, limitMessage(kind, limitOpts))
	}
	s.sidecars, err = proxy.NewSidecars(popts)
	if err != nil {
		ln.Close()
		return s, err
	}
	popts.Discovery = proxy.NewDiscovery(name, s.sidecars)

	bgCtx, bgCancel := context.WithCancel(context.Background())
	s.bgCancel = bgCancel
	ctrl := &controller{name: name, gatewayURL: s.gatewayURL, sched: s.sched, set: s.set, rtcfg: rt.Config(), events: s.events, shutdown: s.Stop, faults: s.faults, svc: svc, probes: pm}
	s.advice = ctrl.Advice
	s.admin = admin.NewServer(updater{controller: ctrl, stopGrace: o.StopGrace}, admin.Options{Addr: o.AdminListen, Token: adminToken, Logger: o.Log.With().Str("component", "admin").Logger()})
	wrapGateway, err := attachDashboard(bgCtx, s, ctrl, pm, &popts)
	if err != nil {
		ln.Close()
		return s, err
	}
	gw := proxy.New(popts)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		var so []proxy.ServerOption
		if popts.EnableGRPC {
			so = append(so, proxy.WithH2C())
		}
		err := proxy.Serve(bgCtx, ln, wrapGateway(gw), popts.Logger, 5*time.Second, so...)
		gw.Close() // WebSockets the server no longer tracks
		s.gwDone <- err
	}()
	if err := s.admin.Start(); err != nil {
		return s, fmt.Errorf("cannot start the control API: %w; choose another address with --admin-listen", err)
	}
	s.entry = admin.Entry{Name: name, AdminURL: s.admin.URL(), GatewayURL: s.gatewayURL,
		Token: o.Token, AdminToken: adminToken, Started: time.Now()}
	s.entry.SetProcess(self)
	if err := reg.Register(s.entry); err != nil {
		return s, err
	}

	if o.ShowLogs {
		// Subscribed before Run starts, so the first events are printed too.
		evs := s.events.Subscribe(bgCtx)
		s.bg.Add(1)
		go s.printEvents(evs)
		s.bg.Add(1)
		go s.watchAdvice(bgCtx, adviceInterval)
	}
	s.bg.Add(1)
	go s.pumpEndpoints(bgCtx)

	runCtx, cancelRun := context.WithCancel(context.Background())
	s.cancelRun = cancelRun
	go func() { s.runErr <- s.sched.Run(runCtx) }()
	return s, nil
}

// output gives each container's output an "instance/container | " prefix
// on the session's Out, when logs are shown.
func (s *Session) output(instance, container string) io.Writer {
	if !s.opts.ShowLogs || s.opts.HideOutput {
		return nil
	}
	prefix := instance
	if len(s.svc.Containers) > 1 {
		prefix += "/" + container
	}
	return newPrefixWriter(s.opts.Out, prefix+" | ")
}

// printEvents prints the event stream until the subscription ends (what
// is buffered then is still printed).
func (s *Session) printEvents(evs <-chan events.Event) {
	defer s.bg.Done()
	for e := range evs {
		fmt.Fprintln(s.opts.Out, admin.FormatEvent(e))
	}
}

// pumpEndpoints turns every change of the endpoint list into an event.
func (s *Session) pumpEndpoints(ctx context.Context) {
	defer s.bg.Done()
	ch, cancel := s.set.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-ch:
			if !ok {
				return
			}
			reason, verb := events.EndpointAdded, "now receives"
			if c.Kind == endpoints.Removed {
				reason, verb = events.EndpointRemoved, "no longer receives"
			}
			s.events.Publish(events.Event{Time: c.Time, Instance: c.Endpoint.Instance, Type: events.Normal, Reason: reason,
				Message: fmt.Sprintf("%s (%s) %s traffic; %d ready endpoint(s)", c.Endpoint.Instance, c.Endpoint, verb, c.Count)})
		}
	}
}

// Stop asks the session to shut down; wait does the work. Idempotent.
func (s *Session) Stop() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// Wait blocks until ctx is done, Stop is called or the scheduler ends,
// then tears everything down. It returns why the scheduler ended when
// that was not asked for, or what teardown left behind. stopSignals is
// called once teardown begins, so a second Ctrl-C is not swallowed.
func (s *Session) Wait(ctx context.Context, stopSignals func()) error {
	var runErr error
	select {
	case <-ctx.Done():
	case <-s.stopping:
	case runErr = <-s.runErr:
		s.runErr <- runErr
	case err := <-s.gwDone:
		runErr = fmt.Errorf("the gateway stopped: %w", err)
	}
	stopSignals()
	fmt.Fprintf(s.opts.Err, "stopping service %s (Ctrl-C again to stop waiting) ...\n", s.svc.Metadata.Name)
	err := s.close()
	if runErr != nil && err != nil && !errors.Is(err, runErr) {
		return errors.Join(runErr, err)
	}
	if runErr != nil {
		return runErr
	}
	return err
}

// close tears down in reverse order of start: the scheduler (endpoints
// removed first, containers stopped, pods removed), the gateway, the
// control API, the registry entry, the runtime connection and last the
// service's lock (its file removed: nothing of the service is left).
func (s *Session) close() error {
	defer s.lock.Remove()
	var errs []error
	if s.faults != nil {
		// Reverted while the pods still exist: tables go with their
		// namespaces anyway, but a paused instance is thawed and the
		// gateway stops injecting before anything else stops.
		// A fault that cannot be reverted goes with its namespace
		// below; the event log and the log say which.
		if err := s.faults.close(); err != nil {
			s.opts.Log.Warn().Err(err).Msg("not every fault could be reverted")
		}
	}
	if s.cancelRun != nil {
		s.cancelRun()
		// close cancelled the run, so a cancelled pull is expected.
		if err := <-s.runErr; err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	if s.bgCancel != nil {
		s.bgCancel()
	}
	if s.sidecars != nil {
		s.sidecars.Close()
	}
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.admin.Close(ctx)
		cancel()
	}
	s.bg.Wait()
	if s.entry.Name != "" {
		if err := s.reg.Unregister(s.entry); err != nil {
			errs = append(errs, err)
		}
	}
	if s.rt != nil {
		s.rt.Close()
	}
	return errors.Join(errs...)
}

// Name is the service's name (metadata.name).
func (s *Session) Name() string { return s.svc.Metadata.Name }

// GatewayURL is the gateway's http://host:port.
func (s *Session) GatewayURL() string { return s.gatewayURL }

// PredictURL is GatewayURL followed by /api/predict/<service>.
func (s *Session) PredictURL() string { return s.predictURL }

// WaitReady blocks until every desired instance is ready, ctx is done or
// the scheduler ends (see scheduler.WaitReady).
func (s *Session) WaitReady(ctx context.Context) error { return s.sched.WaitReady(ctx) }

// AdminURL is the control API's base URL, e.g. http://127.0.0.1:9101.
func (s *Session) AdminURL() string { return s.admin.URL() }

// gatewayToken is --token, else service.json's token; it says which.
func gatewayToken(w io.Writer, flag, file string) string {
	switch {
	case flag != "" && file != "":
		fmt.Fprintln(w, "gateway token: --token (it overrides the token of service.json)")
	case file != "":
		fmt.Fprintln(w, "gateway token: the token of service.json (--token overrides it)")
		return file
	}
	return flag
}
