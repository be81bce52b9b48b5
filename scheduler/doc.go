// Package scheduler keeps the N instances of one service alive: it creates
// each instance's pod (network namespace + IP) and containers through
// runtime.Interface, starts their probes through a Prober, acts on probe
// outcomes and exits (restart per policy, crash-loop back-off), and keeps
// the Endpoints set to exactly the ready instances.
//
// # What it owns
//
//   - restart.go: the pure restart decision (RestartPolicy, Backoff,
//     Decide). Inputs in, action + delay + reason out; no clock, no I/O.
//   - instance.go: one goroutine per instance and its mailbox loop.
//   - container.go: what that goroutine does with containers: start,
//     probe outcomes, exits, restart decisions, kill, pause, teardown.
//   - status.go: the status snapshots, readiness and state computation,
//     and the not-ready report (NotReadyError).
//   - scheduler.go: Run/Scale/Kill/Pause/Unpause/Status/WaitReady, the
//     API the CLI and the control server use.
//   - config.go: service.json container → runtime.ContainerConfig (args,
//     EAS env, resources, storage mounts).
//   - seams.go: the Prober and Endpoints interfaces it needs.
//   - prober_adapter.go: ready-made glue to package prober.
//
// Events go to Options.Events (an events.Recorder, e.g. *events.Log):
// the scheduler's own and the prober's, which ProbeListener forwards.
//
// # Errors
//
// Errors carry a github.com/containerd/errdefs class so the control API
// can pick the answer: an unknown instance or container is
// errdefs.ErrNotFound, bad input (a negative scale) ErrInvalidArgument,
// an action the instance cannot take now (kill with nothing running, a
// call to an instance shutting down) ErrFailedPrecondition. Their text is
// a sentence for the user.
//
// # Instance lifecycle
//
//	          Run / Scale up
//	                │
//	            ┌───▼────┐
//	            │Pending │ goroutine not yet running
//	            └───┬────┘
//	            ┌───▼────┐  CreatePod error: Failed, retried with back-off
//	            │Creating├──────────────┐
//	            └───┬────┘◄─────────────┘
//	                │ pod has its IP (kept until the instance is removed)
//	            ┌───▼────┐
//	            │Starting│ containers being started
//	            └───┬────┘
//	                │ every container running
//	┌───────────────▼──────────────────┐  readiness flips ready ⇄ unready;
//	│ Running (ready | unready)        │  only ready instances are endpoints
//	└──┬───────────────────────▲───────┘
//	   │ a container exits, or │ new container started in the SAME pod
//	   │ liveness/startup      │ (fresh probes, restarts+1), at once for
//	   │ failure: endpoint     │ the first two restarts of a streak
//	   │ removed, SIGTERM,     │
//	   │ grace, SIGKILL        │
//	   ▼                       │
//	Decide(policy, back-off) ──┤ Restart, delay 0
//	   │            │          │
//	   │ Restart,   │    ┌─────┴────────────┐
//	   │ delay > 0  └───►│ CrashLoopBackOff │ BackOff event; timer
//	   │                 └──────────────────┘
//	   │ Stay (policy)
//	   ▼
//	Stopped (every container exited 0) │ Failed (one failed)
//	(a container that stays stopped while others run: Running, unready)
//
//	ctx cancelled (Run ends) or scale-down, from any state:
//	Terminating: endpoint removed FIRST, probes stopped, containers
//	stopped in parallel (SIGTERM, grace, SIGKILL), pod removed
//	→ Stopped, and the instance leaves Status.
//
// Per container slot the states are Waiting (ContainerCreating,
// CrashLoopBackOff), Running, Terminating (being stopped) and Terminated
// (Completed, Error, OOMKilled, Unhealthy, StartError). A container is
// ready when it is running, started (startup probe passed, or none) and
// readiness-success (or has no readiness probe); an instance is ready when
// every container is.
//
// # Restart policy and back-off (restart.go)
//
// Always restarts after any end; OnFailure after a non-zero exit, a
// signal, OOM, a start error or a liveness/startup kill; Never never. The
// n-th restart of a streak waits 0, 0, Initial, 2×Initial, ... capped at
// Max: 0, 0, 10s, 20s, 40s, 80s, 160s, 300s, ... by default (the
// kubelet's numbers, see ../shared/reference/kubelet-probes.md). A
// container that ran longer than 2×Max (10 min by default) starts a new
// streak. No jitter. See Backoff for how this relates to the kubelet code.
//
// # Ownership and concurrency
//
// Each instance has one goroutine (instance.run) that owns the pod, the
// container slots, probe handles and readiness. Everything else talks to
// it through its mailbox (ProbeChanged, exits forwarded from
// runtime.Wait, Kill/Pause calls), so ProbeChanged never blocks and may be
// called from a prober listener. Exits and probe results carry the
// generation of the container they are about (a slot counts its
// containers); one about a replaced container is dropped. Readers get immutable snapshots
// (Status). Scheduler fields are guarded by Scheduler.mu as commented.
// Run's goroutine alone creates instances (reconcile). At most
// maxCreating instances create their pod or start their containers at
// once; the others wait in Creating, and a cancelled context (teardown,
// scale-down) ends the wait, so a large scale-up stops promptly.
//
// # Wiring (for cmd/easlocal)
//
//	epSet := endpoints.New()                       // *endpoints.Set is an Endpoints
//	evlog := events.NewLog(1000)                   // also the control API's event log
//	l := &scheduler.ProbeListener{}
//	pm := prober.NewManager(prober.Options{Listener: l, Logger: log})
//	s := scheduler.New(rt, scheduler.ProberManager{M: pm}, epSet, scheduler.Options{
//		Service: svc, Instances: n, RestartPolicy: policy,
//		BackoffInitial: bi, BackoffMax: bm, StopGrace: grace,
//		Mounts: mounts, Output: prefixWriter, Events: evlog, Logger: log,
//	})
//	l.Bind(s)
//	go s.Run(ctx)               // returns after teardown once ctx is cancelled
//	err := s.WaitReady(waitCtx) // `up -d`: *NotReadyError says who is stuck and why
//
// Run does not call runtime.Cleanup: call it first if leftovers of a
// crashed run must go.
package scheduler
