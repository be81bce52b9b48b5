// Package prober runs a container's liveness, readiness and startup probes
// (http_get, tcp_socket, exec) exactly as the kubelet does, and reports
// published results and Kubernetes-style events. It owns probe timing,
// thresholds, startup gating, the immediate readiness check and the
// checkers themselves; it does not restart anything (the scheduler does),
// and it does not import the runtime: exec probes go through a function.
//
// # API for the scheduler
//
//	m := prober.NewManager(prober.Options{Logger: log, Listener: l})
//	// for every container started (every restart too):
//	c := m.Start(ctx, prober.Target{
//		Instance: "demo-0", Container: "c0",
//		Host:    pod.IP,            // probes connect to it from the host
//		Started: container.Started, // initial_delay_seconds counts from here
//		Generation: n,              // echoed in results: drop those of replaced containers
//		Exec: func(ctx context.Context, args []string, timeout time.Duration) (int, []byte, error) {
//			res, err := rt.Exec(ctx, container, args, timeout)
//			if err != nil {
//				return -1, nil, err // could not run: retried, then discarded
//			}
//			if res.TimedOut {
//				return res.ExitCode, res.Output, prober.ErrExecTimedOut
//			}
//			return res.ExitCode, res.Output, nil
//		},
//	}, prober.Specs{Liveness: spec.LivenessCheck, Readiness: spec.HealthCheck, Startup: spec.StartupCheck})
//	live, ready, started := c.State() // kubelet initial values right after Start
//	...
//	c.Stop() // container exited or is being replaced: before the next Start
//
// Listener.ProbeChanged gets each change of a published result
// (Transition: instance, container, Target.Generation, kind, new and
// previous result, the probe output, time); Start's initial values are
// not sent as transitions. Kinds are service.ProbeKind. Listener.ProbeEvent
// gets the kubelet's events (an events.Event, with the kind and
// generation), one per probe run that deserves one (they are not
// aggregated):
//
//	Warning Unhealthy    "Liveness probe failed: HTTP probe failed with statuscode: 500"
//	Warning Unhealthy    "Readiness probe failed: dial tcp 10.213.0.5:8000: connect: connection refused"
//	Warning Unhealthy    "Liveness probe failed: command \"sleep 5\" timed out"
//	Warning Unhealthy    "Startup probe errored and resulted in unknown state: <error>"
//	Warning ProbeWarning "Readiness probe warning: Probe terminated redirects, Response body: ..."
//
// What the scheduler does with results: liveness or startup Failure = kill
// and restart the container (the worker holds until a new Start); the
// instance is an endpoint while every container runs, started is Success
// and ready is Success. Manager.Stats gives counters and duration
// histograms per kind and outcome (successful, failed, unknown) for metrics.
//
// Manager.Observations gives, per instance and container (outliving
// restarts), what package advise needs: how long after the container's
// start each kind first succeeded and how many runs failed before, how
// many containers a liveness or startup probe killed before they ever
// passed it, timed-out runs, and run-time percentiles over the last
// LatencyWindow runs (observe.go; guarded by one mutex, written by the
// workers).
//
// # Worker lifecycle (one goroutine per container and configured kind)
//
//	Start ──► probe at once ──► wait for tick / readiness trigger ──► probe ...
//	              │ skipped while initial delay not passed (from Target.Started)
//	              │ skipped (liveness, readiness) until startup published Success
//	              ▼
//	   consecutive equal results ≥ threshold ──► publish (Transition if changed)
//	              │
//	   liveness Failure, startup Success or Failure ──► worker exits (holds)
//	   Stop or Start's ctx cancelled ──► worker exits; a probe in flight is dropped
//
// Ownership: each worker goroutine owns its streak counters; the published
// results live in Container, guarded by Container.mu; the readiness
// trigger channel is written by any worker (non-blocking) and read by the
// readiness worker. Stop cancels the context and waits for every worker,
// so no Listener call for the container happens after Stop returns; hence
// a Listener must not call Stop of the same container synchronously.
//
// # Behaviour (kubelet pkg/kubelet/prober and pkg/probe)
//
//   - Initial results of a new container: liveness Success, readiness
//     Failure, startup Unknown; a kind without a probe is Success.
//   - Ticks that fall due during a slow probe are dropped, not queued: the
//     next probe follows at once.
//   - Published results change only when failure_threshold failures or
//     success_threshold successes follow each other. Zero timing fields
//     mean the Kubernetes defaults (period 10, timeout 1, success 1,
//     failure 3, delay 0). Values are applied as given: a liveness
//     success_threshold above 1 (EAS allows it, Kubernetes rejects it) has
//     no effect since liveness holds after Failure; on startup it delays
//     "started".
//   - Readiness runs at once, outside its ticker (which then restarts from
//     that run), whenever a published result of the container changes
//     while it is started and not ready: on startup success and on
//     becoming not ready, as a kubelet pod sync triggers it.
//   - A probe that cannot be run (exec cannot start, no IP, bad port, a
//     failed body read) is tried 3 times at once, then discarded with an
//     "errored" event: neither success nor failure, the streak goes on.
//   - http_get: GET http://Host:port/path from the host with User-Agent
//     kube-probe/1.33 (DefaultUserAgent) and Accept */*, a new connection
//     per probe (keep-alive off, closed with a FIN as the kubelet's
//     SO_LINGER 1 s closes it, no proxy, no gzip), the timeout covering
//     the whole exchange; 200–299 success, 300–399 final
//     success with ProbeWarning, else failure (body never in the message);
//     redirects to the same host name followed while fewer than 10
//     requests were made (to https without a certificate check), to
//     another host not followed (the 3xx is final); 1xx answers skipped;
//     at most 10 KiB of body read. The request is written and the answer
//     read on the connection itself (httpget.go), byte for byte as
//     net/http's Client with the kubelet's transport would: the tests
//     hold it to that Client.
//   - tcp_socket: connect within the timeout, then close (FIN).
//   - exec: Target.Exec with the timeout; exit 0 success, other exit codes
//     failure with the output (10 KiB), ErrExecTimedOut failure with
//     `command "<args>" timed out`.
//
// # Known differences from the kubelet
//
//   - First probe: readiness at Start; liveness and startup at the next
//     tick of a ticker started at Target.Admitted (the pod's admission),
//     0 to one period after the start, as the kubelet's workers tick. The
//     kubelet adds random jitter after a kubelet restart and also waits
//     for its status to see the container running (PLEG, up to a
//     second); neither applies here. Without Admitted every kind runs at
//     Start.
//   - Restarts: easlocal starts fresh workers, so the consecutive-result
//     streak starts at 0; the kubelet keeps one worker per container name
//     and only clears the hold, so a readiness streak can carry over.
//   - Readiness trigger: the kubelet also triggers it on its periodic pod
//     resync (every minute) and container state changes; easlocal only on
//     result changes (and at Start).
//   - A container that is not running: the kubelet publishes readiness
//     Failure; here the scheduler calls Stop and must treat it as not ready
//     (no transition is sent). On pod deletion the kubelet sets liveness and
//     startup to Success and keeps readiness running; here the scheduler
//     removes the endpoint and calls Stop.
//   - Exec timeouts: the kubelet lets the runtime run for timeout + 2 min
//     before giving up on it; easlocal for timeout + ExecGrace (10 s).
//   - Stats: discarded runs count as "unknown" and failed runs' durations
//     are recorded (the kubelet skips both); series are per kind and
//     outcome, not per pod and container.
//   - Not supported because service.json has no field for them: https
//     scheme, custom headers and Host, named ports, gRPC probes. A
//     redirect to https speaks HTTP/1.1; the kubelet's transport may
//     negotiate HTTP/2 there.
//   - Events are delivered one by one; the kubelet's recorder aggregates
//     repeats ("x3 over 3s").
package prober
