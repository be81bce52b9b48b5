// Package scheduler keeps the N instances of one service alive: it creates
// each instance's pod (network namespace + IP) and containers through
// runtime.Interface, starts their probes through a Prober, acts on probe
// outcomes and exits (restart per policy, crash-loop back-off), and keeps
// the Endpoints set to exactly the ready instances.
//
// # What it owns
//
//   - restart.go: the pure restart decision (RestartPolicy, Backoff,
//     Decide, BlockCrash). Inputs in, action + delay + reason out; no
//     clock, no I/O.
//   - terminate.go: Termination, the one rule by which every container
//     is stopped.
//   - revision.go: a revision of the service spec (Run makes the first,
//     an update the next) and what its instances need.
//   - rolling.go: the pure rolling-update decision (ResolveRollLimits,
//     Roll): given old/new/ready counts and the strategy, what now.
//   - update.go: Update/Restart/UpdateStatus and reconcile, which plays
//     Roll on Run's goroutine for scaling and updates alike.
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
//	   │ removed, Termination  │
//	   │ rule (below)          │
//	   ▼                       │
//	Decide(policy, back-off) ──┤ Restart, delay 0
//	   │            │          │
//	   │ Restart,   │    ┌─────┴────────────┐
//	   │ delay > 0  └───►│ CrashLoopBackOff │ BackOff event; timer
//	   │                 └──────────────────┘
//	   │ Stay (policy, or a crash under crash block)
//	   ▼
//	Stopped (every container exited 0) │ Failed (one failed)
//	(a container that stays stopped while others run: Running, unready)
//
//	ctx cancelled (Run ends), scale-down or replaced by an update, from
//	any state: Terminating: endpoint removed FIRST, probes stopped,
//	containers stopped in parallel by the Termination rule, pod removed
//	→ Stopped, and the instance leaves Status (its container names stay
//	known to Container, so its logs stay readable until Run ends).
//
// # Termination (terminate.go)
//
// Every stop follows EAS: the endpoint is removed first (no new request
// reaches the instance; requests in flight go on), then the grace period
// (eas.termination_grace_period, default 30s, or --stop-grace) runs. With
// rpc.enable_sigterm false, EAS's default, the process gets no signal at
// all and is SIGKILLed when the grace period ends; with true it gets
// SIGTERM at once and SIGKILL at the end if still running. Liveness and
// startup kills use the same rule (the kubelet kills those with the pod's
// grace period too), so with the defaults a container whose liveness
// fails is restarted 30s later. Events: Terminating (why, the grace
// period, whether SIGTERM is sent), then Exited (ended within the grace
// period) or Killed (SIGKILL at its end), each with the time taken.
//
// # Crash block
//
// With runtime.enable_crash_block a container that ends on its own with
// a failure (non-zero code, signal, OOM) is not restarted whatever the
// policy: the instance stays Failed, not ready, out of the endpoints,
// with its exit and logs, until Run ends or an update replaces it
// (CrashBlocked event). Probe kills and exit 0 are not crashes.
//
// Per container slot the states are Waiting (ContainerCreating,
// CrashLoopBackOff), Running, Terminating (being stopped) and Terminated
// (Completed, Error, OOMKilled, Unhealthy, StartError). A container is
// ready when it is running, started (startup probe passed, or none) and
// readiness-success (or has no readiness probe); an instance is ready when
// every container is.
//
// # Rolling updates (rolling.go, update.go)
//
// Update makes a new revision current (images pulled first). Run's
// goroutine then, on every status change, counts the old and new
// instances that are not terminating and acts on Roll: start new ones
// while old+new < desired+max_surge, stop old ones (not ready ones first)
// while the ready count stays >= desired-max_unavailable; done when every
// instance is new and ready. Instances being terminated are not counted,
// as in a Kubernetes Deployment. A new instance that is not ready within
// UpdateSpec.Timeout, or whose container fails (a crash, a start error, a
// probe kill), pauses the update: nothing more is started or stopped, the
// instance is held out of the endpoints whatever its probes say, and the
// next Update stops it first. New instances take the lowest free ordinal,
// so after an update the names go on (demo-3, demo-4, ...). Scaling is
// the same decision without old instances.
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
//		BackoffInitial: bi, BackoffMax: bm, Termination: term, CrashBlock: cb,
//		Mounts: mounts, Output: prefixWriter, Events: evlog, Logger: log,
//	})
//	l.Bind(s)
//	go s.Run(ctx)               // returns after teardown once ctx is cancelled
//	err := s.WaitReady(waitCtx) // `up -d`: *NotReadyError says who is stuck and why
//
// Run does not call runtime.Cleanup: call it first if leftovers of a
// crashed run must go.
package scheduler
